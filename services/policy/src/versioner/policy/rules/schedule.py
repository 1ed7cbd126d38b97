"""Schedule rules: the windows a schedule config describes, and what they say about an instant.

Local times become instants in the rule's time zone (a time in a spring-forward gap moves forward
by the gap, an ambiguous one takes its first occurrence); a recurrence is expanded in local wall
time and each window lasts `duration_minutes` of elapsed time from its start.
"""

import re
from bisect import bisect_left
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import MAXYEAR, UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta
from dateutil.rrule import (
    DAILY,
    FREQNAMES,
    HOURLY,
    MINUTELY,
    MONTHLY,
    SECONDLY,
    WEEKLY,
    YEARLY,
    rrule,
)
from dateutil.rrule import rrulestr as parse_rrule

from versioner.common.rules import ScheduleConfig

# How far ahead a verdict or a preview looks for recurring windows, and how many it examines at
# most: evaluate runs on every deployment, so no rrule may make it walk further.
HORIZON = timedelta(days=10 * 366)
MAX_SCAN = 1000
# A COUNT rule is expanded once and kept; beyond this many occurrences UNTIL is the way.
MAX_COUNT = 10_000
# Wider than any jump of a zone's UTC offset (Samoa skipped a whole day in 2011): offsets this
# far either side of an instant show whether a search in local time must reach further.
_NEAR = timedelta(hours=26)
_INSTANT = timedelta(microseconds=1)
# The Gregorian calendar repeats every 400 years (146097 days, exactly 20871 weeks).
_CYCLE_YEARS = 400
_PERIODS = {
    YEARLY: timedelta(days=366),
    MONTHLY: timedelta(days=31),
    WEEKLY: timedelta(weeks=1),
    DAILY: timedelta(days=1),
    HOURLY: timedelta(hours=1),
    MINUTELY: timedelta(minutes=1),
    SECONDLY: timedelta(seconds=1),
}
_UTC_UNTIL = re.compile(r"UNTIL=(\d{8}T\d{6})Z", re.IGNORECASE)


@dataclass(frozen=True)
class Span:
    """One window: aware datetimes in UTC, `start` included, `end` excluded."""

    start: datetime
    end: datetime


@dataclass(frozen=True)
class ScheduleVerdict:
    """What a schedule rule says about one instant."""

    blocked: bool
    # Deny: the end of the chain in force. Allow: the next opening. None: nothing will change.
    retry_after: datetime | None
    # Deny: the chain in force. Allow: the window in force, else the next one to open.
    window: Span | None


@dataclass(frozen=True, eq=False)
class _Recurrence:
    """A parsed rrule (naive local occurrences), or why it cannot be used."""

    problem: str | None
    rule: rrule | None = None
    dtstart: datetime | None = None
    freq: int = DAILY
    interval: int = 1
    until: datetime | None = None
    expanded: tuple[datetime, ...] | None = None  # every occurrence of a COUNT rule

    @property
    def last(self) -> datetime | None:
        """The latest local start the rule allows, when it has one."""
        return self.expanded[-1] if self.expanded else self.until

    def starts(self, low: datetime, high: datetime) -> Iterator[datetime]:
        """Occurrence starts (naive local) from `low` to `high` inclusive, ascending."""
        if self.rule is None or self.dtstart is None:
            return
        if self.expanded is not None:
            for start in self.expanded[bisect_left(self.expanded, low) :]:
                if start > high:
                    return
                yield start
            return
        if self.until is not None and low > self.until:
            return
        for start in _rebased(self, _rebase_point(self, low)).xafter(low, inc=True):
            if start > high:
                return
            yield start


def rrule_problem(config: ScheduleConfig) -> str | None:
    """Why the config's rrule cannot be used (unparseable, or never occurs), else None."""
    if not config.rrule:
        return None
    # Without `dtstart` the creation day is not known here; any midnight gives the same answer
    # unless an UNTIL falls between it and the real creation day.
    dtstart = config.dtstart or datetime.combine(date(2000, 1, 1), time())
    return _recurrence(config.rrule, dtstart, config.timezone).problem


