"""What the gate cost and saved, over a hand-built week (T0 is Monday 2 March 2026, 09:00 UTC).

- `soaky` must soak an hour in staging (flow rule "soak an hour"): 1.0 is refused at +15m and
  +30m and let through at +1h30 (held 1h15m); 2.0 is refused on day 1 and never let through.
- `frozen` may not deploy on Wednesday 4 March (schedule rule "wednesday freeze"): 1.0 is
  refused at 12:00 and let through on Thursday at 09:00 (held 21h); 2.0 breaks the glass.
- `soaky` 3.0 is reported completed in production on day 4 without asking: gate-skipped.
- A Deployment Request for `soaky` (QA required, security optional) is submitted on day 0 and
  approved by QA 3 hours later, security after 5: turnaround 3h, by type 3h and 5h.
"""

from datetime import UTC, datetime, timedelta
from uuid import uuid4

from tests.support.insights import HOUR, day
from tests.support.policy import ADMIN, T0, Policy, recorded, refused, result
from versioner.common.governance import DeploymentRequestPublic, RequestItemIn, SlotIn
from versioner.common.insights import GateReport
from versioner.common.messages.actor import Actor
from versioner.common.messages.lanes import DeploymentReply
from versioner.common.messages.management import (
    CreateRequest,
    CreateRule,
    DecideSlot,
    GateInsights,
    MoveRequest,
)
from versioner.common.roles import ApprovalType, Role

SARAH = Actor(kind="user", id=uuid4(), name="sarah", role=Role.SRE)
QUINN = Actor(kind="user", id=uuid4(), name="quinn", role=Role.QA)
SAM = Actor(kind="user", id=uuid4(), name="sam", role=Role.SECURITY)
DEV = Actor(kind="user", id=uuid4(), name="dev", role=Role.DEVELOPER)


async def _rules(policy: Policy) -> None:
    for request in (
        CreateRule(
            actor=ADMIN,
            name="soak an hour",
            rule_type="flow",
            products=["soaky"],
            config={"prerequisites": ["staging"], "target": "production", "min_soak_minutes": 60},
        ),
        CreateRule(
            actor=ADMIN,
            name="wednesday freeze",
            rule_type="schedule",
            products=["frozen"],
            environments=["production"],
            config={
                "kind": "deny",
                "timezone": "UTC",
                "windows": [{"start": "2026-03-04T00:00", "end": "2026-03-05T00:00"}],
            },
        ),
    ):
        await policy.ask(request)


async def _start_at(
    policy: Policy, at: datetime, product: str, version: str, **fields: object
) -> DeploymentReply:
    policy.clock.at = at
    return await policy.start(product, version, "production", **fields)


async def _through_at(
    policy: Policy, at: datetime, product: str, version: str, **fields: object
) -> None:
    """Let through, and completed a minute later."""
    recorded(await _start_at(policy, at, product, version, **fields))
    policy.clock.at = at + timedelta(minutes=1)
    recorded(await policy.report(product, version, "production", "completed"))


async def _week(policy: Policy) -> None:
    await _rules(policy)
    policy.clock.at = day(0)
    await policy.deploy("soaky", "1.0", "staging")
    refused(await _start_at(policy, day(0, 0.25), "soaky", "1.0"), 428)
    refused(await _start_at(policy, day(0, 0.5), "soaky", "1.0"), 428)
    await _through_at(policy, day(0, 1.5), "soaky", "1.0")
    policy.clock.at = day(1)
    await policy.deploy("soaky", "2.0", "staging")
    refused(await _start_at(policy, day(1, 0.5), "soaky", "2.0"), 428)

    refused(await _start_at(policy, day(2, 3), "frozen", "1.0"), 428)
    await _through_at(
        policy, day(2, 5), "frozen", "2.0", actor=SARAH, override_reason="hotfix INC-7"
    )
    await _through_at(policy, day(3), "frozen", "1.0")

    policy.clock.at = day(4)
    recorded(await policy.report("soaky", "3.0", "production", "completed"))

    policy.clock.at = day(0, 2)
    dr = result(
        await policy.ask(
            CreateRequest(
                actor=DEV,
                name="soaky 1.0",
                items=[RequestItemIn(product="soaky", version="1.0")],
                environments=["production"],
                approval_slots=[
                    SlotIn(approval_type=ApprovalType.QA, optional=False),
                    SlotIn(approval_type=ApprovalType.SECURITY, optional=True),
                ],
            )
        ),
        DeploymentRequestPublic,
    )
    await policy.ask(MoveRequest(actor=DEV, request_id=dr.id, action="submit"))
    for hours, actor, index in ((3, QUINN, 0), (5, SAM, 1)):
        policy.clock.at = day(0, 2 + hours)
        decide = DecideSlot(
            actor=actor, request_id=dr.id, slot_id=dr.approval_slots[index].id, decision="approve"
        )
        result(await policy.ask(decide), DeploymentRequestPublic)


