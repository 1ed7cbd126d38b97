"""Policy's management RPCs: commands and queries any policy replica may answer.

Each request's type parameter is the result it answers with (`ManagementCall[Reply]`); any
request may also answer with a `Failure`. Requests carry the caller (`Actor`) that ingest
authenticated.
"""

from typing import Annotated, Any, ClassVar, Generic, Literal
from uuid import UUID

from pydantic import BaseModel, Field

from versioner.common.governance import (
    AuditEntryPublic,
    DeploymentRequestPublic,
    RequestItemIn,
    RequestStatus,
    SlotIn,
    VersionApprovalPublic,
    ViolationPublic,
)
from versioner.common.messages.actor import Actor
from versioner.common.messages.domain import SlackOrigin
from versioner.common.messages.rpc import ReplyT_co, Rpc
from versioner.common.notifications import FireAccepted, TemplateVariables
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
from versioner.common.roles import ApprovalType, Permission, Role
from versioner.common.rules import RuleMode, RulePublic, RuleType, WindowsPreview
from versioner.common.slack_actions import ApproveAction, FireAction, SlotAction
from versioner.common.status import Status
from versioner.common.types import Email, Name, UtcDatetime

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


class ManagementCall(Rpc[ReplyT_co], Generic[ReplyT_co]):
    """A management request, typed by its reply: `ManagementCall[Reply]`."""

    # What the caller's role must allow; None: any caller (the handler decides).
    permission: ClassVar[Permission | None] = Permission.READ


class _Paged(ManagementCall[ReplyT_co], Generic[ReplyT_co]):
    limit: int = Field(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)
    before: UUID | None = None


class Ping(ManagementCall[Pong]):
    """Is policy there, with its database?"""

    permission = None
    kind: Literal["ping"] = "ping"


class Authenticate(ManagementCall[Authenticated]):
    """Who does this bearer token stand for? (ingest caches the answer up to 60 s)."""

    permission = None
    kind: Literal["authenticate"] = "authenticate"
    token: str = Field(max_length=512)


class QueuedEvent(BaseModel):
    """An event answered 202, and who sent it (ingest checked that they may send events)."""

    event_id: UUID
    event_kind: Literal["build", "deployment"]
    sender_id: UUID | None
    received_at: UtcDatetime


# Events noted in one message at most.
MAX_QUEUED_NOTES = 500


class NoteEventsQueued(ManagementCall[Done]):
    """Events answered 202: remember each as queued until its lane records it.

    Ingest notes every event it answered 202 at about the same moment in one message (one
    transaction in policy; under load that is most facts, issue 8), as the system: each
    event's sender is in its note.
    """

    permission = Permission.SEND_EVENTS
    kind: Literal["note_events_queued"] = "note_events_queued"
    events: list[QueuedEvent] = Field(min_length=1, max_length=MAX_QUEUED_NOTES)


class GetEvent(ManagementCall[EventStatus]):
    """What became of an event."""

    kind: Literal["get_event"] = "get_event"
    event_id: UUID


class ListProducts(_Paged[Page[ProductPublic]]):
    """Every product, newest first."""

    kind: Literal["list_products"] = "list_products"


class GetProduct(ManagementCall[ProductPublic]):
    """A product by id or by any name it has had."""

    kind: Literal["get_product"] = "get_product"
    ref: str


class UpdateProduct(ManagementCall[ProductPublic]):
    """Rename or describe a product; `None` leaves a field as it is."""

    permission = Permission.EDIT_PRODUCTS
    kind: Literal["update_product"] = "update_product"
    product_id: UUID
    name: Name | None = None
    description: str | None = Field(default=None, max_length=10_000)
    metadata: dict[str, Any] | None = None


class ListEnvironments(_Paged[Page[EnvironmentPublic]]):
    """Every environment, newest first."""

    kind: Literal["list_environments"] = "list_environments"
    type: EnvironmentType | None = None


class GetEnvironment(ManagementCall[EnvironmentPublic]):
    """An environment by id or by any name it has had."""

    kind: Literal["get_environment"] = "get_environment"
    ref: str