def occurrences(
    config: ScheduleConfig, *, created: datetime, after: datetime, until: datetime
) -> list[Span]:
    """Every window (one-time and recurring) overlapping [after, until), by start then end."""
    schedule = _Schedule(config, created)
    after, until = after.astimezone(UTC), until.astimezone(UTC)
    one_time = [span for span in schedule.one_time if span.start < until and span.end > after]
    return sorted(one_time + schedule.recurring(after, until), key=_order)


def next_windows(
    config: ScheduleConfig, *, created: datetime, now: datetime, count: int
) -> list[Span]:
    """The next `count` windows not ended at `now` (the one in force first), by start."""
    if count <= 0:
        return []
    schedule = _Schedule(config, created)
    now = now.astimezone(UTC)
    limit = schedule.limit(now)
    high = min(now + schedule.period * count, limit)
    while True:
        spans, scanned = schedule.ahead(now, high)
        # Recurring windows starting before `high` are the first of all that end after now.
        if scanned >= count or high >= limit:
            return spans[:count]
        high = min(now + 2 * (high - now), limit)


def evaluate(config: ScheduleConfig, *, created: datetime, now: datetime) -> ScheduleVerdict:
    """Whether `now` falls in a deny window (or outside every allow window), and until when."""
    schedule = _Schedule(config, created)
    now = now.astimezone(UTC)
    spans, _ = schedule.ahead(now, now + _INSTANT)
    in_force = [span for span in spans if span.start <= now]
    if config.kind == "deny":
        if not in_force:
            return ScheduleVerdict(blocked=False, retry_after=None, window=None)
        end = _chain_end(schedule, now, max(span.end for span in in_force))
        return ScheduleVerdict(blocked=True, retry_after=end, window=Span(in_force[0].start, end))
    if in_force:
        return ScheduleVerdict(blocked=False, retry_after=None, window=in_force[0])
    opening = _next_opening(schedule, now)
    return ScheduleVerdict(
        blocked=True, retry_after=opening.start if opening else None, window=opening
    )


def _chain_end(schedule: "_Schedule", now: datetime, reach: datetime) -> datetime:
    """The end of the chain of overlapping or touching windows in force at `now`."""
    limit = schedule.limit(now)
    while True:
        high = min(now + 2 * (reach - now), limit)
        spans, scanned = schedule.ahead(now, high)
        end = now
        for span in spans:
            if span.start > end:
                break
            end = max(end, span.end)
        # Past the horizon or the scan limit the true end is unknown: retry where the search
        # stopped, and a new verdict looks further.
        if end < high or high >= limit or scanned >= MAX_SCAN:
            return end
        reach = end


def _next_opening(schedule: "_Schedule", now: datetime) -> Span | None:
    """The first window to open after `now`, when none is in force."""
    limit = schedule.limit(now)
    high = min(now + schedule.period, limit)
    while True:
        spans, _ = schedule.ahead(now, high)
        # Every one-time window is listed, recurring ones only those starting before `high`.
        if (spans and spans[0].start < high) or high >= limit:
            return spans[0] if spans else None
        high = min(now + 2 * (high - now), limit)


