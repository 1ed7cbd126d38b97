"""Users, invitations, tokens and API keys; authenticating a credential."""

from typing import Literal
from uuid import UUID

from pydantic import BaseModel, Field

from versioner.common.messages.actor import Actor
from versioner.common.messages.management.base import ManagementCall, Paged
from versioner.common.resources import (
    ApiKeyCreated,
    ApiKeyPublic,
    Page,
    TokenIssued,
    UserInvited,
    UserPublic,
)
from versioner.common.roles import Permission, Role
from versioner.common.types import Email, Name


class Authenticated(BaseModel):
    """A credential policy recognises, and who it stands for."""

    kind: Literal["authenticated"] = "authenticated"
    actor: Actor
    # The credential's id, so a broadcast can name what to forget (a token or key row).
    credential_id: UUID


class Authenticate(ManagementCall[Authenticated]):
    """Who does this bearer token stand for? (ingest caches the answer up to 60 s)."""

    permission = None
    kind: Literal["authenticate"] = "authenticate"
    token: str = Field(max_length=512)


class CreateUser(ManagementCall[UserInvited]):
    """Invite a user: they redeem the invite for a personal token."""

    permission = Permission.MANAGE_USERS
    kind: Literal["create_user"] = "create_user"
    name: Name
    email: Email | None = None
    role: Role
    slack_user_id: str | None = Field(default=None, max_length=64)


class ListUsers(Paged[Page[UserPublic]]):
    """Every user."""

    permission = Permission.MANAGE_USERS
    kind: Literal["list_users"] = "list_users"


class GetUser(ManagementCall[UserPublic]):
    """One user (the caller, for `/users/me`)."""

    permission = None
    kind: Literal["get_user"] = "get_user"
    user_id: UUID


class UpdateUser(ManagementCall[UserPublic]):
    """Change a user's role, email, Slack id or activity; `None` leaves a field as it is."""

    permission = Permission.MANAGE_USERS
    kind: Literal["update_user"] = "update_user"
    user_id: UUID
    role: Role | None = None
    email: Email | None = None
    slack_user_id: str | None = Field(default=None, max_length=64)
    active: bool | None = None


class RedeemInvite(ManagementCall[TokenIssued]):
    """Trade a one-time invite for a personal token."""

    permission = None
    kind: Literal["redeem_invite"] = "redeem_invite"
    invite_token: str = Field(max_length=512)


class RotateToken(ManagementCall[TokenIssued]):
    """Replace the caller's personal token."""

    permission = None
    kind: Literal["rotate_token"] = "rotate_token"


class CreateApiKey(ManagementCall[ApiKeyCreated]):
    """A new API key for CI."""

    permission = Permission.MANAGE_USERS
    kind: Literal["create_api_key"] = "create_api_key"
    name: Name


class ListApiKeys(Paged[Page[ApiKeyPublic]]):
    """Every API key, without secrets."""

    permission = Permission.LIST_API_KEYS
    kind: Literal["list_api_keys"] = "list_api_keys"


class RevokeApiKey(ManagementCall[ApiKeyPublic]):
    """Revoke an API key at once."""

    permission = Permission.MANAGE_USERS
    kind: Literal["revoke_api_key"] = "revoke_api_key"
    key_id: UUID
