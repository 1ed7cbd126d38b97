"""The four DORA keys over hand-built histories, every answer worked out by hand.

The week's history (`_shop_week`), in production, from T0 (Monday 2 March 2026, 09:00 UTC):

| when        | what                                                                 |
|-------------|----------------------------------------------------------------------|
| day 0 +0h   | 1.0 built (no commit time, no start: its first build event)          |
| day 0 +1h   | 1.0 completes — lead 1h (first build event)                          |
| day 1 +1h   | 2.0 fails (built at +0h) — a failure, restored by 3.0 two hours on   |
| day 1 +2h   | 3.0 build event, which says it started at +1h                        |
| day 1 +3h   | 3.0 completes — lead 2h (build started)                              |
| day 2 +0h   | 4.0 built, committed at +0h                                          |
| day 2 +1h   | 4.0 completes — lead 1h (commit)                                     |
| day 2 +5h   | 3.0 completes again: 4.0 rolled back, restored after 4h              |
| day 3 +2h   | 5.0 completes (committed at +0h) — lead 2h (commit)                  |
| day 3 +4/5h | an incident against 5.0, resolved an hour later                      |
| day 4       | an incident in production for `lonely`, which never deployed: open   |
| day 5       | 6.0 reaches staging only: no lead time, not counted                  |

Completed: 5 (1.0, 3.0, 4.0, 3.0 again, 5.0); finished: 6 (and 2.0's failure). Failures: 2.0
failed, 4.0 rolled back, 5.0's incident: 3 of 6. Recoveries: 2h, 4h, 1h, and lonely's open.
"""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.support.insights import HOUR, day, incident, rfc3339
from tests.support.policy import ADMIN, T0, Policy, recorded, refused, result
from versioner.common.insights import DoraReport, IncidentPublic
from versioner.common.messages.management import DoraInsights
from versioner.policy.insights import period


async def _at(policy: Policy, at: datetime) -> None:
    policy.clock.at = at


async def _build(policy: Policy, product: str, version: str, at: datetime, **fields: Any) -> None:
    await _at(policy, at)
    await policy.build(product, version, **fields)


async def _complete(
    policy: Policy, product: str, version: str, at: datetime, environment: str = "production"
) -> None:
    await _at(policy, at)
    await policy.deploy(product, version, environment)


async def _shop_week(policy: Policy) -> None:
    await _build(policy, "shop", "1.0", day(0))
    await _complete(policy, "shop", "1.0", day(0, 1))
    await _build(policy, "shop", "2.0", day(1))
    await _at(policy, day(1, 1))
    recorded(await policy.start("shop", "2.0", "production"))
    recorded(await policy.report("shop", "2.0", "production", "failed"))
    await _build(policy, "shop", "3.0", day(1, 2), started_at=rfc3339(day(1, 1)))
    await _complete(policy, "shop", "3.0", day(1, 3))
    commit = {"vi_commit_timestamp": rfc3339(day(2))}
    await _build(policy, "shop", "4.0", day(2), extra_metadata=commit)
    await _complete(policy, "shop", "4.0", day(2, 1))
    await _complete(policy, "shop", "3.0", day(2, 5))
    # The commit time in another offset: 11:00+02:00 is 09:00 UTC, day 3 +0h.
    commit = {"vi_commit_timestamp": "2026-03-05T11:00:00+02:00"}
    await _build(policy, "shop", "5.0", day(3, 0.5), extra_metadata=commit)
    await _complete(policy, "shop", "5.0", day(3, 2))
    opened = await incident(policy, "INC-1", "opened", at=day(3, 4), title="Checkout errors")
    assert isinstance(opened, IncidentPublic)
    assert opened.version == "5.0"
    resolved = await incident(policy, "INC-1", "resolved", at=day(3, 5))
    assert isinstance(resolved, IncidentPublic)
    await _build(policy, "lonely", "0.1", day(4))
    await _at(policy, day(4, 1))
    # `lonely` never deployed: the environment exists (shop's), the incident attaches to nothing.
    lonely = await incident(policy, "INC-2", "opened", product="lonely", at=day(4, 1))
    assert isinstance(lonely, IncidentPublic)
    assert lonely.deployment_id is None
    await _build(policy, "shop", "6.0", day(5))
    await _complete(policy, "shop", "6.0", day(5, 1), environment="staging")


