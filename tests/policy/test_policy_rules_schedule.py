"""Schedule rules through a real `deployment started`: deny and allow windows, DST, midnight.

Every verdict here is asked at an instant set on the frozen clock; rules are created at the
suite's T0 (Monday 2026-03-02 09:00 UTC), so a recurrence without `dtstart` starts that day.
Berlin is UTC+1 until Sunday 2026-03-29 02:00 local, UTC+2 after.
"""

from datetime import UTC, datetime
from typing import Any

from tests.support.policy import ADMIN, Policy, detail_of, recorded, refused, result
from versioner.common.errors import ErrorDetail
from versioner.common.messages.management import CreateRule
from versioner.common.rules import RuleMode, RulePublic

BERLIN = "Europe/Berlin"
FRIDAY_FREEZE = {
    "kind": "deny",
    "timezone": BERLIN,
    "reason": "weekend",
    "rrule": "FREQ=WEEKLY;BYDAY=FR;BYHOUR=17;BYMINUTE=0",
    "duration_minutes": 900,
}
BUSINESS_HOURS = {
    "kind": "allow",
    "timezone": BERLIN,
    "rrule": "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR;BYHOUR=9;BYMINUTE=0",
    "duration_minutes": 480,
}


def _utc(day: str, hour: int, minute: int = 0) -> datetime:
    """An instant in UTC, `day` as YYYY-MM-DD."""
    return datetime.fromisoformat(day).replace(hour=hour, minute=minute, tzinfo=UTC)


async def _schedule(
    policy: Policy,
    config: dict[str, Any],
    *,
    name: str = "freeze",
    mode: RuleMode = "enabled",
    environments: list[str] | None = None,
) -> RulePublic:
    request = CreateRule(
        actor=ADMIN,
        name=name,
        rule_type="schedule",
        mode=mode,
        environments=environments or [],
        config=config,
    )
    return result(await policy.ask(request), RulePublic)


async def _blocked_at(policy: Policy, at: datetime, environment: str = "production") -> ErrorDetail:
    policy.clock.at = at
    return detail_of(refused(await policy.start("api", "1.0.0", environment), 428))


async def _let_through_at(policy: Policy, at: datetime, environment: str = "production") -> None:
    policy.clock.at = at
    d = recorded(await policy.start("api", "1.0.0", environment))
    assert d.extra_metadata["preflight_status"]["status"] == "passed"


# --- one-time deny windows -----------------------------------------------------------------


async def test_a_one_time_deny_window_blocks_with_428_until_its_end(policy: Policy) -> None:
    await _schedule(
        policy,
        {
            "kind": "deny",
            "timezone": BERLIN,
            "reason": "spring sale",
            "windows": [{"start": "2026-03-10T00:00", "end": "2026-03-12T00:00"}],
        },
        name="sale freeze",
    )
    detail = await _blocked_at(policy, _utc("2026-03-10", 12))
    assert detail.error == "deployment_blocked"
    assert detail.code == "NO_DEPLOY_WINDOW"
    # Midnight in Berlin (UTC+1) is 23:00 UTC the day before.
    assert detail.retry_after == _utc("2026-03-11", 23)
    assert detail.message == (
        "No deployments to production during 'sale freeze' (spring sale) until "
        "2026-03-11 23:00 UTC. Retry then."
    )
    assert detail.details["rule_name"] == "sale freeze"
    assert detail.details["window_kind"] == "deny"
    assert detail.details["window_start"] == "2026-03-09T23:00:00Z"
    assert detail.details["window_end"] == "2026-03-11T23:00:00Z"
    assert detail.details["timezone"] == BERLIN
    [violation] = detail.details["violations"]
    assert violation["code"] == "NO_DEPLOY_WINDOW"
    assert violation["rule_name"] == "sale freeze"
    assert violation["rule_type"] == "schedule"
    assert violation["retry_after"] == "2026-03-11T23:00:00Z"


