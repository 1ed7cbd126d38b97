"""Schedule rules: local windows, recurrences, chains, openings (API.md, "Policy configuration")."""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from dateutil.rrule import rrule, rrulestr

from versioner.common.rules import ScheduleConfig
from versioner.policy.rules.schedule import (
    MAX_SCAN,
    ScheduleVerdict,
    Span,
    evaluate,
    next_windows,
    occurrences,
    rrule_problem,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
CREATED = datetime(2026, 1, 1, tzinfo=UTC)
FRIDAY_EVENING = "FREQ=WEEKLY;BYDAY=FR;BYHOUR=17;BYMINUTE=0"
BUSINESS_HOURS = "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR;BYHOUR=9;BYMINUTE=0"


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, micro: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, micro, tzinfo=UTC)


def berlin(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=BERLIN)


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute)


@dataclass
class Steps:
    count: int = 0


@contextmanager
def walked() -> Iterator[Steps]:
    """Counts the occurrences dateutil generates inside the block: the cost, without a clock."""
    steps = Steps()
    generate = rrule._iter  # type: ignore[attr-defined]  # dateutil's generator of a rule's occurrences

    def counted(self: rrule) -> Iterator[datetime]:
        for occurrence in generate(self):
            steps.count += 1
            yield occurrence

    rrule._iter = counted  # type: ignore[attr-defined]
    try:
        yield steps
    finally:
        rrule._iter = generate  # type: ignore[attr-defined]


def config(**fields: Any) -> ScheduleConfig:
    return ScheduleConfig.model_validate(fields)


def at(rule: ScheduleConfig, now: datetime) -> ScheduleVerdict:
    return evaluate(rule, created=CREATED, now=now)


def free() -> ScheduleVerdict:
    return ScheduleVerdict(blocked=False, retry_after=None, window=None)


def blocked(retry_after: datetime | None, window: Span | None) -> ScheduleVerdict:
    return ScheduleVerdict(blocked=True, retry_after=retry_after, window=window)


def allowed(window: Span) -> ScheduleVerdict:
    return ScheduleVerdict(blocked=False, retry_after=None, window=window)


def friday_evening_freeze() -> ScheduleConfig:
    return config(
        timezone="Europe/Berlin",
        rrule=FRIDAY_EVENING,
        dtstart=local(2026, 1, 2, 17, 0),
        duration_minutes=900,
    )


def test_a_one_time_deny_window_blocks_inside_only_start_included_end_excluded() -> None:
    rule = config(
        timezone="Europe/Berlin",
        windows=[{"start": local(2026, 12, 23), "end": local(2027, 1, 2)}],
    )
    freeze = Span(utc(2026, 12, 22, 23), utc(2027, 1, 1, 23))

    assert at(rule, berlin(2026, 12, 23)) == blocked(freeze.end, freeze)
    assert at(rule, berlin(2026, 12, 28, 12)) == blocked(freeze.end, freeze)
    assert at(rule, utc(2026, 12, 22, 22, 59, 59)) == free()
    assert at(rule, berlin(2027, 1, 2)) == free()


def test_verdict_times_are_in_utc() -> None:
    verdict = at(friday_evening_freeze(), berlin(2026, 1, 9, 18))

    assert verdict.retry_after is not None
    assert verdict.window is not None
    assert verdict.retry_after.tzinfo is UTC
    assert verdict.window.start.tzinfo is UTC


def test_touching_one_time_deny_windows_chain_into_one_retry_after() -> None:
    rule = config(
        windows=[
            {"start": local(2026, 1, 1), "end": local(2026, 1, 2)},
            {"start": local(2026, 1, 2), "end": local(2026, 1, 3)},
            {"start": local(2026, 1, 4), "end": local(2026, 1, 5)},
        ]
    )

    chain = Span(utc(2026, 1, 1), utc(2026, 1, 3))
    assert at(rule, utc(2026, 1, 1, 12)) == blocked(chain.end, chain)
    # From the second window on only it is in force: the first has ended.
    second = Span(utc(2026, 1, 2), utc(2026, 1, 3))
    assert at(rule, utc(2026, 1, 2)) == blocked(second.end, second)
    assert at(rule, utc(2026, 1, 3, 12)) == free()


