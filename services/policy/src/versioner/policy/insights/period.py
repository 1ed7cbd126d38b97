"""What every report shares: its scope resolved, buckets, percentiles and DORA's levels.

Buckets are in UTC: a day from midnight, a week from Monday, a month from its first day. Each
thing counts in the bucket of its own time (a deployment when it ended, a lead time when the
version first arrived, a recovery when the failure happened).
"""

import gc
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from versioner.common.errors import Failure, unprocessable
from versioner.common.insights import Bucket, InsightsScope, Level
from versioner.common.messages.management import InsightsPeriod
from versioner.policy.catalog.lookup import Named, find_environment, find_product
from versioner.policy.store.tables import Environment

DEFAULT_PERIOD = timedelta(days=90)
# Enough for ten years of weeks or three of days; more is a mistake, not a chart.
MAX_BUCKETS = 1200
WEEK_S = 7 * 86400.0


@dataclass(frozen=True)
class Scope:
    """A report's scope resolved: the product (None: all), environments by id, the period."""

    product: Named | None
    environments: dict[UUID, str]
    since: datetime
    until: datetime
    bucket: Bucket
    starts: list[datetime]
    # A product the query names that does not exist, or no environment: nothing to count.
    empty: bool = False

    def public(self) -> InsightsScope:
        """As the report shows it."""
        return InsightsScope(
            product=self.product.name if self.product else None,
            environments=sorted(self.environments.values()),
            since=self.since,
            until=self.until,
            bucket=self.bucket,
        )

    @property
    def weeks(self) -> float:
        """The period's length in weeks."""
        return (self.until - self.since).total_seconds() / WEEK_S

    @cached_property
    def bounds(self) -> tuple[float, float]:
        """The period as seconds since the epoch: since (included), until (not)."""
        return self.since.timestamp(), self.until.timestamp()

    def counts(self, moments: Iterable[float]) -> list[int]:
        """How many of these moments of the period (seconds since the epoch) fall in each
        bucket."""
        edges, found = self._edges, [0] * len(self.starts)
        for seconds in moments:
            found[bisect_right(edges, seconds) - 1] += 1
        return found

    def group(self, measures: Iterable[tuple[float, float]]) -> list[list[float]]:
        """Values by the bucket of their moment: (moment in the period, value) pairs."""
        edges = self._edges
        found: list[list[float]] = [[] for _ in self.starts]
        for seconds, value in measures:
            found[bisect_right(edges, seconds) - 1].append(value)
        return found

    @cached_property
    def _edges(self) -> list[float]:
        return [start.timestamp() for start in self.starts]


async def resolve(session: AsyncSession, query: InsightsPeriod, now: datetime) -> Scope | Failure:
    """The scope a query names, or a `Failure` for a bad period. Names are any a record has
    had; an environment that does not exist is left out, a product that does not exist (or
    no environment left) makes an empty scope."""
    until = query.until or now
    since = query.since or until - DEFAULT_PERIOD
    if since >= until:
        return unprocessable("since", "since must be before until", where="query")
    starts = bucket_starts(since, until, query.bucket)
    if len(starts) > MAX_BUCKETS:
        return unprocessable(
            "bucket",
            f"{len(starts)} buckets of a {query.bucket}; at most {MAX_BUCKETS}: "
            "choose a wider bucket or a shorter period",
            where="query",
        )
    product = None
    if query.product is not None:
        product = await find_product(session, query.product)
        if product is None:
            unknown = Named(UUID(int=0), query.product)
            return Scope(unknown, {}, since, until, query.bucket, starts, empty=True)
    environments: dict[UUID, str] = {}
    for name in query.environments:
        if (found := await find_environment(session, name)) is not None:
            environments[found.id] = found.name
    if not query.environments:
        rows = await session.execute(
            select(col(Environment.id), col(Environment.name)).where(
                col(Environment.type) == "production"
            )
        )
        environments = {row[0]: row[1] for row in rows}
    empty = not environments
    return Scope(product, environments, since, until, query.bucket, starts, empty=empty)


