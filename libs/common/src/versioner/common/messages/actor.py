"""Who is asking: carried on every request from ingest to policy."""

from typing import Literal
from uuid import UUID

from pydantic import BaseModel

from versioner.common.roles import API_KEY_PERMISSIONS, Permission, Role, role_may


class Actor(BaseModel):
    """A caller as ingest authenticated it: a user, an API key, the system, or nobody yet."""

    kind: Literal["user", "api_key", "system", "anonymous"]
    id: UUID | None = None
    name: str
    role: Role | None = None

    def may(self, permission: Permission) -> bool:
        """Whether this caller may do this (API.md role table)."""
        if self.kind == "system":
            return True
        if self.kind == "api_key":
            return permission in API_KEY_PERMISSIONS
        if self.kind == "anonymous":
            return False
        return self.role is not None and role_may(self.role, permission)

    @property
    def label(self) -> str:
        """How the audit log names this caller."""
        if self.kind == "system":
            return "system"
        return f"{self.kind}:{self.name}"


SYSTEM = Actor(kind="system", name="system")
ANONYMOUS = Actor(kind="anonymous", name="anonymous")