def test_overlapping_one_time_deny_windows_chain_to_the_last_end() -> None:
    rule = config(
        windows=[
            {"start": local(2026, 1, 1, 10), "end": local(2026, 1, 1, 12)},
            {"start": local(2026, 1, 1, 9), "end": local(2026, 1, 1, 11)},
            {"start": local(2026, 1, 1, 11), "end": local(2026, 1, 1, 14)},
            {"start": local(2026, 1, 1, 13), "end": local(2026, 1, 1, 15)},
            {"start": local(2026, 1, 1, 15, 30), "end": local(2026, 1, 1, 16)},
        ]
    )

    chain = Span(utc(2026, 1, 1, 9), utc(2026, 1, 1, 15))
    assert at(rule, utc(2026, 1, 1, 10, 30)) == blocked(chain.end, chain)


def test_a_weekly_friday_evening_freeze_in_berlin_lasts_until_saturday_eight() -> None:
    rule = friday_evening_freeze()
    weekend = Span(berlin(2026, 1, 9, 17), berlin(2026, 1, 10, 8))
    until_saturday = blocked(utc(2026, 1, 10, 7), weekend)

    assert at(rule, berlin(2026, 1, 9, 18)) == until_saturday
    assert at(rule, berlin(2026, 1, 10, 7, 59)) == until_saturday
    assert at(rule, berlin(2026, 1, 10, 8)) == free()
    assert at(rule, berlin(2026, 1, 9, 16, 59)) == free()


def test_a_weekly_freeze_keeps_its_local_hour_across_the_dst_change() -> None:
    rule = friday_evening_freeze()

    windows = occurrences(rule, created=CREATED, after=utc(2026, 3, 23), until=utc(2026, 4, 6))

    assert windows == [
        Span(utc(2026, 3, 27, 16), utc(2026, 3, 28, 7)),  # 17:00 CET
        Span(utc(2026, 4, 3, 15), utc(2026, 4, 4, 6)),  # 17:00 CEST
    ]
    assert at(rule, berlin(2026, 4, 3, 16, 59)) == free()
    assert at(rule, berlin(2026, 4, 3, 17)).blocked


def test_a_daily_window_crosses_midnight() -> None:
    rule = config(
        rrule="FREQ=DAILY;BYHOUR=22;BYMINUTE=0",
        dtstart=local(2026, 5, 1),
        duration_minutes=480,
    )
    night = Span(utc(2026, 5, 10, 22), utc(2026, 5, 11, 6))

    assert at(rule, utc(2026, 5, 10, 23, 30)) == blocked(night.end, night)
    assert at(rule, utc(2026, 5, 11, 2)) == blocked(night.end, night)
    assert at(rule, utc(2026, 5, 11, 6)) == free()
    assert at(rule, utc(2026, 5, 10, 21, 59)) == free()


def test_a_start_in_the_spring_forward_gap_moves_forward_by_the_gap() -> None:
    rule = config(
        timezone="Europe/Berlin",
        rrule="FREQ=DAILY;BYHOUR=2;BYMINUTE=30",
        dtstart=local(2026, 3, 27),
        duration_minutes=60,
    )

    windows = occurrences(rule, created=CREATED, after=utc(2026, 3, 28), until=utc(2026, 3, 31))

    assert windows == [
        Span(utc(2026, 3, 28, 1, 30), utc(2026, 3, 28, 2, 30)),  # 02:30 CET
        Span(utc(2026, 3, 29, 1, 30), utc(2026, 3, 29, 2, 30)),  # 02:30 is 03:30 CEST that day
        Span(utc(2026, 3, 30, 0, 30), utc(2026, 3, 30, 1, 30)),  # 02:30 CEST
    ]
    assert at(rule, berlin(2026, 3, 29, 3, 29)) == free()
    assert at(rule, berlin(2026, 3, 29, 3, 30)).blocked
    # Searched from 04:15 CEST less the hour it lasts, local 03:15: the window at 02:30 local
    # still covers that instant.
    assert at(rule, utc(2026, 3, 29, 2, 15)) == blocked(utc(2026, 3, 29, 2, 30), windows[1])


