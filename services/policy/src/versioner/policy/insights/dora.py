"""The four DORA keys from the deployments, builds and incidents policy already keeps.

- **Deployment frequency**: deployments that completed in the period (when they ended:
  `completed_at` as the event says, else when received), per bucket; deploy days are the UTC
  days with at least one.
- **Lead time**: each version whose first completed deployment to the environments falls in
  the period, from its start (its commit, else its first build's `started_at`, else its first
  build event) to that deployment. A version that was never built has no start, no lead time.
- **Change failure rate**: of the deployments finished (completed or failed) in the period,
  those that failed: failed themselves, else rolled back (the next deployment of that product
  to that environment to complete shipped an older version, by when versions were first
  seen), else an incident was attached to them.
- **Recovery time**: from each such failure to what restored service: for a failed deployment
  the pair's next completed deployment, for a rolled-back one the rollback (from when it had
  ended), for an incident its resolution; incidents attached to no failing deployment of the
  period count on their own. One not restored yet counts as a failure, not in the times.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from sqlalchemy import ColumnElement, and_, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col

from versioner.common.errors import Failure
from versioner.common.insights import (
    ChangeFailureRate,
    DeploymentFrequency,
    DoraBucket,
    DoraReport,
    LeadTime,
    LeadTimeStart,
    LeadTimeStarts,
    RecoveryTime,
)
from versioner.common.messages.management import DoraInsights
from versioner.policy.context import PolicyContext
from versioner.policy.insights import period
from versioner.policy.insights.period import Scope, aware, percentile
from versioner.policy.registry import handles
from versioner.policy.store.tables import Build, Deployment, Incident, Version


@dataclass
class _Finished:
    """A deployment that completed or failed, in its pair's order."""

    id: UUID
    product_id: UUID
    status: str
    ended_at: datetime
    version_seen_at: datetime


@dataclass
class _Tally:
    """What the walk over the deployments and incidents found."""

    completed: list[datetime] = field(default_factory=list)
    finished: list[datetime] = field(default_factory=list)
    failures: dict[str, list[datetime]] = field(
        default_factory=lambda: {"failed": [], "rolled_back": [], "incidents": []}
    )
    # (the failure's moment in the period, how long until restored: None while it is not)
    recoveries: list[tuple[datetime, float | None]] = field(default_factory=list)
    products: set[UUID] = field(default_factory=set)


@handles(DoraInsights)
async def dora(ctx: PolicyContext, request: DoraInsights) -> DoraReport | Failure:
    """The four keys over the period, and per bucket."""
    async with ctx.db.read() as session:
        scope = await period.resolve(session, request, ctx.clock.now())
        if isinstance(scope, Failure):
            return scope
        if scope.empty:
            return _report(scope, _Tally(), [])
        finished = await _finished(session, scope)
        incidents = await _incidents(session, scope)
        lead_times = await _lead_times(session, scope)
    return _report(scope, _walk(scope, finished, incidents), lead_times)


def _in_scope(scope: Scope) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = [
        col(Deployment.environment_id).in_(list(scope.environments))
    ]
    if scope.product is not None:
        where.append(col(Deployment.product_id) == scope.product.id)
    return where


async def _finished(
    session: AsyncSession, scope: Scope
) -> dict[tuple[UUID, UUID], list[_Finished]]:
    """Every deployment finished since the period began (later ones decide rollbacks and
    recoveries), by pair, in the order they ended."""
    rows = await session.execute(
        select(
            col(Deployment.id),
            col(Deployment.product_id),
            col(Deployment.environment_id),
            col(Deployment.status),
            col(Deployment.ended_at),
            col(Version.created_at),
        )
        .join(Version, col(Version.id) == col(Deployment.version_id))
        .where(
            *_in_scope(scope),
            col(Deployment.ended_at) >= scope.since,
            col(Deployment.status).in_(("completed", "failed")),
        )
        .order_by(col(Deployment.ended_at), col(Deployment.id))
    )
    pairs: dict[tuple[UUID, UUID], list[_Finished]] = defaultdict(list)
    for d_id, product_id, environment_id, status, ended_at, seen_at in rows:
        pairs[(product_id, environment_id)].append(
            _Finished(d_id, product_id, status, aware(ended_at), seen_at)
        )
    return pairs


