"""Typed shapes of what the API sends and answers (API.md), as plain dicts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, Literal, NotRequired, Required, TypedDict, TypeVar


class BuildEvent(TypedDict, total=False):
    """Body of `POST /build-events/`."""

    product_name: Required[str]
    version: Required[str]
    status: Required[str]
    scm_sha: str
    scm_repository: str
    scm_branch: str
    build_number: str
    build_url: str
    source_system: str
    invoke_id: str
    built_by: str
    built_by_email: str
    built_by_name: str
    started_at: str
    completed_at: str
    error_message: str
    error_code: str
    extra_metadata: dict[str, Any]


class DeploymentEvent(TypedDict, total=False):
    """Body of `POST /deployment-events/`."""

    product_name: Required[str]
    version: Required[str]
    environment_name: Required[str]
    status: Required[str]
    scm_sha: str
    scm_repository: str
    scm_branch: str
    build_number: str
    build_url: str
    deploy_url: str
    source_system: str
    invoke_id: str
    deployed_by: str
    deployed_by_email: str
    deployed_by_name: str
    completed_at: str
    extra_metadata: dict[str, Any]
    override_reason: str
    skip_preflight_checks: bool


class BuildRecord(TypedDict):
    """A recorded build (200 on a build event)."""

    id: str
    version_id: str
    product_id: str
    product_name: str
    version: str
    status: str
    scm_sha: str | None
    build_number: str | None
    build_url: str | None
    started_at: str | None
    completed_at: str | None
    created_at: str


class RuleEvaluation(TypedDict, total=False):
    """One rule's result inside `preflight_status.rules_evaluated`."""

    rule_name: str
    rule_type: str
    status: Literal["enabled", "report_only"]
    evaluation_result: Literal["passed", "failed"]
    code: str | None
    error_message: str | None


class Override(TypedDict):
    """Who let a deployment through enforced violations, and why."""

    by: str
    reason: str
    violations: list[dict[str, Any]]


class PreflightStatus(TypedDict, total=False):
    """The policy check's outcome, kept in a deployment's `extra_metadata`."""

    status: Literal["passed", "failed", "skipped"]
    rules_evaluated: list[RuleEvaluation]
    override: Override | None


class DeploymentRecord(TypedDict):
    """A recorded deployment (200 on a deployment event, items of `GET /deployments/`)."""

    id: str
    product_id: str
    version_id: str
    environment_id: str
    product_name: str
    version: str
    environment_name: str
    status: str
    deployed_at: str | None
    deployed_by: str | None
    completed_at: str | None
    deploy_url: str | None
    soak_time_hours: float | None
    extra_metadata: dict[str, Any]


class EventStatus(TypedDict):
    """`GET /events/{id}`: what became of an accepted event."""

    status: Literal["queued", "recorded", "rejected"]
    product_id: str | None
    version_id: str | None
    environment_id: str | None
    record_id: str | None
    detail: Any


class Product(TypedDict):
    """A catalog product."""

    id: str
    name: str
    description: NotRequired[str | None]
    metadata: NotRequired[dict[str, Any]]


class Environment(TypedDict):
    """A catalog environment."""

    id: str
    name: str
    type: str
    description: NotRequired[str | None]
    metadata: NotRequired[dict[str, Any]]


class LatestAttempt(TypedDict):
    """A later deployment attempt than the cell's completed one."""

    version: str
    status: str
    deployment_id: str


class StateCell(TypedDict):
    """What runs in one product-by-environment cell."""

    version: str | None
    deployment_id: str | None
    deployed_at: str | None
    deployed_by: str | None
    status: str | None
    latest: LatestAttempt | None


class StateEnvironment(TypedDict):
    """A column of the state matrix."""

    name: str
    type: str


class StateProduct(TypedDict):
    """A row of the state matrix."""

    product: str
    product_id: str
    drift: bool
    cells: dict[str, StateCell]


class State(TypedDict):
    """`GET /state/`: the product-by-environment matrix."""

    environments: list[StateEnvironment]
    products: list[StateProduct]


class User(TypedDict):
    """A person with a role."""

    id: str
    name: str
    email: str | None
    role: str
    slack_user_id: str | None
    active: bool


class InvitedUser(User):
    """A user just created by an admin, with the one-use invite token."""

    invite_token: str


class Token(TypedDict):
    """A personal token, shown once."""

    token: str


class ApiKey(TypedDict):
    """An API key as listed (never with its secret)."""

    id: str
    name: str
    created_at: NotRequired[str]
    last_used_at: NotRequired[str | None]


class CreatedApiKey(TypedDict):
    """A new API key, the only time its secret is shown."""

    id: str
    name: str
    key: str


