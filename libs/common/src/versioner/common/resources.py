"""Records as the API shows them: HTTP response bodies and RPC results alike."""

from typing import Any, Generic, Literal, TypeVar
from uuid import UUID

from pydantic import BaseModel, Field

from versioner.common.roles import Role
from versioner.common.status import Status
from versioner.common.types import UtcDatetime

EnvironmentType = Literal["dev", "test", "staging", "production"]
# What became of an event answered 202, and which kind of event it was.
EventState = Literal["queued", "recorded", "rejected"]
EventKind = Literal["build", "deployment"]
ENVIRONMENT_TYPE_ORDER: dict[str, int] = {"dev": 0, "test": 1, "staging": 2, "production": 3}

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """One page of a list, newest first, and how many there are in all."""

    kind: Literal["page"] = "page"
    items: list[T]
    total: int


class ProductPublic(BaseModel):
    """A product: usually one repository's deployable output."""

    kind: Literal["product"] = "product"
    id: UUID
    name: str
    description: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    previous_names: list[str] = Field(default_factory=list)
    created_at: UtcDatetime
    updated_at: UtcDatetime


class EnvironmentPublic(BaseModel):
    """A place a product is deployed to."""

    kind: Literal["environment"] = "environment"
    id: UUID
    name: str
    type: EnvironmentType
    description: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    previous_names: list[str] = Field(default_factory=list)
    created_at: UtcDatetime
    updated_at: UtcDatetime


class VersionPublic(BaseModel):
    """A version of a product; `registered` once a completed build pinned its SHA."""

    kind: Literal["version"] = "version"
    id: UUID
    product_id: UUID
    product_name: str
    version: str
    scm_sha: str | None = None
    scm_repository: str | None = None
    scm_branch: str | None = None
    build_number: str | None = None
    build_url: str | None = None
    registered: bool
    registered_at: UtcDatetime | None = None
    created_at: UtcDatetime


class BuildPublic(BaseModel):
    """A build of a version, as `POST /build-events/` answers it."""

    kind: Literal["build"] = "build"
    id: UUID
    version_id: UUID
    product_id: UUID
    product_name: str
    version: str
    status: Status
    scm_sha: str | None = None
    scm_repository: str | None = None
    scm_branch: str | None = None
    build_number: str | None = None
    build_url: str | None = None
    source_system: str | None = None
    invoke_id: str | None = None
    built_by: str | None = None
    built_by_email: str | None = None
    built_by_name: str | None = None
    error_message: str | None = None
    error_code: str | None = None
    started_at: UtcDatetime | None = None
    completed_at: UtcDatetime | None = None
    created_at: UtcDatetime
    updated_at: UtcDatetime


class DeploymentPublic(BaseModel):
    """A deployment of one version of a product to one environment."""

    kind: Literal["deployment"] = "deployment"
    id: UUID
    product_id: UUID
    version_id: UUID
    environment_id: UUID
    product_name: str
    version: str
    environment_name: str
    status: Status
    deployed_at: UtcDatetime
    deployed_by: str | None = None
    deployed_by_email: str | None = None
    deployed_by_name: str | None = None
    completed_at: UtcDatetime | None = None
    finished_at: UtcDatetime | None = None
    deploy_url: str | None = None
    scm_sha: str | None = None
    build_number: str | None = None
    source_system: str | None = None
    invoke_id: str | None = None
    sha_mismatch: bool = False
    abort_reason: str | None = None
    soak_time_hours: float | None = None
    extra_metadata: dict[str, Any] = Field(default_factory=dict)


class EventStatus(BaseModel):
    """`GET /events/{event_id}`: what became of an event answered 202."""

    kind: Literal["event_status"] = "event_status"
    event_id: UUID
    status: EventState
    event_kind: EventKind | None = None
    product_id: UUID | None = None
    version_id: UUID | None = None
    environment_id: UUID | None = None
    record_id: UUID | None = None
    detail: Any = None


class StateEnvironment(BaseModel):
    """A column of the state matrix."""

    name: str
    type: EnvironmentType


class LatestAttempt(BaseModel):
    """A later deployment than the cell's completed one that started, failed or aborted."""

    version: str
    status: Status
    deployment_id: UUID


class StateCell(BaseModel):
    """What runs in one environment: the last completed deployment."""

    version: str | None
    deployment_id: UUID | None
    deployed_at: UtcDatetime | None
    deployed_by: str | None
    status: Status | None
    latest: LatestAttempt | None = None


class StateRow(BaseModel):
    """A product's row of the state matrix."""

    product: str
    product_id: UUID
    drift: bool
    cells: dict[str, StateCell]


class StateView(BaseModel):
    """`GET /state/`: products × environments."""

    kind: Literal["state"] = "state"
    environments: list[StateEnvironment]
    products: list[StateRow]


class UserPublic(BaseModel):
    """A person with a role."""

    kind: Literal["user"] = "user"
    id: UUID
    name: str
    email: str | None = None
    role: Role
    slack_user_id: str | None = None
    active: bool
    created_at: UtcDatetime
    updated_at: UtcDatetime


class UserInvited(UserPublic):
    """A new user and the one-time invite token to hand them."""

    kind: Literal["user_invited"] = "user_invited"  # type: ignore[assignment]
    invite_token: str
    invite_expires_at: UtcDatetime


class TokenIssued(BaseModel):
    """A personal token, shown once."""

    kind: Literal["token"] = "token"
    token: str


class ApiKeyPublic(BaseModel):
    """An API key as listed: never its secret."""

    kind: Literal["api_key"] = "api_key"
    id: UUID
    name: str
    prefix: str
    created_by: str | None = None
    created_at: UtcDatetime
    last_used_at: UtcDatetime | None = None
    revoked_at: UtcDatetime | None = None


class ApiKeyCreated(BaseModel):
    """A new API key, shown this once."""

    kind: Literal["api_key_created"] = "api_key_created"
    id: UUID
    name: str
    key: str
    created_at: UtcDatetime


class Done(BaseModel):
    """A command with nothing to show."""

    kind: Literal["done"] = "done"