async def _incidents(
    session: AsyncSession, scope: Scope
) -> list[tuple[UUID | None, datetime, datetime | None]]:
    """Incidents opened since the period began: (deployment, opened, resolved)."""
    stmt = select(
        col(Incident.deployment_id), col(Incident.opened_at), col(Incident.resolved_at)
    ).where(
        col(Incident.environment_id).in_(list(scope.environments)),
        col(Incident.opened_at) >= scope.since,
    )
    if scope.product is not None:
        stmt = stmt.where(col(Incident.product_id) == scope.product.id)
    rows = await session.execute(stmt.order_by(col(Incident.opened_at)))
    return [(row[0], row[1], row[2]) for row in rows]


def _walk(
    scope: Scope,
    pairs: dict[tuple[UUID, UUID], list[_Finished]],
    incidents: list[tuple[UUID | None, datetime, datetime | None]],
) -> _Tally:
    tally = _Tally()
    by_deployment: dict[UUID, list[tuple[datetime, datetime | None]]] = defaultdict(list)
    for deployment_id, opened, resolved in incidents:
        if deployment_id is not None:
            by_deployment[deployment_id].append((opened, resolved))
    counted: set[UUID] = set()
    for rows in pairs.values():
        following: _Finished | None = None
        next_completed: list[_Finished | None] = [None] * len(rows)
        for i in range(len(rows) - 1, -1, -1):
            next_completed[i] = following
            if rows[i].status == "completed":
                following = rows[i]
        for d, after in zip(rows, next_completed, strict=True):
            if not scope.covers(d.ended_at):
                continue
            tally.finished.append(d.ended_at)
            if d.status == "completed":
                tally.completed.append(d.ended_at)
                tally.products.add(d.product_id)
            cause = _failure(d, after, by_deployment.get(d.id))
            if cause is None:
                continue
            counted.add(d.id)
            tally.failures[cause].append(d.ended_at)
            tally.recoveries.append(_recovery(cause, d, after, by_deployment.get(d.id)))
    for deployment_id, opened, resolved in incidents:
        if deployment_id in counted or not scope.covers(opened):
            continue
        # An incident with no deployment before it, or against one finished outside the period.
        tally.recoveries.append(
            (opened, None if resolved is None else (resolved - opened).total_seconds())
        )
    return tally


def _failure(
    d: _Finished,
    after: _Finished | None,
    incidents: list[tuple[datetime, datetime | None]] | None,
) -> str | None:
    if d.status == "failed":
        return "failed"
    if after is not None and after.version_seen_at < d.version_seen_at:
        return "rolled_back"
    if incidents:
        return "incidents"
    return None


def _recovery(
    cause: str,
    d: _Finished,
    after: _Finished | None,
    incidents: list[tuple[datetime, datetime | None]] | None,
) -> tuple[datetime, float | None]:
    if cause == "incidents" and incidents:
        opened, resolved = incidents[0]
        return d.ended_at, None if resolved is None else (resolved - opened).total_seconds()
    if after is None:
        return d.ended_at, None
    return d.ended_at, max(0.0, (after.ended_at - d.ended_at).total_seconds())


@dataclass(frozen=True)
class _LeadTime:
    arrived_at: datetime
    seconds: float
    start: LeadTimeStart


async def _lead_times(session: AsyncSession, scope: Scope) -> list[_LeadTime]:
    """Versions that first completed a deployment to the environments in the period."""
    earlier = aliased(Deployment)
    first = (
        select(
            col(Deployment.version_id).label("version_id"),
            func.min(col(Deployment.ended_at)).label("arrived_at"),
        )
        .where(
            *_in_scope(scope),
            col(Deployment.status) == "completed",
            col(Deployment.ended_at) >= scope.since,
            col(Deployment.ended_at) < scope.until,
            ~exists().where(
                and_(
                    col(earlier.version_id) == col(Deployment.version_id),
                    col(earlier.environment_id).in_(list(scope.environments)),
                    col(earlier.status) == "completed",
                    col(earlier.ended_at) < scope.since,
                )
            ),
        )
        .group_by(col(Deployment.version_id))
        .subquery()
    )
    rows = await session.execute(
        select(
            first.c.arrived_at,
            func.min(col(Build.commit_at)),
            func.min(col(Build.started_at)),
            func.min(col(Build.created_at)),
        )
        .join(Build, col(Build.version_id) == first.c.version_id)
        .group_by(first.c.version_id, first.c.arrived_at)
    )
    found: list[_LeadTime] = []
    for arrived_at, commit_at, started_at, first_event_at in rows:
        start: LeadTimeStart
        if commit_at is not None:
            start, began = "commit", commit_at
        elif started_at is not None:
            start, began = "build_started", started_at
        else:
            start, began = "first_build_event", first_event_at
        seconds = max(0.0, (aware(arrived_at) - aware(began)).total_seconds())
        found.append(_LeadTime(aware(arrived_at), seconds, start))
    return found