ApprovalType = Literal["uat", "qa", "performance", "security", "code_review", "compliance"]
APPROVAL_TYPES: tuple[ApprovalType, ...] = (
    "uat",
    "qa",
    "performance",
    "security",
    "code_review",
    "compliance",
)
RuleType = Literal["schedule", "dr_required", "flow", "version_approval"]
RULE_TYPES: tuple[RuleType, ...] = ("schedule", "dr_required", "flow", "version_approval")
RuleMode = Literal["enabled", "report_only", "disabled"]
RULE_MODES: tuple[RuleMode, ...] = ("enabled", "report_only", "disabled")
RequestStatus = Literal["draft", "in_progress", "approved", "rejected", "completed", "cancelled"]
REQUEST_STATUSES: tuple[RequestStatus, ...] = (
    "draft",
    "in_progress",
    "approved",
    "rejected",
    "completed",
    "cancelled",
)
RequestAction = Literal["submit", "revert", "complete", "cancel"]
Decision = Literal["approve", "reject"]
Outcome = Literal["blocked", "reported", "overridden"]
OUTCOMES: tuple[Outcome, ...] = ("blocked", "reported", "overridden")
ProgressStatus = Literal["deployed", "not_deployed", "failed", "in_progress"]


class Rule(TypedDict):
    """A Deployment Rule; empty `products` or `environments` mean all."""

    id: str
    name: str
    rule_type: RuleType
    mode: RuleMode
    products: list[str]
    environments: list[str]
    config: dict[str, Any]
    created_by: str | None
    created_at: str
    updated_at: str


class RuleWindow(TypedDict):
    """One window of a schedule rule, in UTC and in the rule's local time."""

    start: str
    end: str
    local_start: str
    local_end: str
    timezone: str


class WindowsPreview(TypedDict):
    """`GET /deployment-rules/{id}/windows`: the next windows of a schedule rule."""

    rule_id: str | None
    kind_of_windows: Literal["deny", "allow"]
    windows: list[RuleWindow]


class ViolationEntry(TypedDict):
    """One entry of the violations log (`GET /deployment-rules/violations`)."""

    id: int
    event_id: str
    deployment_id: str | None
    product: str
    version: str
    environment: str
    rule_id: str | None
    rule_name: str
    rule_type: str
    code: str
    message: str
    outcome: Outcome
    actor: str
    at: str


class RequestItem(TypedDict):
    """A product and version a Deployment Request ships."""

    product: str
    version: str


class SlotSpec(TypedDict):
    """An approval slot to create; an optional one is advisory."""

    approval_type: ApprovalType
    optional: bool


class ApprovalSlot(TypedDict):
    """An approval slot of a Deployment Request and its decision."""

    id: str
    approval_type: ApprovalType
    optional: bool
    status: Literal["pending", "approved", "rejected"]
    decided_by: str | None
    decided_role: str | None
    decided_at: str | None
    comment: str | None


class RequestStep(TypedDict):
    """A pre- or post-deploy checklist step and who ticked it, when."""

    id: str
    text: str
    completed_by: str | None
    completed_at: str | None


class ProgressCell(TypedDict):
    """How far one item of a request has gone in one environment."""

    product: str
    version: str
    environment: str
    status: ProgressStatus
    deployment_id: str | None


class DeploymentRequest(TypedDict):
    """A Deployment Request."""

    id: str
    name: str
    description: str | None
    status: RequestStatus
    created_by: str
    items: list[RequestItem]
    environments: list[str]
    approval_slots: list[ApprovalSlot]
    pre_steps: list[RequestStep]
    post_steps: list[RequestStep]
    progress: list[ProgressCell]
    created_at: str
    updated_at: str
    submitted_at: str | None
    closed_at: str | None


class VersionApproval(TypedDict):
    """A sign-off on a version."""

    id: str
    version_id: str
    product_name: str
    version: str
    approval_type: ApprovalType
    environment: str | None
    comment: str | None
    approved_by: str
    approver_role: str
    created_at: str
    revoked_at: str | None


class AuditEntry(TypedDict):
    """One line of the append-only audit log."""

    id: int
    at: str
    actor: str
    action: str
    subject_id: str | None
    summary: str
    data: dict[str, Any]


Level = Literal["elite", "high", "medium", "low"]
Bucket = Literal["day", "week", "month"]
BUCKETS: tuple[Bucket, ...] = ("day", "week", "month")
IncidentStatus = Literal["opened", "resolved"]
INCIDENT_STATUSES: tuple[IncidentStatus, ...] = ("opened", "resolved")


