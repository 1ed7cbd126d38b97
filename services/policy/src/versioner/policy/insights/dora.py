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

from collections import Counter, defaultdict
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, String, case, exists, false, func, select, type_coerce
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
from versioner.policy.insights.period import Scope, percentile
from versioner.policy.registry import handles
from versioner.policy.store.sql import epoch
from versioner.policy.store.tables import Deployment, Incident, Version

# An id as the database hands it back, left unparsed (on SQLite, building 60,000 `UUID`s cost
# a report over a year of 100,000 deployments a third of its time): compared only with ids of
# the same database.
RawId = Hashable


def _raw(column: Any) -> Any:
    return type_coerce(column, String)


@dataclass
class _Finished:
    """A deployment that completed or failed, in its pair's order."""

    id: RawId
    product_id: RawId
    status: str
    ended: float
    version_seen: float


def _between(start: float, end: float | None) -> float | None:
    """Seconds from one epoch to another (None: not yet), to the millisecond, never negative."""
    return None if end is None else max(0.0, round(end - start, 3))


@dataclass(frozen=True)
class _LeadTime:
    arrived: float
    seconds: float
    start: LeadTimeStart


@dataclass
class _Deployments:
    """What the one read of the deployments gives: each pair's finished deployments in order,
    and the lead time of each version that first arrived in the period."""

    pairs: dict[tuple[RawId, RawId], list[_Finished]] = field(
        default_factory=lambda: defaultdict(list)
    )
    lead_times: list[_LeadTime] = field(default_factory=list)


@dataclass
class _Tally:
    """What the walk over the deployments and incidents found."""

    # Moments are seconds since the epoch (`store.sql.epoch`), as the queries read them.
    completed: list[float] = field(default_factory=list)
    finished: list[float] = field(default_factory=list)
    failures: dict[str, list[float]] = field(
        default_factory=lambda: {"failed": [], "rolled_back": [], "incidents": []}
    )
    # (the failure's moment in the period, how long until restored: None while it is not)
    recoveries: list[tuple[float, float | None]] = field(default_factory=list)
    products: set[RawId] = field(default_factory=set)


@handles(DoraInsights)
async def dora(ctx: PolicyContext, request: DoraInsights) -> DoraReport | Failure:
    """The four keys over the period, and per bucket."""
    async with ctx.db.read() as session:
        scope = await period.resolve(session, request, ctx.clock.now())
        if isinstance(scope, Failure):
            return scope
        if scope.empty:
            return _report(scope, _Tally(), [])
        with period.uncollected():
            read = await _deployments(session, scope)
            incidents = await _incidents(session, scope)
            return _report(scope, _walk(scope, read.pairs, incidents), read.lead_times)


def _in_scope(scope: Scope, deployments: Any = Deployment) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = [
        col(deployments.environment_id).in_(list(scope.environments))
    ]
    if scope.product is not None:
        where.append(col(deployments.product_id) == scope.product.id)
    return where


async def _deployments(session: AsyncSession, scope: Scope) -> _Deployments:
    """Every deployment finished since the period began (later ones decide rollbacks and
    recoveries), in the order they ended, with its version's start and whether that version
    had completed in the environments before the period: one indexed read."""
    earlier = aliased(Deployment)
    # Looked for only where the version completed somewhere before the period: most did not.
    arrived_before = case(
        (
            col(Version.first_completed_at) < scope.since,
            exists().where(
                col(earlier.version_id) == col(Deployment.version_id),
                *_in_scope(scope, earlier),
                col(earlier.status) == "completed",
                col(earlier.ended_at) < scope.since,
            ),
        ),
        else_=false(),
    )
    # Through the session's connection: Core rows, without the ORM's result layer (tens of
    # thousands of rows).
    connection = await session.connection()
    rows = await connection.execute(
        select(
            _raw(col(Deployment.id)),
            _raw(col(Deployment.product_id)),
            _raw(col(Deployment.environment_id)),
            _raw(col(Deployment.version_id)),
            col(Deployment.status),
            epoch(col(Deployment.ended_at)),
            epoch(col(Version.created_at)),
            # Where its lead time starts, and which start that is: one time a row, not three.
            epoch(
                func.coalesce(
                    col(Version.committed_at),
                    col(Version.build_started_at),
                    col(Version.first_built_at),
                )
            ),
            case(
                (col(Version.committed_at).is_not(None), "commit"),
                (col(Version.build_started_at).is_not(None), "build_started"),
                else_="first_build_event",
            ),
            arrived_before,
        )
        .join(Version, col(Version.id) == col(Deployment.version_id))
        .where(
            *_in_scope(scope),
            col(Deployment.ended_at) >= scope.since,
            col(Deployment.status).in_(("completed", "failed")),
        )
        .order_by(col(Deployment.ended_at), col(Deployment.id))
    )
    read = _Deployments()
    arrived: set[RawId] = set()
    since, until = scope.bounds
    for (
        d_id,
        product_id,
        environment_id,
        version_id,
        status,
        ended,
        seen,
        began,
        start,
        before,
    ) in rows:
        read.pairs[(product_id, environment_id)].append(
            _Finished(d_id, product_id, status, ended, seen)
        )
        if status != "completed" or version_id in arrived or not since <= ended < until:
            continue
        arrived.add(version_id)
        # A version never built has no start; one that completed there before has arrived.
        if began is not None and not before:
            read.lead_times.append(_LeadTime(ended, max(0.0, round(ended - began, 3)), start))
    return read