def _report(scope: Scope, tally: _Tally, lead_times: list[_LeadTime]) -> DoraReport:
    count = len(scope.starts)
    deployments = [0] * count
    finished = [0] * count
    failures = [0] * count
    leads: list[list[float]] = [[] for _ in range(count)]
    recoveries: list[list[float]] = [[] for _ in range(count)]
    for at in tally.completed:
        deployments[scope.index(at)] += 1
    for at in tally.finished:
        finished[scope.index(at)] += 1
    for times in tally.failures.values():
        for at in times:
            failures[scope.index(at)] += 1
    for lead in lead_times:
        leads[scope.index(lead.arrived_at)].append(lead.seconds)
    restored: list[float] = []
    for at, seconds in tally.recoveries:
        if seconds is not None:
            recoveries[scope.index(at)].append(seconds)
            restored.append(seconds)
    return DoraReport(
        scope=scope.public(),
        deployment_frequency=_frequency(scope, tally),
        lead_time=_lead_time(lead_times),
        change_failure_rate=_failure_rate(tally),
        recovery_time=_recovery_time(tally, restored),
        buckets=[
            DoraBucket(
                start=start,
                deployments=deployments[i],
                failures=failures[i],
                lead_time_median_s=_median(leads[i]),
                recovery_median_s=_median(recoveries[i]),
                finished=finished[i],
                failure_rate=round(failures[i] / finished[i], 4) if finished[i] else None,
            )
            for i, start in enumerate(scope.starts)
        ],
    )


def _median(values: Iterable[float]) -> float | None:
    return percentile(sorted(values), 0.5)


def _frequency(scope: Scope, tally: _Tally) -> DeploymentFrequency:
    weeks = scope.weeks
    count = len(tally.completed)
    days = {at.date() for at in tally.completed}
    per_product = count / weeks / len(tally.products) if tally.products else None
    return DeploymentFrequency(
        deployments=count,
        per_week=round(count / weeks, 3),
        deploy_days_per_week=round(min(len(days) / weeks, 7.0), 3),
        level=period.frequency_level(per_product),
    )


def _lead_time(lead_times: list[_LeadTime]) -> LeadTime:
    values = sorted(lead.seconds for lead in lead_times)
    starts = LeadTimeStarts()
    for lead in lead_times:
        setattr(starts, lead.start, getattr(starts, lead.start) + 1)
    median = percentile(values, 0.5)
    return LeadTime(
        versions=len(values),
        median_s=median,
        p90_s=percentile(values, 0.9),
        start_from=starts,
        level=period.lead_time_level(median),
    )


def _failure_rate(tally: _Tally) -> ChangeFailureRate:
    total = len(tally.finished)
    failed = {cause: len(times) for cause, times in tally.failures.items()}
    count = sum(failed.values())
    rate = count / total if total else None
    return ChangeFailureRate(
        deployments=total,
        failures=count,
        rate=None if rate is None else round(rate, 4),
        level=period.failure_rate_level(rate),
        failed=failed["failed"],
        rolled_back=failed["rolled_back"],
        incidents=failed["incidents"],
    )


def _recovery_time(tally: _Tally, restored: list[float]) -> RecoveryTime:
    values = sorted(restored)
    median = percentile(values, 0.5)
    return RecoveryTime(
        failures=len(tally.recoveries),
        restored=len(values),
        median_s=median,
        p90_s=percentile(values, 0.9),
        level=period.recovery_level(median),
    )
