"""What the gate cost and saved over a period, from the violations log, the blocked attempts,
the audit log, the deployments and the Deployment Requests.

- **Blocked**: attempts refused in the period; the checks they failed by code and by rule (an
  attempt failing two checks counts under each).
- **Overrides**: break-glass starts, by person, the latest with their reasons.
- **Waits**: per version and environment held by a freeze window (`NO_DEPLOY_WINDOW`) or soak
  (`INSUFFICIENT_SOAK_TIME`) first in the period, from that first refusal to the next start let
  through; one still held counts as waiting, its time so far in `total_s`.
- **Request turnaround**: Deployment Requests submitted in the period that cover the scope
  (an item of the product, a target environment of the scope), from submission to their last
  required approval, and to each approval by type.
- **Gate-skipped**: deployments reported done that never asked the gate where it governs.
"""

from collections import Counter, defaultdict
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from versioner.common.errors import Failure
from versioner.common.insights import (
    CodeCount,
    GateBucket,
    GateReport,
    OverrideEntry,
    Overrides,
    PersonCount,
    RequestTurnaround,
    RuleCount,
    TurnaroundByType,
    Wait,
    Waits,
)
from versioner.common.messages.management import GateInsights
from versioner.policy.context import PolicyContext
from versioner.policy.insights import period
from versioner.policy.insights.period import Scope, aware, percentile
from versioner.policy.registry import handles
from versioner.policy.store.tables import (
    AuditEntry,
    BlockedAttempt,
    Deployment,
    DeploymentRequest,
    Environment,
    Product,
    ProductName,
    RequestEnvironment,
    RequestItem,
    RequestSlot,
    Version,
    ViolationRecord,
)

FREEZE_CODE = "NO_DEPLOY_WINDOW"
SOAK_CODE = "INSUFFICIENT_SOAK_TIME"
# Overrides listed with their reasons, newest first; the rest are counted.
LATEST_OVERRIDES = 50


@handles(GateInsights)
async def gate(ctx: PolicyContext, request: GateInsights) -> GateReport | Failure:
    """Blocked attempts, overrides, waits, request turnaround and gate-skipped completions."""
    now = ctx.clock.now()
    async with ctx.db.read() as session:
        scope = await period.resolve(session, request, now)
        if isinstance(scope, Failure):
            return scope
        # An empty scope (no such product, no environment) finds nothing: zeros, every bucket.
        blocked = await _blocked(session, scope)
        by_code, by_rule = await _blocked_checks(session, scope)
        overrides = await _overrides(session, scope)
        waits = Waits(
            freeze=await _waits(session, scope, FREEZE_CODE, now),
            soak=await _waits(session, scope, SOAK_CODE, now),
        )
        turnaround = await _turnaround(session, scope)
        skipped = await _gate_skipped(session, scope)
    per_bucket = zip(
        scope.starts,
        scope.counts(at.timestamp() for at in blocked),
        scope.counts(entry.at.timestamp() for entry in overrides),
        scope.counts(at.timestamp() for at in skipped),
        strict=True,
    )
    people = Counter(entry.actor for entry in overrides)
    return GateReport(
        scope=scope.public(),
        blocked_attempts=len(blocked),
        blocked_by_code=by_code,
        blocked_by_rule=by_rule,
        overrides=Overrides(
            count=len(overrides),
            by_person=[PersonCount(actor=a, count=n) for a, n in _ranked(people)],
            latest=sorted(overrides, key=lambda e: e.at, reverse=True)[:LATEST_OVERRIDES],
        ),
        waits=waits,
        request_turnaround=turnaround,
        gate_skipped=len(skipped),
        buckets=[
            GateBucket(start=start, blocked=b, overrides=o, gate_skipped=g)
            for start, b, o, g in per_bucket
        ],
    )


def _ranked(counts: Counter[Any]) -> list[tuple[Any, int]]:
    """Most first, then by name: the same order every time."""
    return sorted(counts.items(), key=lambda item: (-item[1], str(item[0])))


def _where(scope: Scope, table: Any) -> list[ColumnElement[bool]]:
    """A table with `product_id`, `environment_id` and `at`, in the scope and the period."""
    where = [
        col(table.environment_id).in_(list(scope.environments)),
        col(table.at) >= scope.since,
        col(table.at) < scope.until,
    ]
    if scope.product is not None:
        where.append(col(table.product_id) == scope.product.id)
    return where


