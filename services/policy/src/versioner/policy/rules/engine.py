"""The policy checks on a deployment: open Deployment Requests and every rule in scope.

Everything is evaluated, not just until the first failure: the answer lists every violation,
what to do about it and when to retry. Enabled rules and request checks enforce; report-only
rules only report.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, NamedTuple
from uuid import UUID

from sqlalchemy import Connection, bindparam, select

from versioner.common.errors import Violation
from versioner.common.roles import APPROVERS, ApprovalType
from versioner.common.rules import (
    DrRequiredConfig,
    FlowConfig,
    ScheduleConfig,
    VersionApprovalConfig,
)
from versioner.policy.deployments.verdict import order_key
from versioner.policy.rules import schedule
from versioner.policy.rules.snapshot import ActiveRule, OpenRequest, Snapshot
from versioner.policy.store.sql import table
from versioner.policy.store.tables import Deployment, VersionApproval

DEPLOYMENTS = table(Deployment)
APPROVALS = table(VersionApproval)

# Every completion of the version, per environment in time order: one indexed query per
# verdict, shared by every flow rule in scope (a version completes a handful of times).
_COMPLETIONS = (
    select(DEPLOYMENTS.c.environment_id, DEPLOYMENTS.c.finished_at)
    .where(
        DEPLOYMENTS.c.version_id == bindparam("version_id"),
        DEPLOYMENTS.c.status == "completed",
        DEPLOYMENTS.c.finished_at.is_not(None),
    )
    .order_by(DEPLOYMENTS.c.finished_at)
)
_APPROVALS = select(
    APPROVALS.c.approval_type, APPROVALS.c.environment_id, APPROVALS.c.environment
).where(APPROVALS.c.version_id == bindparam("version_id"), APPROVALS.c.revoked_at.is_(None))

Mode = Literal["enabled", "report_only"]


class Approval(NamedTuple):
    """A standing sign-off on the version being checked."""

    approval_type: str
    environment_id: UUID | None
    environment: str | None

    def given_in(
        self, conn: Connection, snapshot: Snapshot, where: str, place: UUID | None
    ) -> bool:
        """Whether it was given for the environment `where` names (`place`, once seen).

        An approval names its environment; one not seen yet when it was given has no id then,
        so it is resolved now, through every name environments have had.
        """
        if self.environment is None:
            return False
        if self.environment == where:
            return True
        here = self.environment_id or snapshot.environment_id(conn, self.environment)
        return place is not None and here == place


@dataclass(frozen=True)
class Subject:
    """The deployment being checked."""

    product_id: UUID
    product: str
    product_names: frozenset[str]
    version_id: UUID
    version: str
    environment_id: UUID
    environment: str
    environment_names: frozenset[str]


@dataclass(frozen=True)
class Finding:
    """A failed check: the violation, how it is enforced, and the rule behind it."""

    violation: Violation
    mode: Mode
    rule_id: UUID | None = None


@dataclass
class Evaluation:
    """Every check's outcome for one deployment."""

    findings: list[Finding] = field(default_factory=list)
    # Whether anything enforced applies at all (an enabled rule in scope, an open request):
    # a deployment that skipped the gate is announced only then.
    governed: bool = False

    @property
    def enforced(self) -> list[Violation]:
        """What blocks."""
        return [f.violation for f in self.findings if f.mode == "enabled"]

    @property
    def reported(self) -> list[Violation]:
        """What only reports."""
        return [f.violation for f in self.findings if f.mode == "report_only"]


def _when(moment: datetime) -> str:
    """The retry moment as people read it: to the minute, or to the (next) second."""
    if moment.microsecond:
        moment = moment.replace(microsecond=0) + timedelta(seconds=1)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC" if moment.second else "%Y-%m-%d %H:%M UTC")


def _approvers(approval_type: str) -> list[str]:
    return sorted(APPROVERS[ApprovalType(approval_type)])


def _anyone_of(roles: list[str]) -> str:
    """`someone with the admin, qa or release_manager role`."""
    listed = roles[0] if len(roles) == 1 else f"{', '.join(roles[:-1])} or {roles[-1]}"
    return f"someone with the {listed} role"