class _Schedule:
    """A config's windows as instants: one-time ones listed, recurring ones on demand."""

    def __init__(self, config: ScheduleConfig, created: datetime) -> None:
        self.zone = ZoneInfo(config.timezone)
        spans = (
            Span(_utc(window.start, self.zone), _utc(window.end, self.zone))
            for window in config.windows
        )
        # A window lying wholly in a spring-forward gap ends before it starts once moved: empty.
        self.one_time = [span for span in spans if span.end > span.start]
        self.duration = timedelta(minutes=config.duration_minutes or 0)
        self.recurrence: _Recurrence | None = None
        self.period = _PERIODS[DAILY]
        if config.rrule:
            dtstart = config.dtstart or datetime.combine(
                created.astimezone(self.zone).date(), time()
            )
            recurrence = _recurrence(config.rrule, dtstart, config.timezone)
            if recurrence.problem is None:
                self.recurrence = recurrence
                self.period = _PERIODS[recurrence.freq] * recurrence.interval

    def limit(self, now: datetime) -> datetime:
        """How far after `now` recurring windows are worth looking for."""
        if self.recurrence is None:
            return now + _INSTANT
        last = self.recurrence.last
        if last is None:
            return now + HORIZON
        # Past its last start (and the slack of a moved one) a recurrence has nothing more.
        return max(min(now + HORIZON, _utc(last, self.zone) + _NEAR), now + _INSTANT)

    def ahead(self, now: datetime, high: datetime) -> tuple[list[Span], int]:
        """Windows not ended at `now`: all one-time ones, recurring ones starting before `high`.

        Ordered by start; with the number of recurring ones among them.
        """
        recurring = self.recurring(now, high)
        one_time = [span for span in self.one_time if span.end > now]
        return sorted(one_time + recurring, key=_order), len(recurring)

    def recurring(self, after: datetime, until: datetime) -> list[Span]:
        """Recurring windows that overlap [after, until), ordered by start."""
        if self.recurrence is None:
            return []
        earliest = after - self.duration
        low = _local(earliest, self.zone) - _slack(earliest, self.zone)
        high = _local(until, self.zone) + _slack(until, self.zone)
        found = []
        for local_start in self.recurrence.starts(low, high):
            start = _utc(local_start, self.zone)
            end = start + self.duration
            if start < until and end > after:
                found.append(Span(start, end))
        # Starts moved out of a spring-forward gap can overtake the ones just after it.
        return sorted(found, key=_order)


def _slack(instant: datetime, zone: ZoneInfo) -> timedelta:
    """How far past `instant`'s local time a local search must reach: the offset change nearby."""
    offsets = [
        moment.astimezone(zone).utcoffset() or timedelta(0)
        for moment in (instant - _NEAR, instant, instant + _NEAR)
    ]
    return max(offsets) - min(offsets)


def _order(span: Span) -> tuple[datetime, datetime]:
    return (span.start, span.end)


def _utc(local: datetime, zone: ZoneInfo) -> datetime:
    return local.replace(tzinfo=zone).astimezone(UTC)


def _local(instant: datetime, zone: ZoneInfo) -> datetime:
    return instant.astimezone(zone).replace(tzinfo=None)


@lru_cache(maxsize=1024)
def _recurrence(text: str, dtstart: datetime, timezone: str) -> _Recurrence:
    """The rrule parsed and checked once: parsing and the emptiness check are the costly part."""
    if "DTSTART" in text.upper():
        return _Recurrence("give the start in `dtstart`, not inside the rrule")
    try:
        rule = parse_rrule(_local_until(text, ZoneInfo(timezone)), dtstart=dtstart)
    except Exception as error:  # dateutil reports bad input with assorted exception types
        return _Recurrence(f"cannot parse the rrule: {error}")
    if not isinstance(rule, rrule):
        return _Recurrence("give a single RRULE such as FREQ=WEEKLY;BYDAY=FR;BYHOUR=17")
    # str() gives dateutil's canonical form: "DTSTART:…\nRRULE:FREQ=…;INTERVAL=…;…".
    canonical = str(rule).splitlines()[-1].removeprefix("RRULE:")
    parts = dict(part.split("=", 1) for part in canonical.split(";"))
    interval = int(parts.get("INTERVAL", "1"))
    count = int(parts["COUNT"]) if "COUNT" in parts else None
    until = datetime.fromisoformat(parts["UNTIL"]) if "UNTIL" in parts else None
    if interval < 1:
        return _Recurrence("INTERVAL must be at least 1")
    if count is not None and until is not None:
        return _Recurrence("give COUNT or UNTIL, not both")
    if count is not None and count > MAX_COUNT:
        return _Recurrence(f"COUNT may be at most {MAX_COUNT}; give UNTIL instead")
    freq = FREQNAMES.index(parts["FREQ"])
    if "BYSETPOS" in parts and freq > DAILY:
        # Within an hour or a minute BYSETPOS means little, and an empty one could only be
        # found by walking every hour (or minute) to the year 9999.
        return _Recurrence("BYSETPOS needs FREQ=DAILY or longer")
    recurrence = _Recurrence(
        None,
        rule=rule,
        dtstart=dtstart.replace(microsecond=0),
        freq=freq,
        interval=interval,
        until=until,
    )
    try:
        if not _repeats(recurrence):
            return _Recurrence("the rrule yields no occurrence")
        if count is not None:
            expanded = tuple(rule)
            if not expanded:
                return _Recurrence("the rrule yields no occurrence (COUNT=0)")
            return replace(recurrence, expanded=expanded)
        if until is not None and rule.after(dtstart, inc=True) is None:
            return _Recurrence("the rrule yields no occurrence: UNTIL comes before the first")
    except ValueError as error:  # some impossible BY… values only fail once iterated
        return _Recurrence(f"cannot expand the rrule: {error}")
    return recurrence