async def _dora(policy: Policy, **query: Any) -> DoraReport:
    policy.clock.at = day(10)
    return result(await policy.ask(DoraInsights(actor=ADMIN, **query)), DoraReport)


async def test_the_four_keys_over_a_hand_built_week(policy: Policy) -> None:
    await _shop_week(policy)
    report = await _dora(policy, since=T0, until=day(7), bucket="day")

    assert report.scope.environments == ["production"]
    assert report.scope.product is None
    frequency = report.deployment_frequency
    assert (frequency.deployments, frequency.per_week, frequency.deploy_days_per_week) == (5, 5, 4)
    assert frequency.level == "high"

    lead = report.lead_time
    # 1h (1.0), 2h (3.0), 1h (4.0), 2h (5.0): the median between 1h and 2h; p90 at rank 2.7.
    assert lead.versions == 4
    assert lead.median_s == 1.5 * HOUR
    assert lead.p90_s == 2 * HOUR
    assert lead.start_from.model_dump() == {"commit": 2, "build_started": 1, "first_build_event": 1}
    assert lead.level == "elite"

    cfr = report.change_failure_rate
    assert (cfr.deployments, cfr.failures, cfr.rate, cfr.level) == (6, 3, 0.5, "low")
    assert (cfr.failed, cfr.rolled_back, cfr.incidents) == (1, 1, 1)

    recovery = report.recovery_time
    # 2h, 4h, 1h restored; lonely's incident is still open.
    assert (recovery.failures, recovery.restored) == (4, 3)
    assert recovery.median_s == 2 * HOUR
    assert recovery.p90_s == pytest.approx(3.6 * HOUR)
    assert recovery.level == "high"

    buckets = [
        (b.start, b.deployments, b.failures, b.lead_time_median_s, b.recovery_median_s)
        for b in report.buckets
    ]
    midnight = datetime(2026, 3, 2, tzinfo=UTC)
    assert buckets == [
        (midnight, 1, 0, HOUR, None),
        (midnight + timedelta(days=1), 1, 1, 2 * HOUR, 2 * HOUR),
        (midnight + timedelta(days=2), 2, 1, HOUR, 4 * HOUR),
        (midnight + timedelta(days=3), 1, 1, 2 * HOUR, HOUR),
        *[(midnight + timedelta(days=n), 0, 0, None, None) for n in range(4, 8)],
    ]
    # Finished (completed or failed) per day, and the share that failed: 5.0's incident makes
    # day 3 all failure.
    rates = [(b.finished, b.failure_rate) for b in report.buckets[:5]]
    assert rates == [(1, 0), (2, 0.5), (2, 0.5), (1, 1), (0, None)]


async def test_one_product_leaves_out_the_others_incidents(policy: Policy) -> None:
    await _shop_week(policy)
    report = await _dora(policy, product="shop", since=T0, until=day(7))
    assert report.scope.product == "shop"
    assert (report.recovery_time.failures, report.recovery_time.restored) == (3, 3)
    lonely = await _dora(policy, product="lonely", since=T0, until=day(7))
    assert lonely.deployment_frequency.deployments == 0
    assert lonely.deployment_frequency.level is None
    assert (lonely.recovery_time.failures, lonely.recovery_time.restored) == (1, 0)
    assert lonely.recovery_time.median_s is None


async def test_staging_chosen_by_name_counts_only_there(policy: Policy) -> None:
    await _shop_week(policy)
    report = await _dora(policy, environments=["staging"], since=T0, until=day(7))
    assert report.scope.environments == ["staging"]
    assert report.deployment_frequency.deployments == 1
    # 6.0's build said nothing of its start: from its first build event, an hour.
    assert report.lead_time.versions == 1
    assert report.lead_time.median_s == HOUR
    assert report.change_failure_rate.rate == 0


async def test_a_version_first_arriving_before_the_period_has_no_lead_time_in_it(
    policy: Policy,
) -> None:
    await _shop_week(policy)
    # From day 2: 3.0 arrived on day 1, so its completion on day 2 is not a first arrival.
    report = await _dora(policy, since=day(2) - timedelta(hours=9), until=day(7))
    assert report.lead_time.versions == 2
    assert report.deployment_frequency.deployments == 3


