"""Policy's management RPCs: commands and queries any policy replica may answer.

Each request names the result it answers with (`Reply`); any request may also answer with a
`Failure`. Requests carry the caller (`Actor`) that ingest authenticated.
"""

from typing import Annotated, Any, ClassVar, Literal
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


class QueuedEvent(BaseModel):
    """An event answered 202, and who sent it (ingest checked that they may send events)."""

    event_id: UUID
    event_kind: Literal["build", "deployment"]
    sender_id: UUID | None
    received_at: UtcDatetime


# Events noted in one message at most.
MAX_QUEUED_NOTES = 500


class NoteEventsQueued(_Request):
    """Events answered 202: remember each as queued until its lane records it.

    Ingest notes every event it answered 202 at about the same moment in one message (one
    transaction in policy; under load that is most facts, issue 8), as the system: each
    event's sender is in its note.
    """

    permission = Permission.SEND_EVENTS
    kind: Literal["note_events_queued"] = "note_events_queued"
    events: list[QueuedEvent] = Field(min_length=1, max_length=MAX_QUEUED_NOTES)


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
    email: Email | None = None
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
    email: Email | None = None
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


class CreateRule(_Request):
    """A new Deployment Rule."""

    Reply = RulePublic
    permission = Permission.MANAGE_RULES
    kind: Literal["create_rule"] = "create_rule"
    name: Name
    rule_type: RuleType
    mode: RuleMode = "enabled"
    products: list[Name] = Field(default_factory=list, max_length=500)
    environments: list[Name] = Field(default_factory=list, max_length=500)
    config: dict[str, Any]


class ListRules(_Paged):
    """Every Deployment Rule, newest first."""

    Reply = Page[RulePublic]
    kind: Literal["list_rules"] = "list_rules"


class GetRule(_Request):
    """One Deployment Rule."""

    Reply = RulePublic
    kind: Literal["get_rule"] = "get_rule"
    rule_id: UUID


class UpdateRule(_Request):
    """Change a rule: its mode, name, scope or configuration; `None` leaves a field as it is."""

    Reply = RulePublic
    permission = Permission.MANAGE_RULES
    kind: Literal["update_rule"] = "update_rule"
    rule_id: UUID
    name: Name | None = None
    mode: RuleMode | None = None
    products: list[Name] | None = Field(default=None, max_length=500)
    environments: list[Name] | None = Field(default=None, max_length=500)
    config: dict[str, Any] | None = None


class DeleteRule(_Request):
    """Delete a rule."""

    permission = Permission.MANAGE_RULES
    kind: Literal["delete_rule"] = "delete_rule"
    rule_id: UUID


class PreviewWindows(_Request):
    """The next windows of a schedule rule, or of a schedule `config` not saved yet (a form
    being filled in)."""

    Reply = WindowsPreview
    kind: Literal["preview_windows"] = "preview_windows"
    rule_id: UUID | None = None
    config: dict[str, Any] | None = None
    count: int = Field(default=10, ge=1, le=1000)


class ListViolations(_Request):
    """The violations log, newest first."""

    Reply = Page[ViolationPublic]
    kind: Literal["list_violations"] = "list_violations"
    rule: str | None = None
    product: str | None = None
    environment: str | None = None
    since: UtcDatetime | None = None
    outcome: Literal["blocked", "reported", "overridden"] | None = None
    limit: int = Field(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)
    before: int | None = None


class CreateRequest(_Request):
    """A new Deployment Request, in draft."""

    Reply = DeploymentRequestPublic
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


class UpdateRequest(_Request):
    """Change a draft request; `None` leaves a field as it is."""

    Reply = DeploymentRequestPublic
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


class ListRequests(_Paged):
    """Deployment Requests, newest first; `awaiting_me`: those with a slot the caller may decide."""

    Reply = Page[DeploymentRequestPublic]
    kind: Literal["list_requests"] = "list_requests"
    status: RequestStatus | None = None
    awaiting_me: bool = False


class GetRequest(_Request):
    """One Deployment Request, with its progress."""

    Reply = DeploymentRequestPublic
    kind: Literal["get_request"] = "get_request"
    request_id: UUID


class MoveRequest(_Request):
    """Submit, revert, complete or cancel a request."""

    Reply = DeploymentRequestPublic
    permission = Permission.MANAGE_DRS
    kind: Literal["move_request"] = "move_request"
    request_id: UUID
    action: Literal["submit", "revert", "complete", "cancel"]


class DecideSlot(_Request):
    """Approve or reject one approval slot (a role that may fill its type; never the creator)."""

    Reply = DeploymentRequestPublic
    permission = None
    kind: Literal["decide_slot"] = "decide_slot"
    request_id: UUID
    slot_id: UUID
    decision: Literal["approve", "reject"]
    comment: str | None = Field(default=None, max_length=5000)


class CompleteStep(_Request):
    """Tick a checklist step."""

    Reply = DeploymentRequestPublic
    permission = Permission.MANAGE_DRS
    kind: Literal["complete_step"] = "complete_step"
    request_id: UUID
    step_id: UUID


class ApproveVersion(_Request):
    """Sign off a version (by id, or by product and version names)."""

    Reply = VersionApprovalPublic
    permission = Permission.APPROVE_VERSIONS
    kind: Literal["approve_version"] = "approve_version"
    version_id: UUID | None = None
    product: str | None = None
    version: str | None = None
    approval_type: ApprovalType
    environment: Name | None = None
    comment: str | None = Field(default=None, max_length=5000)


class RevokeVersionApproval(_Request):
    """Withdraw a sign-off."""

    Reply = VersionApprovalPublic
    permission = Permission.APPROVE_VERSIONS
    kind: Literal["revoke_version_approval"] = "revoke_version_approval"
    approval_id: UUID
    # The version the path names, by id or by product and version: the approval must be its own.
    version_id: UUID | None = None
    product: str | None = None
    version: str | None = None


class ListVersionApprovals(_Request):
    """A version's sign-offs, newest first."""

    Reply = Page[VersionApprovalPublic]
    kind: Literal["list_version_approvals"] = "list_version_approvals"
    version_id: UUID | None = None
    product: str | None = None
    version: str | None = None


class ListAudit(_Request):
    """The audit log, newest first."""

    Reply = Page[AuditEntryPublic]
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


class GetHome(_Request):
    """The home page: the state matrix (narrowed), open requests, recent deployments, the
    violations of recent blocked attempts. One round trip instead of five."""

    Reply = HomeView
    kind: Literal["get_home"] = "get_home"
    products: list[str] = Field(default_factory=list)
    environments: list[str] = Field(default_factory=list)


class ResolveVariables(_Request):
    """The `{vi_*}` values of a product's version in an environment (to preview a button)."""

    Reply = TemplateVariables
    kind: Literal["resolve_variables"] = "resolve_variables"
    product_id: UUID
    version: Name
    environment: Name


class AuthorizeFire(_Request):
    """May this caller fire this webhook button for this version there? If so, hand the firing
    to the notifier (through the outbox, with the version's `{vi_*}` values)."""

    Reply = FireAccepted
    permission = Permission.FIRE_BUTTONS
    kind: Literal["authorize_fire"] = "authorize_fire"
    firing_id: UUID
    button_id: UUID
    product_id: UUID
    version: Name
    environment: Name
    origin: SlackOrigin | None = None


class HandleSlackAction(_Request):
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