def test_a_one_time_window_starting_in_the_gap_starts_an_hour_later_local() -> None:
    rule = config(
        timezone="Europe/Berlin",
        windows=[
            {"start": local(2026, 3, 29, 2, 30), "end": local(2026, 3, 29, 5)},
            # Wholly inside the gap once moved forward: 03:30 to 03:00 is empty.
            {"start": local(2026, 3, 29, 2, 30), "end": local(2026, 3, 29, 3)},
        ],
    )

    assert occurrences(rule, created=CREATED, after=utc(2026, 3, 28), until=utc(2026, 3, 30)) == [
        Span(berlin(2026, 3, 29, 3, 30), berlin(2026, 3, 29, 5))
    ]


def test_duration_is_elapsed_time_across_the_spring_forward_gap() -> None:
    rule = config(
        timezone="Europe/Berlin",
        rrule="FREQ=DAILY;BYHOUR=1;BYMINUTE=0",
        dtstart=local(2026, 3, 1),
        duration_minutes=180,
    )

    [window] = occurrences(
        rule, created=CREATED, after=utc(2026, 3, 29, 0), until=utc(2026, 3, 29, 1)
    )

    assert window == Span(utc(2026, 3, 29, 0), utc(2026, 3, 29, 3))
    assert window.end.astimezone(BERLIN).replace(tzinfo=None) == local(2026, 3, 29, 5)


def test_an_ambiguous_fall_back_time_takes_its_first_occurrence() -> None:
    rule = config(
        timezone="Europe/Berlin",
        rrule="FREQ=DAILY;BYHOUR=2;BYMINUTE=30",
        dtstart=local(2026, 10, 20),
        duration_minutes=30,
        windows=[{"start": local(2026, 10, 25, 2, 30), "end": local(2026, 10, 25, 2, 45)}],
    )

    windows = occurrences(
        rule, created=CREATED, after=utc(2026, 10, 24, 12), until=utc(2026, 10, 25, 12)
    )

    # 02:30 CEST, the first time the clock shows 02:30 that night, not 02:30 CET an hour later.
    assert windows == [
        Span(utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 0, 45)),
        Span(utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 1)),
    ]
    assert at(rule, utc(2026, 10, 25, 1, 30)) == free()
    # 01:10Z is 02:10 CET, earlier on the clock than the window's 02:30, yet after it began.
    assert occurrences(
        rule, created=CREATED, after=utc(2026, 10, 25, 0, 50), until=utc(2026, 10, 25, 1, 10)
    ) == [windows[1]]


def test_a_new_york_rule_follows_new_york_daylight_saving() -> None:
    rule = config(
        timezone="America/New_York",
        rrule=FRIDAY_EVENING,
        dtstart=local(2026, 2, 27, 17),
        duration_minutes=120,
    )

    windows = occurrences(rule, created=CREATED, after=utc(2026, 3, 2), until=utc(2026, 3, 16))

    assert windows == [
        Span(utc(2026, 3, 6, 22), utc(2026, 3, 7, 0)),  # 17:00 EST
        Span(utc(2026, 3, 13, 21), utc(2026, 3, 13, 23)),  # 17:00 EDT, since March 8
    ]
    assert at(rule, datetime(2026, 3, 13, 18, 59, tzinfo=NEW_YORK)).blocked
    assert at(rule, datetime(2026, 3, 13, 19, tzinfo=NEW_YORK)) == free()


def business_hours() -> ScheduleConfig:
    return config(
        kind="allow", timezone="Europe/Berlin", rrule=BUSINESS_HOURS, duration_minutes=480
    )


def test_business_hours_allow_block_friday_evening_until_monday_nine() -> None:
    monday = Span(berlin(2026, 1, 19, 9), berlin(2026, 1, 19, 17))

    verdict = at(business_hours(), berlin(2026, 1, 16, 18))

    assert verdict == blocked(utc(2026, 1, 19, 8), monday)