class UpdateEnvironment(ManagementCall[EnvironmentPublic]):
    """Rename, retype or describe an environment; `None` leaves a field as it is."""

    permission = Permission.EDIT_ENVIRONMENTS
    kind: Literal["update_environment"] = "update_environment"
    environment_id: UUID
    name: Name | None = None
    type: EnvironmentType | None = None
    description: str | None = Field(default=None, max_length=10_000)
    metadata: dict[str, Any] | None = None


class ListVersions(_Paged[Page[VersionPublic]]):
    """Versions, newest first, by product name and SHA."""

    kind: Literal["list_versions"] = "list_versions"
    product: str | None = None
    scm_sha: str | None = None


class GetVersion(ManagementCall[VersionPublic]):
    """A version by id."""

    kind: Literal["get_version"] = "get_version"
    version_id: UUID


class ListDeployments(_Paged[Page[DeploymentPublic]]):
    """Deployments, newest first."""

    kind: Literal["list_deployments"] = "list_deployments"
    product: str | None = None
    environment: str | None = None
    status: Status | None = None


class GetDeployment(ManagementCall[DeploymentPublic]):
    """A deployment by id."""

    kind: Literal["get_deployment"] = "get_deployment"
    deployment_id: UUID


class AbortDeployment(ManagementCall[DeploymentPublic]):
    """Close a started deployment as aborted, so it stops blocking its environment."""

    permission = Permission.SEND_EVENTS
    kind: Literal["abort_deployment"] = "abort_deployment"
    deployment_id: UUID


class GetState(ManagementCall[StateView]):
    """The state matrix, narrowed to some products and environments."""

    kind: Literal["get_state"] = "get_state"
    products: list[str] = Field(default_factory=list)
    environments: list[str] = Field(default_factory=list)


class CreateUser(ManagementCall[UserInvited]):
    """Invite a user: they redeem the invite for a personal token."""

    permission = Permission.MANAGE_USERS
    kind: Literal["create_user"] = "create_user"
    name: Name
    email: Email | None = None
    role: Role
    slack_user_id: str | None = Field(default=None, max_length=64)


class ListUsers(_Paged[Page[UserPublic]]):
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


class ListApiKeys(_Paged[Page[ApiKeyPublic]]):
    """Every API key, without secrets."""

    permission = Permission.LIST_API_KEYS
    kind: Literal["list_api_keys"] = "list_api_keys"


class RevokeApiKey(ManagementCall[ApiKeyPublic]):
    """Revoke an API key at once."""

    permission = Permission.MANAGE_USERS
    kind: Literal["revoke_api_key"] = "revoke_api_key"
    key_id: UUID


class CreateRule(ManagementCall[RulePublic]):
    """A new Deployment Rule."""

    permission = Permission.MANAGE_RULES
    kind: Literal["create_rule"] = "create_rule"
    name: Name
    rule_type: RuleType
    mode: RuleMode = "enabled"
    products: list[Name] = Field(default_factory=list, max_length=500)
    environments: list[Name] = Field(default_factory=list, max_length=500)
    config: dict[str, Any]


class ListRules(_Paged[Page[RulePublic]]):
    """Every Deployment Rule, newest first."""

    kind: Literal["list_rules"] = "list_rules"


class GetRule(ManagementCall[RulePublic]):
    """One Deployment Rule."""

    kind: Literal["get_rule"] = "get_rule"
    rule_id: UUID


class UpdateRule(ManagementCall[RulePublic]):
    """Change a rule: its mode, name, scope or configuration; `None` leaves a field as it is."""

    permission = Permission.MANAGE_RULES
    kind: Literal["update_rule"] = "update_rule"
    rule_id: UUID
    name: Name | None = None
    mode: RuleMode | None = None
    products: list[Name] | None = Field(default=None, max_length=500)
    environments: list[Name] | None = Field(default=None, max_length=500)
    config: dict[str, Any] | None = None