@contextmanager
def uncollected() -> Iterator[None]:
    """Pause the cyclic garbage collector while a report reads and walks tens of thousands of
    rows into objects that all live until the report is made and form no cycle: run every 700
    allocations, the collector traversed them again and again, a quarter of a year's report
    (bench/insights.py). Reference counting frees as always; cycles made meanwhile, here or
    by whatever else runs during the report's awaits, are collected once it is over (a
    concurrent report that started paused leaves the collector to the first to finish)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def aware(at: datetime | None) -> datetime:
    """A time read back, aware in UTC (never None where it is read: queries exclude those)."""
    assert at is not None
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def bucket_start(at: datetime, bucket: Bucket) -> datetime:
    """The start of the bucket a moment falls in, in UTC."""
    at = at.astimezone(UTC)
    day = at.replace(hour=0, minute=0, second=0, microsecond=0)
    if bucket == "day":
        return day
    if bucket == "week":
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def next_start(start: datetime, bucket: Bucket) -> datetime:
    """The start of the bucket after the one starting at `start`."""
    if bucket == "day":
        return start + timedelta(days=1)
    if bucket == "week":
        return start + timedelta(days=7)
    if start.month == 12:
        return start.replace(year=start.year + 1, month=1)
    return start.replace(month=start.month + 1)


def bucket_starts(since: datetime, until: datetime, bucket: Bucket) -> list[datetime]:
    """Every bucket the period touches, by its start (the first may begin before `since`)."""
    starts = [bucket_start(since, bucket)]
    while (following := next_start(starts[-1], bucket)) < until:
        starts.append(following)
        if len(starts) > MAX_BUCKETS:
            break
    return starts


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """The `fraction` quantile of sorted values, interpolated between the closest ranks
    (numpy's default): the median of 1, 2, 3, 10 is 2.5, its p90 7.9. None for no values."""
    if not values:
        return None
    position = fraction * (len(values) - 1)
    below = int(position)
    above = min(below + 1, len(values) - 1)
    return values[below] + (values[above] - values[below]) * (position - below)


# DORA's levels by the 2024 Accelerate State of DevOps Report's clusters (README, "Insights").
# The report clusters teams over all four keys at once, so one key's values are not always in
# order (its change failure rates are elite 5 %, high 20 %, medium 10 %, low 40 %); read alone,
# each key's level is the best whose bound it meets, bounds as below.
HOUR_S = 3600.0
DAY_S = 86400.0

# Deployments a week per product: daily or more (on demand), weekly, monthly, less.
_Bounds = tuple[tuple[float, Level], ...]
_FREQUENCY: _Bounds = ((7.0, "elite"), (1.0, "high"), (12 / 52, "medium"))
# Median lead time: under a day, a week, a month (30 days); longer is low.
_LEAD_TIME: _Bounds = (
    (DAY_S, "elite"),
    (7 * DAY_S, "high"),
    (30 * DAY_S, "medium"),
)
# Change failure rate: up to 5 %, 10 %, 20 %; above is low.
_FAILURE_RATE: _Bounds = ((0.05, "elite"), (0.10, "high"), (0.20, "medium"))
# Median recovery: under an hour, a day, a week; longer is low.
_RECOVERY: _Bounds = (
    (HOUR_S, "elite"),
    (DAY_S, "high"),
    (7 * DAY_S, "medium"),
)


def frequency_level(per_week_per_product: float | None) -> Level | None:
    """At least as often as the level's bound."""
    if per_week_per_product is None:
        return None
    for bound, level in _FREQUENCY:
        if per_week_per_product >= bound:
            return level
    return "low"


def _at_most(value: float | None, bounds: _Bounds, *, strict: bool) -> Level | None:
    if value is None:
        return None
    for bound, level in bounds:
        if value < bound or (not strict and value == bound):
            return level
    return "low"


def lead_time_level(median_s: float | None) -> Level | None:
    """Under a day, a week, a month."""
    return _at_most(median_s, _LEAD_TIME, strict=True)


def failure_rate_level(rate: float | None) -> Level | None:
    """Up to 5 %, 10 %, 20 %."""
    return _at_most(rate, _FAILURE_RATE, strict=False)


def recovery_level(median_s: float | None) -> Level | None:
    """Under an hour, a day, a week."""
    return _at_most(median_s, _RECOVERY, strict=True)