async def test_a_one_time_deny_window_lets_through_from_its_end(policy: Policy) -> None:
    await _schedule(
        policy,
        {
            "timezone": BERLIN,
            "windows": [{"start": "2026-03-10T00:00", "end": "2026-03-12T00:00"}],
        },
    )
    await _let_through_at(policy, _utc("2026-03-11", 23))


async def test_a_deny_window_not_yet_open_lets_through(policy: Policy) -> None:
    await _schedule(
        policy,
        {
            "timezone": BERLIN,
            "windows": [{"start": "2026-03-10T00:00", "end": "2026-03-12T00:00"}],
        },
    )
    await _let_through_at(policy, _utc("2026-03-09", 22, 59))


# --- recurring deny windows ----------------------------------------------------------------


async def test_a_weekly_deny_window_blocks_until_the_end_of_the_occurrence(
    policy: Policy,
) -> None:
    await _schedule(policy, FRIDAY_FREEZE, name="friday freeze")
    # Friday 6 March, 19:00 in Berlin; the freeze runs 15 hours from 17:00 local.
    detail = await _blocked_at(policy, _utc("2026-03-06", 18))
    assert detail.code == "NO_DEPLOY_WINDOW"
    assert detail.retry_after == _utc("2026-03-07", 7)
    assert detail.details["window_start"] == "2026-03-06T16:00:00Z"
    assert "until 2026-03-07 07:00 UTC. Retry then." in detail.message
    assert "(weekend)" in detail.message


async def test_touching_deny_windows_answer_the_end_of_the_whole_chain(policy: Policy) -> None:
    # The recurring freeze ends Saturday 08:00 local, exactly where a one-time window begins.
    await _schedule(
        policy,
        {**FRIDAY_FREEZE, "windows": [{"start": "2026-03-07T08:00", "end": "2026-03-07T12:00"}]},
    )
    detail = await _blocked_at(policy, _utc("2026-03-06", 20))
    assert detail.retry_after == _utc("2026-03-07", 11)
    assert detail.details["window_start"] == "2026-03-06T16:00:00Z"
    assert detail.details["window_end"] == "2026-03-07T11:00:00Z"


async def test_a_weekly_deny_window_lets_the_rest_of_the_week_through(policy: Policy) -> None:
    await _schedule(policy, FRIDAY_FREEZE)
    await _let_through_at(policy, _utc("2026-03-07", 7))


# --- allow windows -------------------------------------------------------------------------


async def test_an_allow_window_blocks_outside_until_the_next_opening(policy: Policy) -> None:
    await _schedule(policy, BUSINESS_HOURS, name="business hours")
    # Saturday noon: the next opening is Monday 09:00 in Berlin.
    detail = await _blocked_at(policy, _utc("2026-03-07", 11))
    assert detail.code == "NO_DEPLOY_WINDOW"
    assert detail.retry_after == _utc("2026-03-09", 8)
    assert detail.message == (
        "Deployments to production are allowed only in the windows of 'business hours'; the "
        "next opens 2026-03-09 08:00 UTC. Retry then."
    )
    assert detail.details["window_kind"] == "allow"
    assert detail.details["window_start"] == "2026-03-09T08:00:00Z"
    assert detail.details["window_end"] == "2026-03-09T16:00:00Z"


async def test_an_allow_window_lets_through_inside(policy: Policy) -> None:
    await _schedule(policy, BUSINESS_HOURS)
    await _let_through_at(policy, _utc("2026-03-03", 15, 59))


async def test_an_allow_window_blocks_from_its_end(policy: Policy) -> None:
    await _schedule(policy, BUSINESS_HOURS)
    detail = await _blocked_at(policy, _utc("2026-03-03", 16))
    assert detail.retry_after == _utc("2026-03-04", 8)


async def test_an_allow_rule_with_no_window_left_blocks_without_retry_after(
    policy: Policy,
) -> None:
    await _schedule(
        policy,
        {
            "kind": "allow",
            "timezone": BERLIN,
            "windows": [{"start": "2026-03-01T08:00", "end": "2026-03-01T09:00"}],
        },
        name="one morning",
    )
    detail = await _blocked_at(policy, _utc("2026-03-02", 9))
    assert detail.retry_after is None
    assert detail.details["violations"][0]["retry_after"] is None
    assert "none is left. Change the rule to deploy." in detail.message