async def test_bucket_edges_are_midnight_utc_monday_and_the_first(policy: Policy) -> None:
    await _build(policy, "shop", "1.0", datetime(2026, 3, 8, 20, tzinfo=UTC))
    await _at(policy, datetime(2026, 3, 8, 21, tzinfo=UTC))
    recorded(await policy.start("shop", "1.0", "production"))
    # 01:30 on Monday in UTC+2 is 23:30 on Sunday in UTC: the first week still.
    recorded(
        await policy.report(
            "shop", "1.0", "production", "completed", completed_at="2026-03-09T01:30:00+02:00"
        )
    )
    await _build(policy, "shop", "2.0", datetime(2026, 3, 8, 22, tzinfo=UTC))
    await _at(policy, datetime(2026, 3, 9, 0, tzinfo=UTC))
    # Exactly midnight on Monday: the second week.
    await policy.deploy("shop", "2.0", "production")
    since, until = datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 3, 16, tzinfo=UTC)
    weeks = await _dora(policy, since=since, until=until, bucket="week")
    assert [(b.start.day, b.deployments) for b in weeks.buckets] == [(2, 1), (9, 1)]
    days = await _dora(policy, since=since, until=until, bucket="day")
    assert [(b.start.day, b.deployments) for b in days.buckets if b.deployments] == [(8, 1), (9, 1)]
    months = await _dora(
        policy, since=datetime(2026, 1, 15, tzinfo=UTC), until=until, bucket="month"
    )
    assert [(b.start.month, b.deployments) for b in months.buckets] == [(1, 0), (2, 0), (3, 2)]
    assert months.buckets[0].start == datetime(2026, 1, 1, tzinfo=UTC)


async def test_a_bad_period_is_422_and_an_unknown_name_an_empty_report(policy: Policy) -> None:
    backwards = await policy.ask(DoraInsights(actor=ADMIN, since=day(2), until=day(1)))
    assert refused(backwards, 422).body.detail[0]["loc"] == ["query", "since"]  # type: ignore[index]
    too_many = await policy.ask(
        DoraInsights(actor=ADMIN, since=day(0), until=day(5000), bucket="day")
    )
    refused(too_many, 422)
    report = await _dora(policy, product="nothing-here")
    assert report.deployment_frequency.deployments == 0
    assert report.lead_time.level is None
    assert report.change_failure_rate.rate is None


async def test_the_default_period_is_the_last_90_days_in_weeks(policy: Policy) -> None:
    report = await _dora(policy)
    assert report.scope.until == day(10)
    assert report.scope.since == day(10) - timedelta(days=90)
    assert report.scope.bucket == "week"
    assert all(b.start.weekday() == 0 for b in report.buckets)


@pytest.mark.parametrize(
    ("per_week", "level"), [(7, "elite"), (1, "high"), (0.25, "medium"), (0.2, "low")]
)
def test_frequency_levels(per_week: float, level: str) -> None:
    assert period.frequency_level(per_week) == level


@pytest.mark.parametrize(
    ("rate", "level"),
    [(0.0, "elite"), (0.05, "elite"), (0.1, "high"), (0.2, "medium"), (0.21, "low")],
)
def test_failure_rate_levels(rate: float, level: str) -> None:
    assert period.failure_rate_level(rate) == level


@pytest.mark.parametrize(
    ("seconds", "lead", "recovery"),
    [
        (HOUR - 1, "elite", "elite"),
        (HOUR, "elite", "high"),
        (86400, "high", "medium"),
        (7 * 86400, "medium", "low"),
        (30 * 86400, "low", "low"),
    ],
)
def test_lead_time_and_recovery_levels(seconds: float, lead: str, recovery: str) -> None:
    assert period.lead_time_level(seconds) == lead
    assert period.recovery_level(seconds) == recovery


def test_percentiles_interpolate_between_ranks() -> None:
    assert period.percentile([1, 2, 3, 10], 0.5) == 2.5
    assert period.percentile([1, 2, 3, 10], 0.9) == pytest.approx(7.9)
    assert period.percentile([5], 0.9) == 5
    assert period.percentile([], 0.5) is None
