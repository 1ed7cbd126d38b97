"""Policy's management RPCs: commands and queries any policy replica may answer.

Each request names the result it answers with (`Reply`); any request may also answer with a
`Failure`. Requests carry the caller (`Actor`) that ingest authenticated.
"""

from typing import Annotated, Any, ClassVar, Literal
from uuid import UUID

from pydantic import BaseModel, EmailStr, Field

from versioner.common.messages.actor import Actor
from versioner.common.resources import (
    ApiKeyCreated,
    ApiKeyPublic,
    DeploymentPublic,
    Done,
    EnvironmentPublic,
    EnvironmentType,
    EventStatus,
    Page,
    ProductPublic,
    StateView,
    TokenIssued,
    UserInvited,
    UserPublic,
    VersionPublic,
)
from versioner.common.roles import Permission, Role
from versioner.common.status import Status
from versioner.common.types import Name, UtcDatetime

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


class Pong(BaseModel):
    """Policy is alive and its database answers."""

    kind: Literal["pong"] = "pong"
    at: UtcDatetime


class Authenticated(BaseModel):
    """A credential policy recognises, and who it stands for."""

    kind: Literal["authenticated"] = "authenticated"
    actor: Actor
    # The credential's id, so a broadcast can name what to forget (a token or key row).
    credential_id: UUID


class _Request(BaseModel):
    Reply: ClassVar[type[BaseModel]] = Done
    # What the caller's role must allow; None: any caller (the handler decides).
    permission: ClassVar[Permission | None] = Permission.READ
    actor: Actor


class _Paged(_Request):
    limit: int = Field(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)
    before: UUID | None = None


class Ping(_Request):
    """Is policy there, with its database?"""

    Reply = Pong
    permission = None
    kind: Literal["ping"] = "ping"


class Authenticate(_Request):
    """Who does this bearer token stand for? (ingest caches the answer up to 60 s)."""

    Reply = Authenticated
    permission = None
    kind: Literal["authenticate"] = "authenticate"
    token: str = Field(max_length=512)


class NoteEventQueued(_Request):
    """An event was answered 202: remember it as queued until its lane gets to it."""

    permission = Permission.SEND_EVENTS
    kind: Literal["note_event_queued"] = "note_event_queued"
    event_id: UUID
    event_kind: Literal["build", "deployment"]
    received_at: UtcDatetime


class GetEvent(_Request):
    """What became of an event."""

    Reply = EventStatus
    kind: Literal["get_event"] = "get_event"
    event_id: UUID


class ListProducts(_Paged):
    """Every product, newest first."""

    Reply = Page[ProductPublic]
    kind: Literal["list_products"] = "list_products"


class GetProduct(_Request):
    """A product by id or by any name it has had."""

    Reply = ProductPublic
    kind: Literal["get_product"] = "get_product"
    ref: str


class UpdateProduct(_Request):
    """Rename or describe a product; `None` leaves a field as it is."""

    Reply = ProductPublic
    permission = Permission.EDIT_PRODUCTS
    kind: Literal["update_product"] = "update_product"
    product_id: UUID
    name: Name | None = None
    description: str | None = Field(default=None, max_length=10_000)
    metadata: dict[str, Any] | None = None


class ListEnvironments(_Paged):
    """Every environment, newest first."""

    Reply = Page[EnvironmentPublic]
    kind: Literal["list_environments"] = "list_environments"
    type: EnvironmentType | None = None


class GetEnvironment(_Request):
    """An environment by id or by any name it has had."""

    Reply = EnvironmentPublic
    kind: Literal["get_environment"] = "get_environment"
    ref: str


class UpdateEnvironment(_Request):
    """Rename, retype or describe an environment; `None` leaves a field as it is."""

    Reply = EnvironmentPublic
    permission = Permission.EDIT_ENVIRONMENTS
    kind: Literal["update_environment"] = "update_environment"
    environment_id: UUID
    name: Name | None = None
    type: EnvironmentType | None = None
    description: str | None = Field(default=None, max_length=10_000)
    metadata: dict[str, Any] | None = None