def _check_request(request: OpenRequest, subject: Subject) -> list[Violation]:
    """An open request covering the deployment: required slots approved, pre-steps done."""
    found: list[Violation] = []
    required = [slot for slot in request.slots if not slot.optional]
    approved = [slot for slot in required if slot.status == "approved"]
    base = {"request_id": str(request.id), "request_name": request.name}
    if request.status == "rejected":
        rejected = [slot.approval_type for slot in required if slot.status == "rejected"]
        found.append(
            Violation(
                code="APPROVAL_REQUIRED",
                rule_name=request.name,
                rule_type="deployment_request",
                message=(
                    f"Deployment Request '{request.name}' was rejected ({', '.join(rejected)}). "
                    "Revert it to draft and submit it again, or cancel it."
                ),
                details={**base, "status": "rejected", "rejected": rejected},
            )
        )
    elif len(approved) < len(required):
        pending = [slot.approval_type for slot in required if slot.status != "approved"]
        roles = sorted({role for kind in pending for role in _approvers(kind)})
        found.append(
            Violation(
                code="APPROVAL_REQUIRED",
                rule_name=request.name,
                rule_type="deployment_request",
                message=(
                    f"Deployment Request '{request.name}' still needs {', '.join(pending)} "
                    f"approval before {subject.product} {subject.version} may go to "
                    f"{subject.environment}. Ask {_anyone_of(roles)} to approve it."
                ),
                details={
                    **base,
                    "required_approvals": len(required),
                    "current_approvals": len(approved),
                    "pending": pending,
                    "approver_roles": roles,
                },
            )
        )
    if request.pending_pre_steps:
        steps = list(request.pending_pre_steps)
        found.append(
            Violation(
                code="CHECKLIST_INCOMPLETE",
                rule_name=request.name,
                rule_type="deployment_request",
                message=(
                    f"Deployment Request '{request.name}' has {len(steps)} pre-deploy "
                    f"step{'s' if len(steps) != 1 else ''} left: {'; '.join(steps)}. "
                    "Tick them when done."
                ),
                details={**base, "pending_steps": steps},
            )
        )
    return found


_FOREVER = datetime.max.replace(tzinfo=UTC)


def _valid_until(
    rule: ActiveRule, config: ScheduleConfig, verdict: schedule.ScheduleVerdict, now: datetime
) -> datetime | None:
    """Until when a schedule verdict holds: its next window boundary (None: do not keep it)."""
    if verdict.blocked:
        if verdict.retry_after is not None:
            return verdict.retry_after
        return _FOREVER if config.kind == "allow" else None
    if config.kind == "allow":
        return verdict.window.end if verdict.window else None
    upcoming = schedule.next_windows(config, created=rule.created_at, now=now, count=1)
    return upcoming[0].start if upcoming else _FOREVER


def _schedule_verdict(
    snapshot: Snapshot, rule: ActiveRule, config: ScheduleConfig, now: datetime
) -> schedule.ScheduleVerdict:
    """A schedule rule's verdict at `now`, kept until its next window boundary."""
    cached = snapshot.schedule_verdicts.get(rule.id)
    if cached is not None:
        since, until, kept = cached
        if since <= now < until:
            return kept
    verdict = schedule.evaluate(config, created=rule.created_at, now=now)
    valid_until = _valid_until(rule, config, verdict, now)
    if valid_until is not None:
        snapshot.schedule_verdicts[rule.id] = (now, valid_until, verdict)
    return verdict