class InsightsScope(TypedDict):
    """What an insights report covers; `product` None is every product."""

    product: str | None
    environments: list[str]
    since: str
    until: str
    bucket: Bucket


class DeploymentFrequency(TypedDict):
    """Completed deployments in the period."""

    deployments: int
    per_week: float
    deploy_days_per_week: float
    level: Level | None


class LeadTimeStarts(TypedDict):
    """How many versions' lead time started at each kind of moment."""

    commit: int
    build_started: int
    first_build_event: int


class LeadTime(TypedDict):
    """From a version's start to its first completed deployment, in seconds."""

    versions: int
    median_s: float | None
    p90_s: float | None
    start_from: LeadTimeStarts
    level: Level | None


class ChangeFailureRate(TypedDict):
    """Of the deployments finished in the period, those that failed, by cause."""

    deployments: int
    failures: int
    rate: float | None
    level: Level | None
    failed: int
    rolled_back: int
    incidents: int


class RecoveryTime(TypedDict):
    """From each failure to what restored it, in seconds."""

    failures: int
    restored: int
    median_s: float | None
    p90_s: float | None
    level: Level | None


class DoraBucket(TypedDict):
    """One day, week or month of the DORA report."""

    start: str
    deployments: int
    failures: int
    lead_time_median_s: float | None
    recovery_median_s: float | None


class DoraReport(TypedDict):
    """`GET /insights/dora`: the four keys over a period, and per bucket."""

    scope: InsightsScope
    deployment_frequency: DeploymentFrequency
    lead_time: LeadTime
    change_failure_rate: ChangeFailureRate
    recovery_time: RecoveryTime
    buckets: list[DoraBucket]


class CodeCount(TypedDict):
    """Blocked attempts that failed one check."""

    code: str
    count: int


class RuleCount(TypedDict):
    """Blocked attempts that failed one rule."""

    rule_name: str
    rule_type: str
    count: int


class PersonCount(TypedDict):
    """Overrides by one person."""

    actor: str
    count: int


class OverrideEntry(TypedDict):
    """One break-glass start: who, why, what it overrode."""

    at: str
    actor: str
    reason: str | None
    product: str
    version: str
    environment: str
    codes: list[str]


class Overrides(TypedDict):
    """Break-glass starts in the period, by person, the latest listed."""

    count: int
    by_person: list[PersonCount]
    latest: list[OverrideEntry]


class Wait(TypedDict):
    """Versions held by one kind of check, and how long, in seconds."""

    versions: int
    released: int
    waiting: int
    total_s: float
    median_s: float | None
    p90_s: float | None


class Waits(TypedDict):
    """Time waited in freeze windows and in soak."""

    freeze: Wait
    soak: Wait


class TurnaroundByType(TypedDict):
    """A Deployment Request's submission to an approval of one type."""

    approval_type: str
    approvals: int
    median_s: float | None
    p90_s: float | None


class RequestTurnaround(TypedDict):
    """Deployment Requests submitted in the period: submission to fully approved."""

    submitted: int
    approved: int
    median_s: float | None
    p90_s: float | None
    by_approval_type: list[TurnaroundByType]


class GateBucket(TypedDict):
    """One bucket of the gate's work."""

    start: str
    blocked: int
    overrides: int
    gate_skipped: int


class GateReport(TypedDict):
    """`GET /insights/gate`: what the gate cost and saved over a period."""

    scope: InsightsScope
    blocked_attempts: int
    blocked_by_code: list[CodeCount]
    blocked_by_rule: list[RuleCount]
    overrides: Overrides
    waits: Waits
    request_turnaround: RequestTurnaround
    gate_skipped: int
    buckets: list[GateBucket]


class IncidentEvent(TypedDict, total=False):
    """Body of `POST /incident-events/`."""

    product_name: Required[str]
    environment_name: Required[str]
    incident_id: Required[str]
    status: Required[IncidentStatus]
    title: str
    url: str
    opened_at: str
    resolved_at: str


class Incident(TypedDict):
    """An incident, and the deployment running where it opened (None: nothing was)."""

    id: str
    incident_id: str
    product_name: str
    environment_name: str
    status: IncidentStatus
    title: str | None
    url: str | None
    opened_at: str
    resolved_at: str | None
    deployment_id: str | None
    version: str | None
    created_at: str
    updated_at: str


RecordT = TypeVar("RecordT", BuildRecord, DeploymentRecord)


@dataclass(frozen=True)
class Tracked(Generic[RecordT]):
    """The answer to an event: its record (200), or only its id (202, not yet recorded)."""

    event_id: str
    record: RecordT | None

    @property
    def accepted(self) -> bool:
        """True when the API queued the event without recording it yet."""
        return self.record is None