_Incident = tuple[RawId | None, float, float | None]


async def _incidents(session: AsyncSession, scope: Scope) -> list[_Incident]:
    """Incidents opened since the period began: (deployment, opened, resolved)."""
    stmt = select(
        _raw(col(Incident.deployment_id)),
        epoch(col(Incident.opened_at)),
        epoch(col(Incident.resolved_at)),
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
    pairs: dict[tuple[RawId, RawId], list[_Finished]],
    incidents: list[_Incident],
) -> _Tally:
    tally = _Tally()
    by_deployment: dict[RawId, list[tuple[float, float | None]]] = defaultdict(list)
    for deployment_id, opened, resolved in incidents:
        if deployment_id is not None:
            by_deployment[deployment_id].append((opened, resolved))
    counted: set[RawId] = set()
    since, until = scope.bounds
    for rows in pairs.values():
        # Backwards, so each deployment knows the pair's next one to complete.
        after: _Finished | None = None
        for d in reversed(rows):
            if since <= d.ended < until:
                tally.finished.append(d.ended)
                if d.status == "completed":
                    tally.completed.append(d.ended)
                    tally.products.add(d.product_id)
                cause = _failure(d, after, by_deployment.get(d.id))
                if cause is not None:
                    counted.add(d.id)
                    tally.failures[cause].append(d.ended)
                    tally.recoveries.append(_recovery(cause, d, after, by_deployment.get(d.id)))
            if d.status == "completed":
                after = d
    for deployment_id, opened, resolved in incidents:
        if deployment_id in counted or not since <= opened < until:
            continue
        # An incident with no deployment before it, or against one finished outside the period.
        tally.recoveries.append((opened, _between(opened, resolved)))
    return tally


def _failure(
    d: _Finished,
    after: _Finished | None,
    incidents: list[tuple[float, float | None]] | None,
) -> str | None:
    if d.status == "failed":
        return "failed"
    if after is not None and after.version_seen < d.version_seen:
        return "rolled_back"
    if incidents:
        return "incidents"
    return None


def _recovery(
    cause: str,
    d: _Finished,
    after: _Finished | None,
    incidents: list[tuple[float, float | None]] | None,
) -> tuple[float, float | None]:
    if cause == "incidents" and incidents:
        opened, resolved = incidents[0]
        return d.ended, _between(opened, resolved)
    if after is None:
        return d.ended, None
    return d.ended, _between(d.ended, after.ended)


def _report(scope: Scope, tally: _Tally, lead_times: list[_LeadTime]) -> DoraReport:
    deployments = scope.counts(tally.completed)
    finished = scope.counts(tally.finished)
    failures = scope.counts(at for times in tally.failures.values() for at in times)
    leads = scope.group((lead.arrived, lead.seconds) for lead in lead_times)
    timed = [(at, seconds) for at, seconds in tally.recoveries if seconds is not None]
    recoveries = scope.group(timed)
    restored = [seconds for _, seconds in timed]
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
    days = {at // 86400 for at in tally.completed}
    per_product = count / weeks / len(tally.products) if tally.products else None
    return DeploymentFrequency(
        deployments=count,
        per_week=round(count / weeks, 3),
        deploy_days_per_week=round(min(len(days) / weeks, 7.0), 3),
        level=period.frequency_level(per_product),
    )


def _lead_time(lead_times: list[_LeadTime]) -> LeadTime:
    values = sorted(lead.seconds for lead in lead_times)
    starts = LeadTimeStarts.model_validate(Counter(lead.start for lead in lead_times))
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