async def _gate(policy: Policy, **query: object) -> GateReport:
    policy.clock.at = day(10)
    return result(await policy.ask(GateInsights(actor=ADMIN, **query)), GateReport)  # type: ignore[arg-type]


async def test_what_the_gate_cost_over_a_hand_built_week(policy: Policy) -> None:
    await _week(policy)
    report = await _gate(policy, since=T0, until=day(7), bucket="day")

    assert report.blocked_attempts == 4
    assert [(c.code, c.count) for c in report.blocked_by_code] == [
        ("INSUFFICIENT_SOAK_TIME", 3),
        ("NO_DEPLOY_WINDOW", 1),
    ]
    assert [(r.rule_name, r.rule_type, r.count) for r in report.blocked_by_rule] == [
        ("soak an hour", "flow", 3),
        ("wednesday freeze", "schedule", 1),
    ]

    assert report.overrides.count == 1
    assert [(p.actor, p.count) for p in report.overrides.by_person] == [(SARAH.label, 1)]
    [latest] = report.overrides.latest
    assert (latest.reason, latest.product, latest.version, latest.codes) == (
        "hotfix INC-7",
        "frozen",
        "2.0",
        ["NO_DEPLOY_WINDOW"],
    )

    soak = report.waits.soak
    # 1.0 held 1h15m; 2.0 still held at the period's end: from day 1 +30m to day 7.
    assert (soak.versions, soak.released, soak.waiting) == (2, 1, 1)
    assert soak.median_s == 1.25 * HOUR
    held = (day(7) - day(1, 0.5)).total_seconds()
    assert soak.total_s == 1.25 * HOUR + held
    freeze = report.waits.freeze
    assert (freeze.versions, freeze.released, freeze.waiting) == (1, 1, 0)
    assert freeze.median_s == freeze.p90_s == 21 * HOUR

    turnaround = report.request_turnaround
    assert (turnaround.submitted, turnaround.approved) == (1, 1)
    assert turnaround.median_s == 3 * HOUR
    assert [(t.approval_type, t.approvals, t.median_s) for t in turnaround.by_approval_type] == [
        ("qa", 1, 3 * HOUR),
        ("security", 1, 5 * HOUR),
    ]

    assert report.gate_skipped == 1
    midnight = datetime(2026, 3, 2, tzinfo=UTC)
    assert [(b.start, b.blocked, b.overrides, b.gate_skipped) for b in report.buckets[:5]] == [
        (midnight, 2, 0, 0),
        (midnight + timedelta(days=1), 1, 0, 0),
        (midnight + timedelta(days=2), 1, 1, 0),
        (midnight + timedelta(days=3), 0, 0, 0),
        (midnight + timedelta(days=4), 0, 0, 1),
    ]


async def test_one_product_sees_only_its_own(policy: Policy) -> None:
    await _week(policy)
    frozen = await _gate(policy, product="frozen", since=T0, until=day(7))
    assert frozen.blocked_attempts == 1
    assert frozen.waits.soak.versions == 0
    assert frozen.overrides.count == 1
    assert frozen.gate_skipped == 0
    assert frozen.request_turnaround.submitted == 0
    staging = await _gate(policy, environments=["staging"], since=T0, until=day(7))
    assert staging.blocked_attempts == 0
    assert staging.request_turnaround.submitted == 0


async def test_nothing_yet_is_a_report_of_zeros(policy: Policy) -> None:
    report = await _gate(policy)
    assert report.blocked_attempts == 0
    assert report.waits.freeze.median_s is None
    assert report.request_turnaround.median_s is None
    assert report.overrides.latest == []