class DeleteRule(ManagementCall[Done]):
    """Delete a rule."""

    permission = Permission.MANAGE_RULES
    kind: Literal["delete_rule"] = "delete_rule"
    rule_id: UUID


class PreviewWindows(ManagementCall[WindowsPreview]):
    """The next windows of a schedule rule, or of a schedule `config` not saved yet (a form
    being filled in)."""

    kind: Literal["preview_windows"] = "preview_windows"
    rule_id: UUID | None = None
    config: dict[str, Any] | None = None
    count: int = Field(default=10, ge=1, le=1000)


class ListViolations(ManagementCall[Page[ViolationPublic]]):
    """The violations log, newest first."""

    kind: Literal["list_violations"] = "list_violations"
    rule: str | None = None
    product: str | None = None
    environment: str | None = None
    since: UtcDatetime | None = None
    outcome: Literal["blocked", "reported", "overridden"] | None = None
    limit: int = Field(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)
    before: int | None = None


class CreateRequest(ManagementCall[DeploymentRequestPublic]):
    """A new Deployment Request, in draft."""

    permission = Permission.MANAGE_DRS
    kind: Literal["create_request"] = "create_request"
    name: Name
    description: str | None = Field(default=None, max_length=20_000)
    items: list[RequestItemIn] = Field(default_factory=list, max_length=200)
    environments: list[Name] = Field(default_factory=list, max_length=100)
    approval_slots: list[SlotIn] = Field(default_factory=list, max_length=50)
    pre_steps: list[Annotated[str, Field(min_length=1, max_length=2000)]] = Field(
        default_factory=list, max_length=100
    )
    post_steps: list[Annotated[str, Field(min_length=1, max_length=2000)]] = Field(
        default_factory=list, max_length=100
    )


class UpdateRequest(ManagementCall[DeploymentRequestPublic]):
    """Change a draft request; `None` leaves a field as it is."""

    permission = Permission.MANAGE_DRS
    kind: Literal["update_request"] = "update_request"
    request_id: UUID
    name: Name | None = None
    description: str | None = Field(default=None, max_length=20_000)
    items: list[RequestItemIn] | None = Field(default=None, max_length=200)
    environments: list[Name] | None = Field(default=None, max_length=100)
    approval_slots: list[SlotIn] | None = Field(default=None, max_length=50)
    pre_steps: list[Annotated[str, Field(min_length=1, max_length=2000)]] | None = Field(
        default=None, max_length=100
    )
    post_steps: list[Annotated[str, Field(min_length=1, max_length=2000)]] | None = Field(
        default=None, max_length=100
    )


class ListRequests(_Paged[Page[DeploymentRequestPublic]]):
    """Deployment Requests, newest first; `awaiting_me`: those with a slot the caller may decide."""

    kind: Literal["list_requests"] = "list_requests"
    status: RequestStatus | None = None
    awaiting_me: bool = False


class GetRequest(ManagementCall[DeploymentRequestPublic]):
    """One Deployment Request, with its progress."""

    kind: Literal["get_request"] = "get_request"
    request_id: UUID


class MoveRequest(ManagementCall[DeploymentRequestPublic]):
    """Submit, revert, complete or cancel a request."""

    permission = Permission.MANAGE_DRS
    kind: Literal["move_request"] = "move_request"
    request_id: UUID
    action: Literal["submit", "revert", "complete", "cancel"]


class DecideSlot(ManagementCall[DeploymentRequestPublic]):
    """Approve or reject one approval slot (a role that may fill its type; never the creator)."""

    permission = None
    kind: Literal["decide_slot"] = "decide_slot"
    request_id: UUID
    slot_id: UUID
    decision: Literal["approve", "reject"]
    comment: str | None = Field(default=None, max_length=5000)


class CompleteStep(ManagementCall[DeploymentRequestPublic]):
    """Tick a checklist step."""

    permission = Permission.MANAGE_DRS
    kind: Literal["complete_step"] = "complete_step"
    request_id: UUID
    step_id: UUID