class ListVersions(_Paged):
    """Versions, newest first, by product name and SHA."""

    Reply = Page[VersionPublic]
    kind: Literal["list_versions"] = "list_versions"
    product: str | None = None
    scm_sha: str | None = None


class GetVersion(_Request):
    """A version by id."""

    Reply = VersionPublic
    kind: Literal["get_version"] = "get_version"
    version_id: UUID


class ListDeployments(_Paged):
    """Deployments, newest first."""

    Reply = Page[DeploymentPublic]
    kind: Literal["list_deployments"] = "list_deployments"
    product: str | None = None
    environment: str | None = None
    status: Status | None = None


class GetDeployment(_Request):
    """A deployment by id."""

    Reply = DeploymentPublic
    kind: Literal["get_deployment"] = "get_deployment"
    deployment_id: UUID


class AbortDeployment(_Request):
    """Close a started deployment as aborted, so it stops blocking its environment."""

    Reply = DeploymentPublic
    permission = Permission.SEND_EVENTS
    kind: Literal["abort_deployment"] = "abort_deployment"
    deployment_id: UUID


class GetState(_Request):
    """The state matrix, narrowed to some products and environments."""

    Reply = StateView
    kind: Literal["get_state"] = "get_state"
    products: list[str] = Field(default_factory=list)
    environments: list[str] = Field(default_factory=list)


class CreateUser(_Request):
    """Invite a user: they redeem the invite for a personal token."""

    Reply = UserInvited
    permission = Permission.MANAGE_USERS
    kind: Literal["create_user"] = "create_user"
    name: Name
    email: EmailStr | None = None
    role: Role
    slack_user_id: str | None = Field(default=None, max_length=64)


class ListUsers(_Paged):
    """Every user."""

    Reply = Page[UserPublic]
    permission = Permission.MANAGE_USERS
    kind: Literal["list_users"] = "list_users"


class GetUser(_Request):
    """One user (the caller, for `/users/me`)."""

    Reply = UserPublic
    permission = None
    kind: Literal["get_user"] = "get_user"
    user_id: UUID


class UpdateUser(_Request):
    """Change a user's role, email, Slack id or activity; `None` leaves a field as it is."""

    Reply = UserPublic
    permission = Permission.MANAGE_USERS
    kind: Literal["update_user"] = "update_user"
    user_id: UUID
    role: Role | None = None
    email: EmailStr | None = None
    slack_user_id: str | None = Field(default=None, max_length=64)
    active: bool | None = None


class RedeemInvite(_Request):
    """Trade a one-time invite for a personal token."""

    Reply = TokenIssued
    permission = None
    kind: Literal["redeem_invite"] = "redeem_invite"
    invite_token: str = Field(max_length=512)


class RotateToken(_Request):
    """Replace the caller's personal token."""

    Reply = TokenIssued
    permission = None
    kind: Literal["rotate_token"] = "rotate_token"


class CreateApiKey(_Request):
    """A new API key for CI."""

    Reply = ApiKeyCreated
    permission = Permission.MANAGE_USERS
    kind: Literal["create_api_key"] = "create_api_key"
    name: Name


class ListApiKeys(_Paged):
    """Every API key, without secrets."""

    Reply = Page[ApiKeyPublic]
    permission = Permission.LIST_API_KEYS
    kind: Literal["list_api_keys"] = "list_api_keys"


class RevokeApiKey(_Request):
    """Revoke an API key at once."""

    Reply = ApiKeyPublic
    permission = Permission.MANAGE_USERS
    kind: Literal["revoke_api_key"] = "revoke_api_key"
    key_id: UUID


ManagementRequest = Annotated[
    Ping
    | Authenticate
    | NoteEventQueued
    | GetEvent
    | ListProducts
    | GetProduct
    | UpdateProduct
    | ListEnvironments
    | GetEnvironment
    | UpdateEnvironment
    | ListVersions
    | GetVersion
    | ListDeployments
    | GetDeployment
    | AbortDeployment
    | GetState
    | CreateUser
    | ListUsers
    | GetUser
    | UpdateUser
    | RedeemInvite
    | RotateToken
    | CreateApiKey
    | ListApiKeys
    | RevokeApiKey,
    Field(discriminator="kind"),
]