def _repeats(recurrence: _Recurrence) -> bool:
    """Whether the rule's pattern (COUNT and UNTIL aside) ever yields an occurrence.

    dateutil walks period by period up to the year 9999 before it gives up on an empty pattern,
    so the pattern is moved by whole calendar cycles (times its INTERVAL, keeping its phase) to
    between one and two cycles before that end, and only those are searched.
    """
    assert recurrence.rule is not None
    assert recurrence.dtstart is not None
    cycle = _CYCLE_YEARS * recurrence.interval
    cycles = max(0, (MAXYEAR - cycle - recurrence.dtstart.year) // cycle)
    start = recurrence.dtstart + relativedelta(years=cycles * cycle)
    pattern = recurrence.rule.replace(dtstart=start, count=None, until=None)
    return pattern.after(start, inc=True) is not None


def _rebase_point(recurrence: _Recurrence, low: datetime) -> datetime:
    """A start for the same rule, at least one whole period before `low`, in phase with it.

    dateutil always walks from a rule's dtstart, so searching years later starts from a later
    dtstart instead: whole multiples of INTERVAL periods keep the weekday, day of month, month
    and time of day the rule takes its defaults from.
    """
    assert recurrence.dtstart is not None
    dtstart, interval = recurrence.dtstart, recurrence.interval
    if low <= dtstart:
        return dtstart
    if recurrence.freq in (YEARLY, MONTHLY):
        months = interval * (12 if recurrence.freq == YEARLY else 1)
        steps = ((low.year - dtstart.year) * 12 + low.month - dtstart.month) // months - 1
        while steps > 0:
            # A day 29-31 start must land on a month that has that day.
            point = dtstart + relativedelta(months=steps * months)
            if point.day == dtstart.day:
                return point
            steps -= 1
        return dtstart
    step = _PERIODS[recurrence.freq] * interval
    return dtstart + step * max(0, (low - dtstart) // step - 1)


@lru_cache(maxsize=256)
def _rebased(recurrence: _Recurrence, point: datetime) -> rrule:
    assert recurrence.rule is not None
    if point == recurrence.dtstart:
        return recurrence.rule
    return recurrence.rule.replace(dtstart=point)


def _local_until(text: str, zone: ZoneInfo) -> str:
    """The rrule with a UTC UNTIL (RFC 5545's form) turned into local time like the rest."""

    def local(match: re.Match[str]) -> str:
        instant = datetime.fromisoformat(match.group(1) + "+00:00")
        return "UNTIL=" + _local(instant, zone).strftime("%Y%m%dT%H%M%S")

    return _UTC_UNTIL.sub(local, text)