def test_business_hours_allow_let_tuesday_morning_through() -> None:
    tuesday = Span(berlin(2026, 1, 13, 9), berlin(2026, 1, 13, 17))

    assert at(business_hours(), berlin(2026, 1, 13, 10)) == allowed(tuesday)
    assert at(business_hours(), berlin(2026, 1, 13, 17)) == blocked(
        utc(2026, 1, 14, 8), Span(berlin(2026, 1, 14, 9), berlin(2026, 1, 14, 17))
    )


def test_an_allow_rule_whose_only_window_has_passed_blocks_for_good() -> None:
    rule = config(kind="allow", windows=[{"start": local(2026, 1, 1), "end": local(2026, 1, 2)}])

    assert at(rule, utc(2026, 6, 1)) == blocked(None, None)


def test_an_allow_rule_opens_at_the_earlier_of_a_one_time_and_a_recurring_window() -> None:
    rule = config(
        kind="allow",
        rrule="FREQ=DAILY;BYHOUR=9",
        dtstart=local(2026, 1, 1),
        duration_minutes=60,
        windows=[{"start": local(2026, 1, 2, 7), "end": local(2026, 1, 2, 8)}],
    )

    assert at(rule, utc(2026, 1, 1, 12)).retry_after == utc(2026, 1, 2, 7)
    assert at(rule, utc(2026, 1, 2, 8)).retry_after == utc(2026, 1, 2, 9)


def test_the_default_dtstart_is_the_creation_day_at_midnight_in_the_rules_zone() -> None:
    rule = config(timezone="Asia/Tokyo", rrule="FREQ=DAILY;BYHOUR=12", duration_minutes=60)
    may = {"after": utc(2026, 5, 1), "until": utc(2026, 5, 8)}

    # 15:00Z on May 5 is already midnight of May 6 in Tokyo: nothing on May 5.
    windows = occurrences(rule, created=utc(2026, 5, 5, 15), **may)
    assert windows[0] == Span(utc(2026, 5, 6, 3), utc(2026, 5, 6, 4))  # 12:00 JST
    assert len(windows) == 2
    # A minute earlier it is still May 5 there, and May 5 at noon counts.
    windows = occurrences(rule, created=utc(2026, 5, 5, 14, 59), **may)
    assert windows[0] == Span(utc(2026, 5, 5, 3), utc(2026, 5, 5, 4))
    assert len(windows) == 3


def test_count_ends_a_recurrence() -> None:
    rule = config(rrule="FREQ=DAILY;COUNT=3", dtstart=local(2026, 1, 1, 9), duration_minutes=60)

    windows = occurrences(rule, created=CREATED, after=utc(2025, 12, 1), until=utc(2026, 2, 1))

    assert [window.start for window in windows] == [utc(2026, 1, d, 9) for d in (1, 2, 3)]
    assert next_windows(rule, created=CREATED, now=utc(2026, 1, 3, 10), count=5) == []


def test_until_ends_a_recurrence_inclusively() -> None:
    rule = config(
        rrule="FREQ=DAILY;UNTIL=20260105T090000", dtstart=local(2026, 1, 1, 9), duration_minutes=60
    )

    windows = next_windows(rule, created=CREATED, now=utc(2025, 1, 1), count=10)

    assert [window.start for window in windows] == [utc(2026, 1, d, 9) for d in range(1, 6)]


def test_a_utc_until_counts_as_that_instant() -> None:
    # 08:00Z is 09:00 in Berlin: the window of January 3 at 09:00 local is the last.
    rule = config(
        timezone="Europe/Berlin",
        rrule="FREQ=DAILY;BYHOUR=9;UNTIL=20260103T080000Z",
        dtstart=local(2026, 1, 1),
        duration_minutes=60,
    )

    windows = next_windows(rule, created=CREATED, now=utc(2025, 1, 1), count=10)

    assert [window.start for window in windows] == [utc(2026, 1, d, 8) for d in (1, 2, 3)]