async def _blocked(session: AsyncSession, scope: Scope) -> list[datetime]:
    rows = await session.execute(
        select(col(BlockedAttempt.at)).where(*_where(scope, BlockedAttempt))
    )
    return [aware(row[0]) for row in rows]


async def _blocked_checks(
    session: AsyncSession, scope: Scope
) -> tuple[list[CodeCount], list[RuleCount]]:
    where = [*_where(scope, ViolationRecord), col(ViolationRecord.outcome) == "blocked"]
    codes = await session.execute(
        select(col(ViolationRecord.code), func.count())
        .where(*where)
        .group_by(col(ViolationRecord.code))
    )
    rules = await session.execute(
        select(col(ViolationRecord.rule_name), col(ViolationRecord.rule_type), func.count())
        .where(*where)
        .group_by(col(ViolationRecord.rule_name), col(ViolationRecord.rule_type))
    )
    by_code = [CodeCount(code=c, count=n) for c, n in _ranked(Counter(dict(codes.all())))]
    rule_counts = Counter({(name, kind): n for name, kind, n in rules})
    by_rule = [
        RuleCount(rule_name=name, rule_type=kind, count=n)
        for (name, kind), n in _ranked(rule_counts)
    ]
    return by_code, by_rule


async def _overrides(session: AsyncSession, scope: Scope) -> list[OverrideEntry]:
    """One entry per overridden start: its violations grouped, its reason from the audit log."""
    rows = await session.execute(
        select(
            col(ViolationRecord.deployment_id),
            col(ViolationRecord.at),
            col(ViolationRecord.actor),
            col(ViolationRecord.code),
            col(Product.name),
            col(Version.version),
            col(Environment.name),
        )
        .join(Product, col(Product.id) == col(ViolationRecord.product_id))
        .join(Version, col(Version.id) == col(ViolationRecord.version_id))
        .join(Environment, col(Environment.id) == col(ViolationRecord.environment_id))
        .where(*_where(scope, ViolationRecord), col(ViolationRecord.outcome) == "overridden")
        .order_by(col(ViolationRecord.id))
    )
    entries: dict[UUID | None, OverrideEntry] = {}
    for deployment_id, at, actor, code, product, version, environment in rows:
        entry = entries.get(deployment_id)
        if entry is None:
            entries[deployment_id] = OverrideEntry(
                at=aware(at),
                actor=actor,
                reason=None,
                product=product,
                version=version,
                environment=environment,
                codes=[code],
            )
        elif code not in entry.codes:
            entry.codes.append(code)
    reasons = await session.execute(
        select(col(AuditEntry.subject_id), col(AuditEntry.data)).where(
            col(AuditEntry.kind) == "deployment.overridden",
            col(AuditEntry.at) >= scope.since,
            col(AuditEntry.at) < scope.until,
        )
    )
    by_subject = {subject: (data or {}).get("reason") for subject, data in reasons}
    for deployment_id, entry in entries.items():
        reason = by_subject.get(str(deployment_id))
        entry.reason = reason if isinstance(reason, str) else None
    return list(entries.values())


async def _waits(session: AsyncSession, scope: Scope, code: str, now: datetime) -> Wait:
    """Each version and environment first held by `code` in the period, and when the next
    start of it was let through: one grouped join, every probe an index search."""
    held = (
        select(
            col(ViolationRecord.version_id).label("version_id"),
            col(ViolationRecord.environment_id).label("environment_id"),
            func.min(col(ViolationRecord.at)).label("since"),
        )
        .where(
            *_where(scope, ViolationRecord),
            col(ViolationRecord.outcome) == "blocked",
            col(ViolationRecord.code) == code,
        )
        .group_by(col(ViolationRecord.version_id), col(ViolationRecord.environment_id))
        .subquery()
    )
    rows = await session.execute(
        select(held.c.since, func.min(col(Deployment.deployed_at)))
        .select_from(held)
        .outerjoin(
            Deployment,
            and_(
                col(Deployment.version_id) == held.c.version_id,
                col(Deployment.environment_id) == held.c.environment_id,
                col(Deployment.deployed_at) >= held.c.since,
            ),
        )
        .group_by(held.c.version_id, held.c.environment_id, held.c.since)
    )
    released: list[float] = []
    ongoing: list[float] = []
    end = min(now, scope.until)
    for since, start in rows:
        began = aware(since)
        if start is None:
            ongoing.append(max(0.0, (end - began).total_seconds()))
        else:
            released.append((aware(start) - began).total_seconds())
    released.sort()
    return Wait(
        versions=len(released) + len(ongoing),
        released=len(released),
        waiting=len(ongoing),
        total_s=round(sum(released) + sum(ongoing), 3),
        median_s=percentile(released, 0.5),
        p90_s=percentile(released, 0.9),
    )