# --- daylight saving and midnight ----------------------------------------------------------


async def test_a_weekly_freeze_keeps_its_local_hour_after_the_dst_change(policy: Policy) -> None:
    await _schedule(policy, FRIDAY_FREEZE)
    # Friday 3 April, 17:30 CEST (15:30 UTC): at last week's offset it would be 16:30 local.
    detail = await _blocked_at(policy, _utc("2026-04-03", 15, 30))
    assert detail.details["window_start"] == "2026-04-03T15:00:00Z"
    assert detail.retry_after == _utc("2026-04-04", 6)


async def test_a_weekly_freeze_before_the_dst_change_opens_at_17_cet(policy: Policy) -> None:
    await _schedule(policy, FRIDAY_FREEZE)
    # Friday 27 March, 16:30 CET: the freeze starts at 16:00 UTC that week, not 15:00.
    await _let_through_at(policy, _utc("2026-03-27", 15, 30))


async def test_a_nightly_window_over_the_dst_night_lasts_its_elapsed_minutes(
    policy: Policy,
) -> None:
    await _schedule(
        policy,
        {
            "timezone": BERLIN,
            "rrule": "FREQ=DAILY;BYHOUR=22;BYMINUTE=0",
            "duration_minutes": 480,
        },
    )
    # Saturday 28 March 22:00 CET (21:00 UTC) + 8 h elapsed = 05:00 UTC, 07:00 CEST.
    detail = await _blocked_at(policy, _utc("2026-03-29", 4, 30))
    assert detail.details["window_start"] == "2026-03-28T21:00:00Z"
    assert detail.retry_after == _utc("2026-03-29", 5)


async def test_a_window_starting_in_the_spring_forward_gap_starts_at_its_end(
    policy: Policy,
) -> None:
    await _schedule(
        policy,
        {
            "timezone": BERLIN,
            "rrule": "FREQ=DAILY;BYHOUR=2;BYMINUTE=30",
            "duration_minutes": 60,
        },
    )
    # 02:30 does not exist on 29 March: it moves to 03:30 CEST (01:30 UTC).
    await _let_through_at(policy, _utc("2026-03-29", 1, 15), environment="staging")
    detail = await _blocked_at(policy, _utc("2026-03-29", 1, 45))
    assert detail.details["window_start"] == "2026-03-29T01:30:00Z"
    assert detail.retry_after == _utc("2026-03-29", 2, 30)


async def test_a_window_crossing_midnight_blocks_after_midnight_until_its_end(
    policy: Policy,
) -> None:
    await _schedule(
        policy,
        {
            "timezone": BERLIN,
            "rrule": "FREQ=DAILY;BYHOUR=22;BYMINUTE=0",
            "duration_minutes": 240,
        },
    )
    # 01:30 on Tuesday in Berlin, inside Monday's 22:00-02:00 window.
    detail = await _blocked_at(policy, _utc("2026-03-10", 0, 30))
    assert detail.details["window_start"] == "2026-03-09T21:00:00Z"
    assert detail.retry_after == _utc("2026-03-10", 1)


async def test_a_window_crossing_midnight_lets_through_once_it_ends(policy: Policy) -> None:
    await _schedule(
        policy,
        {
            "timezone": BERLIN,
            "rrule": "FREQ=DAILY;BYHOUR=22;BYMINUTE=0",
            "duration_minutes": 240,
        },
    )
    await _let_through_at(policy, _utc("2026-03-10", 1))


# --- scope -----------------------------------------------------------------------------------


async def test_a_schedule_rule_scoped_to_production_lets_staging_through(policy: Policy) -> None:
    await _schedule(policy, FRIDAY_FREEZE, environments=["production"])
    await _let_through_at(policy, _utc("2026-03-06", 18), environment="staging")