def test_an_hourly_rule_ten_years_on_is_evaluated_without_walking_the_decade() -> None:
    rule = config(rrule="FREQ=HOURLY", dtstart=local(2016, 1, 1), duration_minutes=15)

    with walked() as steps:
        verdict = at(rule, utc(2026, 6, 1, 12, 5))

    window = Span(utc(2026, 6, 1, 12), utc(2026, 6, 1, 12, 15))
    assert verdict == blocked(window.end, window)
    assert steps.count < 100  # the decade holds 87,600 occurrences


def test_a_secondly_rule_decades_on_is_evaluated_without_walking_a_billion_seconds() -> None:
    rule = config(
        rrule="FREQ=SECONDLY;INTERVAL=10", dtstart=local(1990, 1, 1), duration_minutes=0.05
    )

    with walked() as steps:
        verdicts = [at(rule, utc(2026, 6, 1, 12, 0, second)) for second in (2, 3, 9, 10)]

    assert [verdict.blocked for verdict in verdicts] == [True, False, False, True]
    assert steps.count < 100


def test_an_endless_deny_chain_is_cut_at_the_scan_limit_and_retried_there() -> None:
    rule = config(rrule="FREQ=HOURLY", dtstart=local(2026, 1, 1), duration_minutes=60)
    now = utc(2026, 6, 1, 12, 30)

    with walked() as steps:
        verdict = at(rule, now)

    assert verdict.blocked
    assert verdict.retry_after is not None
    assert verdict.retry_after >= now + timedelta(hours=MAX_SCAN // 2)
    assert steps.count < 3 * MAX_SCAN  # the chain never ends: only the scan limit stops it


def test_a_recurring_and_a_one_time_deny_window_touching_chain() -> None:
    rule = config(
        rrule="FREQ=DAILY;BYHOUR=22;BYMINUTE=0",
        dtstart=local(2026, 5, 1),
        duration_minutes=480,
        windows=[{"start": local(2026, 5, 11, 6), "end": local(2026, 5, 11, 9)}],
    )
    chain = Span(utc(2026, 5, 10, 22), utc(2026, 5, 11, 9))

    assert at(rule, utc(2026, 5, 10, 23)) == blocked(chain.end, chain)


def test_next_windows_puts_the_window_in_force_first_and_mixes_both_kinds() -> None:
    rule = config(
        rrule="FREQ=DAILY;BYHOUR=22;BYMINUTE=0",
        dtstart=local(2026, 5, 1),
        duration_minutes=120,
        windows=[
            {"start": local(2026, 5, 11, 12), "end": local(2026, 5, 11, 13)},
            {"start": local(2026, 5, 10, 23), "end": local(2026, 5, 11, 1)},
            {"start": local(2026, 5, 1), "end": local(2026, 5, 2)},
        ],
    )
    now = utc(2026, 5, 10, 22, 30)

    expected = [
        Span(utc(2026, 5, 10, 22), utc(2026, 5, 11)),
        Span(utc(2026, 5, 10, 23), utc(2026, 5, 11, 1)),
        Span(utc(2026, 5, 11, 12), utc(2026, 5, 11, 13)),
        Span(utc(2026, 5, 11, 22), utc(2026, 5, 12)),
    ]
    assert next_windows(rule, created=CREATED, now=now, count=4) == expected
    assert next_windows(rule, created=CREATED, now=now, count=2) == expected[:2]
    assert next_windows(rule, created=CREATED, now=now, count=0) == []
    assert len(next_windows(rule, created=CREATED, now=now, count=1000)) == 1000


def test_next_windows_of_a_yearly_rule_reach_years_ahead() -> None:
    rule = config(
        timezone="Europe/Berlin",
        rrule="FREQ=YEARLY;BYMONTH=12;BYMONTHDAY=23",
        dtstart=local(2026, 1, 1),
        duration_minutes=10 * 24 * 60,
    )

    windows = next_windows(rule, created=CREATED, now=utc(2026, 6, 1), count=3)

    assert [window.start for window in windows] == [
        berlin(2026, 12, 23),
        berlin(2027, 12, 23),
        berlin(2028, 12, 23),
    ]


def test_the_rebased_search_finds_what_a_full_expansion_finds() -> None:
    rules = [
        "FREQ=WEEKLY;INTERVAL=3;BYDAY=MO,FR;BYSETPOS=1",
        "FREQ=MONTHLY;BYMONTHDAY=31;INTERVAL=2",
        "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29",
        "FREQ=MONTHLY;BYDAY=-1FR;BYHOUR=18",
        "FREQ=HOURLY;INTERVAL=5;BYHOUR=1,6,11,16",
        "FREQ=DAILY;INTERVAL=3;BYHOUR=2;BYMINUTE=30",
    ]
    dtstart = local(2024, 2, 29, 13, 17)
    for text in rules:
        rule = config(timezone="Europe/Berlin", rrule=text, dtstart=dtstart, duration_minutes=90)
        expansion = rrulestr(text, dtstart=dtstart).between(dtstart, local(2031, 1, 1), inc=True)
        # Every day of three weeks, so each phase of a period begins a search.
        for day in range(21):
            after = utc(2026, 3, 20, 7) + timedelta(days=day, hours=5 * day)
            until = after + timedelta(days=3 + 20 * day)
            starts = [moment.replace(tzinfo=BERLIN).astimezone(UTC) for moment in expansion]
            expected = [
                Span(start, start + timedelta(minutes=90))
                for start in sorted(starts)
                if start < until and start + timedelta(minutes=90) > after
            ]
            found = occurrences(rule, created=CREATED, after=after, until=until)
            assert found == expected, text


def test_a_duration_may_be_a_fraction_of_a_minute() -> None:
    rule = config(
        rrule="FREQ=MINUTELY;INTERVAL=10", dtstart=local(2026, 1, 1), duration_minutes=0.05
    )
    window = Span(utc(2026, 1, 1, 0, 10), utc(2026, 1, 1, 0, 10, 3))

    assert at(rule, utc(2026, 1, 1, 0, 10, 2, 999999)) == blocked(window.end, window)
    assert at(rule, utc(2026, 1, 1, 0, 10, 3)) == free()


def problem(text: str, **fields: Any) -> str | None:
    return rrule_problem(config(rrule=text, duration_minutes=60, **fields))


def test_rrule_problem_accepts_usable_rules() -> None:
    assert problem(FRIDAY_EVENING, dtstart=local(2026, 1, 2, 17)) is None
    assert problem(BUSINESS_HOURS) is None
    assert problem("RRULE:FREQ=MONTHLY;BYDAY=-1FR") is None
    assert problem("FREQ=DAILY;UNTIL=20270101T000000Z", timezone="Europe/Berlin") is None
    assert problem("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29;BYDAY=MO") is None
    assert (
        rrule_problem(config(windows=[{"start": local(2026, 1, 1), "end": local(2026, 1, 2)}]))
        is None
    )


def test_rrule_problem_reports_an_unparseable_rule() -> None:
    assert "cannot parse" in (problem("FREQ=SOMETIMES") or "")
    assert "cannot parse" in (problem("every friday") or "")
    assert "INTERVAL" in (problem("FREQ=DAILY;INTERVAL=0") or "")
    assert "dtstart" in (problem("DTSTART:20260101T000000\nRRULE:FREQ=DAILY") or "")
    assert "single RRULE" in (problem("FREQ=DAILY\nEXDATE:20260105T000000") or "")


def test_rrule_problem_reports_a_rule_that_never_occurs() -> None:
    assert "no occurrence" in (problem("FREQ=DAILY;COUNT=0") or "")
    assert "no occurrence" in (
        problem("FREQ=DAILY;UNTIL=20250101T000000", dtstart=local(2026, 1, 1)) or ""
    )
    assert "no occurrence" in (problem("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30") or "")


def test_a_deny_rule_with_an_unusable_rrule_blocks_nothing() -> None:
    rule = config(rrule="FREQ=DAILY;COUNT=0", dtstart=local(2026, 1, 1), duration_minutes=60)

    assert at(rule, utc(2026, 1, 1, 0, 30)) == free()