async def _turnaround(session: AsyncSession, scope: Scope) -> RequestTurnaround:
    stmt = select(col(DeploymentRequest.id), col(DeploymentRequest.submitted_at)).where(
        col(DeploymentRequest.submitted_at) >= scope.since,
        col(DeploymentRequest.submitted_at) < scope.until,
        col(DeploymentRequest.id).in_(
            select(col(RequestEnvironment.request_id)).where(
                col(RequestEnvironment.environment).in_(list(scope.environments.values()))
            )
        ),
    )
    if scope.product is not None:
        names = select(col(ProductName.name)).where(col(ProductName.product_id) == scope.product.id)
        stmt = stmt.where(
            col(DeploymentRequest.id).in_(
                select(col(RequestItem.request_id)).where(col(RequestItem.product).in_(names))
            )
        )
    submitted = {row[0]: aware(row[1]) for row in await session.execute(stmt)}
    slots = await session.execute(
        select(
            col(RequestSlot.request_id),
            col(RequestSlot.approval_type),
            col(RequestSlot.optional),
            col(RequestSlot.status),
            col(RequestSlot.decided_at),
        ).where(col(RequestSlot.request_id).in_(list(submitted)))
    )
    by_type: dict[str, list[float]] = defaultdict(list)
    # Each request's required slots' approval times; None for one not approved (yet).
    required: dict[UUID, list[datetime | None]] = defaultdict(list)
    for request_id, approval_type, optional, status, decided_at in slots:
        at = aware(decided_at) if status == "approved" and decided_at is not None else None
        if at is not None:
            by_type[approval_type].append((at - submitted[request_id]).total_seconds())
        if not optional:
            required[request_id].append(at)
    last: dict[UUID, datetime] = {}
    for request_id, times in required.items():
        approvals = [at for at in times if at is not None]
        if len(approvals) == len(times):
            last[request_id] = max(approvals)
    done = sorted((at - submitted[request_id]).total_seconds() for request_id, at in last.items())
    return RequestTurnaround(
        submitted=len(submitted),
        approved=len(done),
        median_s=percentile(done, 0.5),
        p90_s=percentile(done, 0.9),
        by_approval_type=[
            TurnaroundByType(
                approval_type=kind,
                approvals=len(values),
                median_s=percentile(sorted(values), 0.5),
                p90_s=percentile(sorted(values), 0.9),
            )
            for kind, values in sorted(by_type.items())
        ],
    )


async def _gate_skipped(session: AsyncSession, scope: Scope) -> list[datetime]:
    """When each deployment of the scope that skipped the gate was reported, in the period."""
    subjects = await session.execute(
        select(col(AuditEntry.subject_id), col(AuditEntry.at)).where(
            col(AuditEntry.kind) == "deployment.gate_skipped",
            col(AuditEntry.at) >= scope.since,
            col(AuditEntry.at) < scope.until,
        )
    )
    at_by_id: dict[UUID, datetime] = {}
    for subject, at in subjects:
        try:
            at_by_id[UUID(subject)] = aware(at)
        except (TypeError, ValueError):
            continue
    if not at_by_id:
        return []
    stmt = select(col(Deployment.id)).where(
        col(Deployment.id).in_(list(at_by_id)),
        col(Deployment.environment_id).in_(list(scope.environments)),
    )
    if scope.product is not None:
        stmt = stmt.where(col(Deployment.product_id) == scope.product.id)
    return [at_by_id[row[0]] for row in await session.execute(stmt)]