class ApproveVersion(ManagementCall[VersionApprovalPublic]):
    """Sign off a version (by id, or by product and version names)."""

    permission = Permission.APPROVE_VERSIONS
    kind: Literal["approve_version"] = "approve_version"
    version_id: UUID | None = None
    product: str | None = None
    version: str | None = None
    approval_type: ApprovalType
    environment: Name | None = None
    comment: str | None = Field(default=None, max_length=5000)


class RevokeVersionApproval(ManagementCall[VersionApprovalPublic]):
    """Withdraw a sign-off."""

    permission = Permission.APPROVE_VERSIONS
    kind: Literal["revoke_version_approval"] = "revoke_version_approval"
    approval_id: UUID
    # The version the path names, by id or by product and version: the approval must be its own.
    version_id: UUID | None = None
    product: str | None = None
    version: str | None = None


class ListVersionApprovals(ManagementCall[Page[VersionApprovalPublic]]):
    """A version's sign-offs, newest first."""

    kind: Literal["list_version_approvals"] = "list_version_approvals"
    version_id: UUID | None = None
    product: str | None = None
    version: str | None = None


class ListAudit(ManagementCall[Page[AuditEntryPublic]]):
    """The audit log, newest first."""

    permission = Permission.READ_AUDIT
    kind: Literal["list_audit"] = "list_audit"
    since: UtcDatetime | None = None
    action: str | None = Field(default=None, max_length=64)
    # `?actor=` over HTTP; `actor` here is the caller, as on every request.
    by: str | None = Field(default=None, max_length=300)
    limit: int = Field(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)
    before: int | None = None


class HomeView(BaseModel):
    """Everything the dashboard's home page shows, in one answer."""

    kind: Literal["home_view"] = "home_view"
    state: StateView
    requests: list[DeploymentRequestPublic]
    deployments: list[DeploymentPublic]
    blocked: list[ViolationPublic]


class GetHome(ManagementCall[HomeView]):
    """The home page: the state matrix (narrowed), open requests, recent deployments, the
    violations of recent blocked attempts. One round trip instead of five."""

    kind: Literal["get_home"] = "get_home"
    products: list[str] = Field(default_factory=list)
    environments: list[str] = Field(default_factory=list)


class ResolveVariables(ManagementCall[TemplateVariables]):
    """The `{vi_*}` values of a product's version in an environment (to preview a button)."""

    kind: Literal["resolve_variables"] = "resolve_variables"
    product_id: UUID
    version: Name
    environment: Name


class AuthorizeFire(ManagementCall[FireAccepted]):
    """May this caller fire this webhook button for this version there? If so, hand the firing
    to the notifier (through the outbox, with the version's `{vi_*}` values)."""

    permission = Permission.FIRE_BUTTONS
    kind: Literal["authorize_fire"] = "authorize_fire"
    firing_id: UUID
    button_id: UUID
    product_id: UUID
    version: Name
    environment: Name
    origin: SlackOrigin | None = None


class HandleSlackAction(ManagementCall[Done]):
    """A click in Slack, its signature verified by ingest: map the Slack user, check the role,
    act once per (message, `action_ts`), and have the notifier answer in Slack."""

    permission = None
    kind: Literal["handle_slack_action"] = "handle_slack_action"
    action: FireAction | SlotAction | ApproveAction = Field(discriminator="kind")
    action_ts: str = Field(max_length=64)
    origin: SlackOrigin


ManagementRequest = Annotated[
    Ping
    | AuthorizeFire
    | ResolveVariables
    | GetHome
    | HandleSlackAction
    | Authenticate
    | NoteEventsQueued
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
    | RevokeApiKey
    | CreateRule
    | ListRules
    | GetRule
    | UpdateRule
    | DeleteRule
    | PreviewWindows
    | ListViolations
    | CreateRequest
    | UpdateRequest
    | ListRequests
    | GetRequest
    | MoveRequest
    | DecideSlot
    | CompleteStep
    | ApproveVersion
    | RevokeVersionApproval
    | ListVersionApprovals
    | ListAudit,
    Field(discriminator="kind"),
]
