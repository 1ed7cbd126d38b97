"""What `/insights/dora` and `/insights/gate` answer, and incidents (API.md, "Insights").

Times in seconds; a median or a rate is `None` where there is nothing to measure, and a DORA
level is `None` then too.
"""

from datetime import UTC, datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field

from versioner.common.types import UtcDatetime

# The build event's metadata key holding when its commit was made (RFC 3339); the CLI fills it
# from git when it runs in a checkout.
COMMIT_TIMESTAMP_KEY = "vi_commit_timestamp"

Level = Literal["elite", "high", "medium", "low"]
Bucket = Literal["day", "week", "month"]
IncidentStatus = Literal["opened", "resolved"]
# Where a version's lead time starts: its commit, its first build's start, its first build event.
LeadTimeStart = Literal["commit", "build_started", "first_build_event"]


def commit_time(metadata: dict[str, Any]) -> datetime | None:
    """When a build's commit was made, if its metadata says so in RFC 3339 (else None)."""
    raw = metadata.get(COMMIT_TIMESTAMP_KEY)
    if not isinstance(raw, str):
        return None
    try:
        at = datetime.fromisoformat(raw.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


class InsightsScope(BaseModel):
    """What a report covers: `product` None is every product."""

    product: str | None
    environments: list[str]
    since: UtcDatetime
    until: UtcDatetime
    bucket: Bucket


class DeploymentFrequency(BaseModel):
    """Completed deployments in the period."""

    deployments: int
    per_week: float
    deploy_days_per_week: float
    level: Level | None


class LeadTimeStarts(BaseModel):
    """How many versions' lead time started at each kind of moment."""

    commit: int = 0
    build_started: int = 0
    first_build_event: int = 0


class LeadTime(BaseModel):
    """From a version's start to its first completed deployment in the environments."""

    versions: int
    median_s: float | None
    p90_s: float | None
    start_from: LeadTimeStarts
    level: Level | None


class ChangeFailureRate(BaseModel):
    """Of the deployments finished in the period, those that failed then or afterwards."""

    deployments: int
    failures: int
    rate: float | None
    level: Level | None
    # The failures by cause; a deployment counts once, under its first cause in this order.
    failed: int = 0
    rolled_back: int = 0
    incidents: int = 0


class RecoveryTime(BaseModel):
    """From each failure to the deployment (or the incident's resolution) that restored."""

    failures: int
    restored: int
    median_s: float | None
    p90_s: float | None
    level: Level | None


class DoraBucket(BaseModel):
    """One day, week (from Monday) or month, in UTC."""

    start: UtcDatetime
    deployments: int
    failures: int
    lead_time_median_s: float | None
    recovery_median_s: float | None
    # Deployments finished (completed or failed) in the bucket, and the share that failed.
    finished: int = 0
    failure_rate: float | None = None


class DoraReport(BaseModel):
    """The four keys over a period, and per bucket."""

    kind: Literal["dora"] = "dora"
    scope: InsightsScope
    deployment_frequency: DeploymentFrequency
    lead_time: LeadTime
    change_failure_rate: ChangeFailureRate
    recovery_time: RecoveryTime
    buckets: list[DoraBucket]


class CodeCount(BaseModel):
    """Blocked attempts that failed one check."""

    code: str
    count: int


class RuleCount(BaseModel):
    """Blocked attempts that failed one rule (or a Deployment Request's check)."""

    rule_name: str
    rule_type: str
    count: int


class PersonCount(BaseModel):
    """Overrides by one person."""

    actor: str
    count: int


class OverrideEntry(BaseModel):
    """One break-glass start: who, why, what it overrode."""

    at: UtcDatetime
    actor: str
    reason: str | None
    product: str
    version: str
    environment: str
    codes: list[str]


class Overrides(BaseModel):
    """Break-glass starts in the period: counted by person, the latest listed."""

    count: int
    by_person: list[PersonCount]
    latest: list[OverrideEntry]


class Wait(BaseModel):
    """Versions held by one kind of check: from the first refusal to the start let through."""

    versions: int
    released: int
    waiting: int
    total_s: float
    median_s: float | None
    p90_s: float | None


class Waits(BaseModel):
    """Time versions waited in freeze windows (`NO_DEPLOY_WINDOW`) and soak
    (`INSUFFICIENT_SOAK_TIME`)."""

    freeze: Wait
    soak: Wait


class TurnaroundByType(BaseModel):
    """A Deployment Request's submission to an approval of one type."""

    approval_type: str
    approvals: int
    median_s: float | None
    p90_s: float | None


class RequestTurnaround(BaseModel):
    """Deployment Requests submitted in the period: submission to fully approved."""

    submitted: int
    approved: int
    median_s: float | None
    p90_s: float | None
    by_approval_type: list[TurnaroundByType]


class GateBucket(BaseModel):
    """One bucket of the gate's work, in UTC."""

    start: UtcDatetime
    blocked: int
    overrides: int
    gate_skipped: int


class GateReport(BaseModel):
    """What the gate cost and saved over a period."""

    kind: Literal["gate"] = "gate"
    scope: InsightsScope
    blocked_attempts: int
    blocked_by_code: list[CodeCount]
    blocked_by_rule: list[RuleCount]
    overrides: Overrides
    waits: Waits
    request_turnaround: RequestTurnaround
    gate_skipped: int
    buckets: list[GateBucket]


class IncidentPublic(BaseModel):
    """An incident, and the deployment that was running where it opened (None: nothing was)."""

    kind: Literal["incident"] = "incident"
    id: UUID
    incident_id: str
    product_name: str
    environment_name: str
    status: IncidentStatus
    title: str | None = None
    url: str | None = None
    opened_at: UtcDatetime
    resolved_at: UtcDatetime | None = None
    deployment_id: UUID | None = None
    version: str | None = Field(default=None, description="the version that deployment shipped")
    created_at: UtcDatetime
    updated_at: UtcDatetime
