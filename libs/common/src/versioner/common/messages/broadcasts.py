"""Messages every ingest replica hears."""

from typing import Literal
from uuid import UUID

from pydantic import BaseModel, Field


class CredentialsChanged(BaseModel):
    """Forget cached credentials: a token revoked, a role changed, a user deactivated."""

    kind: Literal["credentials_changed"] = "credentials_changed"
    credential_ids: list[UUID] = Field(default_factory=list)
    actor_ids: list[UUID] = Field(default_factory=list)