def _check_schedule(
    snapshot: Snapshot, rule: ActiveRule, config: ScheduleConfig, subject: Subject, now: datetime
) -> Violation | None:
    verdict = _schedule_verdict(snapshot, rule, config, now)
    if not verdict.blocked:
        return None
    reason = f" ({config.reason})" if config.reason else ""
    if config.kind == "deny":
        assert verdict.window is not None
        message = (
            f"No deployments to {subject.environment} during '{rule.name}'{reason} until "
            f"{_when(verdict.window.end)}. Retry then."
        )
    elif verdict.retry_after is not None:
        message = (
            f"Deployments to {subject.environment} are allowed only in the windows of "
            f"'{rule.name}'{reason}; the next opens {_when(verdict.retry_after)}. Retry then."
        )
    else:
        message = (
            f"Deployments to {subject.environment} are allowed only in the windows of "
            f"'{rule.name}'{reason}, and none is left. Change the rule to deploy."
        )
    window = verdict.window
    return Violation(
        code="NO_DEPLOY_WINDOW",
        rule_name=rule.name,
        rule_type="schedule",
        message=message,
        retry_after=verdict.retry_after,
        details={
            "window_name": rule.name,
            "window_kind": config.kind,
            "window_start": window.start.isoformat().replace("+00:00", "Z") if window else None,
            "window_end": window.end.isoformat().replace("+00:00", "Z") if window else None,
            "timezone": config.timezone,
            "reason": config.reason,
        },
    )


def _check_dr_required(
    rule: ActiveRule, config: DrRequiredConfig, subject: Subject, requests: list[OpenRequest]
) -> Violation | None:
    wanted = {str(kind) for kind in config.approval_types}
    for request in requests:
        if request.status in ("in_progress", "approved") and wanted <= {
            slot.approval_type for slot in request.slots
        }:
            return None
    return Violation(
        code="DR_REQUIRED",
        rule_name=rule.name,
        rule_type="dr_required",
        message=(
            f"{subject.environment} needs a Deployment Request in progress or approved, with "
            f"{', '.join(sorted(wanted))} approval slots, covering {subject.product} "
            f"{subject.version}. Create one (POST /deployment-requests/) and submit it."
        ),
        details={"approval_types": sorted(wanted)},
    )


Completions = dict[UUID, list[datetime]]


def _completions(conn: Connection, subject: Subject) -> Completions:
    completed: Completions = {}
    for environment_id, finished_at in conn.execute(
        _COMPLETIONS, {"version_id": subject.version_id}
    ):
        completed.setdefault(environment_id, []).append(finished_at)
    return completed


def _in_order(times: list[list[datetime]]) -> bool:
    """Whether one completion per prerequisite can be picked in the rule's order.

    Greedy: each prerequisite's earliest completion at or after the previous pick. So a
    version that once went out of order is cured by deploying it again in order.
    """
    previous: datetime | None = None
    for completions in times:
        previous = next((t for t in completions if previous is None or t >= previous), None)
        if previous is None:
            return False
    return True


def _check_flow(
    conn: Connection,
    snapshot: Snapshot,
    rule: ActiveRule,
    config: FlowConfig,
    subject: Subject,
    now: datetime,
    completed: Completions,
) -> Violation | None:
    ids = {name: snapshot.environment_id(conn, name) for name in config.prerequisites}
    missing = [name for name, ident in ids.items() if ident not in completed]
    details: dict[str, Any] = {
        "prerequisites": list(config.prerequisites),
        "strict_order": config.strict_order,
        "missing": missing,
    }
    if missing:
        return Violation(
            code="FLOW_VIOLATION",
            rule_name=rule.name,
            rule_type="flow",
            message=(
                f"{subject.version} must be deployed to {', '.join(missing)} before "
                f"{subject.environment}."
            ),
            details=details,
        )
    times = [completed[ids[name]] for name in config.prerequisites]  # type: ignore[index]
    if config.strict_order and not _in_order(times):
        order = " → ".join([*config.prerequisites, subject.environment])
        return Violation(
            code="FLOW_VIOLATION",
            rule_name=rule.name,
            rule_type="flow",
            message=(
                f"{subject.version} reached its prerequisites out of order; '{rule.name}' "
                f"requires {order}. Deploy it again in that order."
            ),
            details={**details, "order": order},
        )
    if not config.min_soak_minutes:
        return None
    if config.strict_order:
        last = config.prerequisites[-1]
        since = completed[ids[last]][-1]  # type: ignore[index]
    else:
        last, since = max(
            ((name, completed[ids[name]][-1]) for name in config.prerequisites),  # type: ignore[index]
            key=lambda pair: pair[1],
        )
    ready = since + timedelta(minutes=config.min_soak_minutes)
    if ready <= now:
        return None
    soaked = (now - since).total_seconds() / 60
    return Violation(
        code="INSUFFICIENT_SOAK_TIME",
        rule_name=rule.name,
        rule_type="flow",
        message=(
            f"{subject.version} has soaked {soaked:.1f} of {config.min_soak_minutes:g} minutes in "
            f"{last} before {subject.environment}. Retry after {_when(ready)}."
        ),
        retry_after=ready,
        details={
            **details,
            "soak_environment": last,
            "soaked_minutes": round(soaked, 2),
            "min_soak_minutes": config.min_soak_minutes,
        },
    )


def _check_version_approval(
    conn: Connection,
    snapshot: Snapshot,
    rule: ActiveRule,
    config: VersionApprovalConfig,
    subject: Subject,
    approvals: list[Approval] | None,
) -> tuple[Violation | None, list[Approval]]:
    if approvals is None:
        approvals = [
            Approval(*row) for row in conn.execute(_APPROVALS, {"version_id": subject.version_id})
        ]
    where = config.environment
    place = snapshot.environment_id(conn, where) if where else None
    given = {
        approval.approval_type
        for approval in approvals
        if where is None or approval.given_in(conn, snapshot, where, place)
    }
    missing = [str(kind) for kind in config.approval_types if str(kind) not in given]
    if not missing:
        return None, approvals
    location = f" in {where}" if where else ""
    roles = sorted({role for kind in missing for role in _approvers(kind)})
    return (
        Violation(
            code="QUALITY_APPROVAL_REQUIRED",
            rule_name=rule.name,
            rule_type="version_approval",
            message=(
                f"{subject.product} {subject.version} needs {', '.join(missing)} sign-off"
                f"{location} before {subject.environment}. {_anyone_of(roles).capitalize()} can "
                f"approve it: POST /versions/{subject.version_id}/approvals."
            ),
            details={
                "missing_approvals": missing,
                "environment": where,
                "version_id": str(subject.version_id),
                "approver_roles": roles,
            },
        ),
        approvals,
    )


def evaluate(conn: Connection, snapshot: Snapshot, subject: Subject, now: datetime) -> Evaluation:
    """Every request check and every active rule in scope, on one deployment."""
    result = Evaluation()
    covering = [
        request
        for request in snapshot.requests
        if request.covers(subject.product_names, subject.version, subject.environment_names)
    ]
    for request in covering:
        result.governed = True
        result.findings.extend(Finding(v, "enabled") for v in _check_request(request, subject))
    approvals: list[Approval] | None = None
    completed: Completions | None = None
    for rule in snapshot.rules:
        if not rule.scopes(subject.product_names, subject.environment_names):
            continue
        config = rule.config
        violation: Violation | None = None
        if isinstance(config, ScheduleConfig):
            violation = _check_schedule(snapshot, rule, config, subject, now)
        elif isinstance(config, DrRequiredConfig):
            violation = _check_dr_required(rule, config, subject, covering)
        elif isinstance(config, FlowConfig):
            if config.target not in subject.environment_names:
                continue
            if completed is None:
                completed = _completions(conn, subject)
            violation = _check_flow(conn, snapshot, rule, config, subject, now, completed)
        elif isinstance(config, VersionApprovalConfig):
            violation, approvals = _check_version_approval(
                conn, snapshot, rule, config, subject, approvals
            )
        if rule.mode == "enabled":
            result.governed = True
        if violation is not None:
            result.findings.append(Finding(violation, rule.mode, rule.id))  # type: ignore[arg-type]
    result.findings.sort(key=lambda finding: order_key(finding.violation))
    return result


def rules_evaluated(
    findings: list[Finding], *, include_enforced: bool = False
) -> list[dict[str, Any]]:
    """`preflight_status.rules_evaluated`: the failures a deployment went through anyway.

    Report-only failures always; enforced ones only when an override let them through.
    Passing rules are not listed: Versioner's Action turns every entry into a warning.
    """
    return [
        {
            "rule_name": f.violation.rule_name,
            "rule_type": f.violation.rule_type,
            "status": f.mode,
            "evaluation_result": "failed",
            "code": f.violation.code,
            "error_message": f.violation.message,
        }
        for f in findings
        if f.mode == "report_only" or include_enforced
    ]
