"""Rule administration: validation (422), names (409), audited changes, permissions, windows."""

from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import pytest

from tests.support.policy import (
    ADMIN,
    CI,
    VIEWER,
    Policy,
    audit_entries,
    recorded,
    refused,
    result,
    rows,
)
from versioner.common.messages.actor import Actor
from versioner.common.messages.management import (
    CreateRule,
    DeleteRule,
    GetRule,
    ListRules,
    PreviewWindows,
    UpdateRule,
)
from versioner.common.resources import Done, Page
from versioner.common.roles import Role
from versioner.common.rules import RulePublic, RuleType, WindowsPreview
from versioner.policy.store.tables import ViolationRecord

SRE = Actor(kind="user", id=uuid4(), name="sarah", role=Role.SRE)
DEVELOPER = Actor(kind="user", id=uuid4(), name="dev", role=Role.DEVELOPER)
FREEZE: dict[str, Any] = {
    "windows": [{"start": "2026-03-01T00:00", "end": "2026-03-05T00:00"}],
}
FRIDAY_FREEZE: dict[str, Any] = {
    "timezone": "Europe/Berlin",
    "rrule": "FREQ=WEEKLY;BYDAY=FR;BYHOUR=17;BYMINUTE=0",
    "duration_minutes": 900,
}
FLOW: dict[str, Any] = {"prerequisites": ["staging"], "target": "production"}


def _create(
    rule_type: RuleType,
    config: dict[str, Any],
    *,
    name: str = "rule",
    actor: Actor = ADMIN,
    environments: list[str] | None = None,
) -> CreateRule:
    return CreateRule(
        actor=actor,
        name=name,
        rule_type=rule_type,
        environments=environments or [],
        config=config,
    )


async def _rule(
    policy: Policy, rule_type: RuleType, config: dict[str, Any], **kw: Any
) -> RulePublic:
    return result(await policy.ask(_create(rule_type, config, **kw)), RulePublic)


def _locations(failure_detail: object) -> list[list[Any]]:
    assert isinstance(failure_detail, list), failure_detail
    return [error["loc"] for error in failure_detail]


# --- validation ----------------------------------------------------------------------------

BAD_CONFIGS: list[Any] = [
    pytest.param(
        "schedule", {"timezone": "Mars/Olympus", **FREEZE}, ["config", "timezone"], id="zone"
    ),
    pytest.param(
        "schedule",
        {"windows": [{"start": "2026-03-01T00:00+01:00", "end": "2026-03-02T00:00"}]},
        ["config", "windows", 0, "start"],
        id="offset",
    ),
    pytest.param(
        "schedule",
        {"windows": [{"start": "2026-03-02T00:00", "end": "2026-03-01T00:00"}]},
        ["config", "windows", 0],
        id="end-before-start",
    ),
    pytest.param(
        "schedule",
        {"windows": [{"start": "2026-03-02T00:00", "end": "2026-03-02T00:00"}]},
        ["config", "windows", 0],
        id="empty-window",
    ),
    pytest.param(
        "schedule",
        {"rrule": "FREQ=SOMETIMES", "duration_minutes": 60},
        ["config", "rrule"],
        id="rrule",
    ),
    pytest.param(
        "schedule",
        {"rrule": "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", "duration_minutes": 60},
        ["config", "rrule"],
        id="rrule-never",
    ),
    pytest.param("schedule", {"rrule": "FREQ=DAILY"}, ["config"], id="rrule-no-duration"),
    pytest.param(
        "schedule", {"rrule": "FREQ=DAILY", "duration_minutes": 0}, ["config"], id="no-duration"
    ),
    pytest.param("schedule", {"kind": "deny"}, ["config"], id="no-window"),
    pytest.param("schedule", {"kind": "sometimes", **FREEZE}, ["config", "kind"], id="kind"),
    pytest.param("schedule", {**FREEZE, "color": "red"}, ["config", "color"], id="extra-key"),
    pytest.param(
        "flow",
        {"prerequisites": ["staging", "production"], "target": "production"},
        ["config"],
        id="flow-target-prerequisite",
    ),
    pytest.param(
        "flow", {"prerequisites": [], "target": "production"}, ["config"], id="flow-empty"
    ),
    pytest.param(
        "flow", {**FLOW, "min_soak_minutes": -1}, ["config", "min_soak_minutes"], id="flow-soak"
    ),
    pytest.param("flow", {**FLOW, "order": "strict"}, ["config", "order"], id="flow-extra-key"),
    pytest.param(
        "dr_required", {"approval_types": ["vibes"]}, ["config", "approval_types", 0], id="dr-type"
    ),
    pytest.param("dr_required", {"approval_types": []}, ["config"], id="dr-no-type"),
    pytest.param(
        "dr_required", {"approval_types": ["qa"], "x": 1}, ["config", "x"], id="dr-extra-key"
    ),
    pytest.param(
        "version_approval",
        {"approval_types": ["qa", "magic"]},
        ["config", "approval_types", 1],
        id="approval-type",
    ),
    pytest.param(
        "version_approval",
        {"approval_types": ["qa"], "environments": ["staging"]},
        ["config", "environments"],
        id="approval-extra-key",
    ),
]


@pytest.mark.parametrize(("rule_type", "config", "where"), BAD_CONFIGS)
async def test_a_bad_config_is_422_naming_where(
    policy: Policy, rule_type: RuleType, config: dict[str, Any], where: list[Any]
) -> None:
    failure = refused(await policy.ask(_create(rule_type, config)), 422)
    locations = _locations(failure.body.detail)
    assert any(loc[: len(where) + 1] == ["body", *where] for loc in locations), locations
    assert await policy.ask(ListRules(actor=ADMIN)) == Page[RulePublic](items=[], total=0)


@pytest.mark.parametrize("environments", [["staging"], ["production", "staging"]])
async def test_a_flow_rule_scoped_beyond_its_target_is_422(
    policy: Policy, environments: list[str]
) -> None:
    failure = refused(await policy.ask(_create("flow", FLOW, environments=environments)), 422)
    assert _locations(failure.body.detail) == [["body", "environments"]]


@pytest.mark.parametrize("environments", [[], ["production"]])
async def test_a_flow_rule_scoped_to_nothing_or_its_target_is_accepted(
    policy: Policy, environments: list[str]
) -> None:
    rule = await _rule(policy, "flow", FLOW, environments=environments)
    assert rule.environments == environments


async def test_a_config_is_stored_with_its_defaults(policy: Policy) -> None:
    rule = await _rule(policy, "flow", FLOW)
    assert rule.config == {
        "prerequisites": ["staging"],
        "target": "production",
        "strict_order": True,
        "min_soak_minutes": 0,
    }


async def test_an_update_with_a_bad_config_is_422_and_changes_nothing(policy: Policy) -> None:
    rule = await _rule(policy, "schedule", FREEZE)
    update = UpdateRule(actor=ADMIN, rule_id=rule.id, config={"timezone": "Nowhere/City"})
    refused(await policy.ask(update), 422)
    assert result(await policy.ask(GetRule(actor=ADMIN, rule_id=rule.id)), RulePublic) == rule
    assert await audit_entries(policy.ctx, "rule.updated") == []


# --- names ---------------------------------------------------------------------------------


async def test_a_second_rule_with_the_same_name_is_409(policy: Policy) -> None:
    await _rule(policy, "schedule", FREEZE, name="freeze")
    failure = refused(await policy.ask(_create("flow", FLOW, name="freeze")), 409)
    assert failure.body.detail == "A rule named freeze exists"
    assert len(await audit_entries(policy.ctx, "rule.created")) == 1


async def test_renaming_a_rule_to_a_taken_name_is_409(policy: Policy) -> None:
    await _rule(policy, "schedule", FREEZE, name="freeze")
    other = await _rule(policy, "flow", FLOW, name="path")
    refused(await policy.ask(UpdateRule(actor=ADMIN, rule_id=other.id, name="freeze")), 409)


# --- audited changes -----------------------------------------------------------------------


async def test_a_created_rule_is_audited(policy: Policy) -> None:
    rule = await _rule(policy, "schedule", FREEZE, name="freeze", actor=SRE)
    assert rule.created_by == "user:sarah"
    [entry] = await audit_entries(policy.ctx, "rule.created")
    assert (entry.actor, entry.subject_id, entry.at) == (
        "user:sarah",
        str(rule.id),
        policy.clock.now(),
    )
    assert entry.data["rule"]["name"] == "freeze"


async def test_an_update_is_audited_with_before_and_after(policy: Policy) -> None:
    rule = await _rule(policy, "schedule", FREEZE, name="freeze")
    policy.clock.advance(minutes=5)
    update = UpdateRule(actor=SRE, rule_id=rule.id, name="big freeze", environments=["production"])
    changed = result(await policy.ask(update), RulePublic)
    assert (changed.name, changed.environments) == ("big freeze", ["production"])
    assert changed.updated_at == policy.clock.now()
    [entry] = await audit_entries(policy.ctx, "rule.updated")
    assert entry.actor == "user:sarah"
    assert entry.at == policy.clock.now()
    assert entry.summary == "rule big freeze changed: environments, name"
    assert entry.data["before"]["name"] == "freeze"
    assert entry.data["after"]["environments"] == ["production"]


async def test_an_updated_config_applies_to_the_very_next_verdict(policy: Policy) -> None:
    rule = await _rule(policy, "schedule", FREEZE)
    refused(await policy.start("api", "1.0.0", "production"), 428)
    later = {"windows": [{"start": "2026-04-01T00:00", "end": "2026-04-02T00:00"}]}
    result(await policy.ask(UpdateRule(actor=ADMIN, rule_id=rule.id, config=later)), RulePublic)
    recorded(await policy.start("api", "1.0.0", "production"))


async def test_a_deleted_rule_is_audited_and_stops_applying(policy: Policy) -> None:
    rule = await _rule(policy, "schedule", FREEZE, name="freeze")
    refused(await policy.start("api", "1.0.0", "production"), 428)
    assert isinstance(await policy.ask(DeleteRule(actor=SRE, rule_id=rule.id)), Done)
    [entry] = await audit_entries(policy.ctx, "rule.deleted")
    assert (entry.actor, entry.subject_id) == ("user:sarah", str(rule.id))
    assert entry.data["rule"]["config"]["windows"][0]["start"] == "2026-03-01T00:00:00"
    refused(await policy.ask(GetRule(actor=ADMIN, rule_id=rule.id)), 404)
    recorded(await policy.start("api", "1.0.0", "production"))
    [kept] = await rows(policy.ctx, ViolationRecord)
    assert (kept.rule_name, kept.outcome) == ("freeze", "blocked")


async def test_deleting_or_updating_an_unknown_rule_is_404(policy: Policy) -> None:
    refused(await policy.ask(DeleteRule(actor=ADMIN, rule_id=uuid4())), 404)
    refused(await policy.ask(UpdateRule(actor=ADMIN, rule_id=uuid4(), mode="disabled")), 404)


# --- permissions and reading ---------------------------------------------------------------


@pytest.mark.parametrize(
    "actor",
    [
        pytest.param(DEVELOPER, id="developer"),
        pytest.param(VIEWER, id="viewer"),
        pytest.param(CI, id="api-key"),
    ],
)
async def test_only_rule_managers_may_create_change_or_delete_rules(
    policy: Policy, actor: Actor
) -> None:
    refused(await policy.ask(_create("schedule", FREEZE, actor=actor)), 403)
    rule = await _rule(policy, "schedule", FREEZE)
    refused(await policy.ask(UpdateRule(actor=actor, rule_id=rule.id, mode="disabled")), 403)
    refused(await policy.ask(DeleteRule(actor=actor, rule_id=rule.id)), 403)


async def test_anyone_may_read_rules_newest_first(policy: Policy) -> None:
    first = await _rule(policy, "schedule", FREEZE, name="first")
    policy.clock.advance(seconds=1)
    second = await _rule(policy, "flow", FLOW, name="second")
    page = result(await policy.ask(ListRules(actor=CI)), Page[RulePublic])
    assert [r.id for r in page.items] == [second.id, first.id]
    assert page.total == 2
    assert result(await policy.ask(GetRule(actor=VIEWER, rule_id=first.id)), RulePublic) == first


# --- window preview ------------------------------------------------------------------------


async def test_preview_lists_the_next_windows_in_utc_and_local_time(policy: Policy) -> None:
    rule = await _rule(policy, "schedule", FRIDAY_FREEZE)
    preview = result(
        await policy.ask(PreviewWindows(actor=VIEWER, rule_id=rule.id, count=5)), WindowsPreview
    )
    assert preview.rule_id == rule.id
    assert preview.kind_of_windows == "deny"
    starts = [w.start for w in preview.windows]
    assert starts == [
        datetime(2026, 3, 6, 16, tzinfo=UTC),
        datetime(2026, 3, 13, 16, tzinfo=UTC),
        datetime(2026, 3, 20, 16, tzinfo=UTC),
        datetime(2026, 3, 27, 16, tzinfo=UTC),
        datetime(2026, 4, 3, 15, tzinfo=UTC),
    ]
    assert {w.local_start.time().isoformat() for w in preview.windows} == {"17:00:00"}
    assert {w.local_end.time().isoformat() for w in preview.windows} == {"08:00:00"}
    assert preview.windows[0].local_start == datetime(2026, 3, 6, 17)
    assert preview.windows[4].end == datetime(2026, 4, 4, 6, tzinfo=UTC)
    assert {w.timezone for w in preview.windows} == {"Europe/Berlin"}


async def test_preview_puts_the_window_in_force_first(policy: Policy) -> None:
    rule = await _rule(policy, "schedule", FRIDAY_FREEZE)
    policy.clock.at = datetime(2026, 3, 6, 20, tzinfo=UTC)
    preview = result(
        await policy.ask(PreviewWindows(actor=VIEWER, rule_id=rule.id, count=1)), WindowsPreview
    )
    [window] = preview.windows
    assert window.start == datetime(2026, 3, 6, 16, tzinfo=UTC)


async def test_preview_of_a_rule_that_is_not_a_schedule_is_422(policy: Policy) -> None:
    rule = await _rule(policy, "flow", FLOW)
    failure = refused(await policy.ask(PreviewWindows(actor=ADMIN, rule_id=rule.id)), 422)
    assert _locations(failure.body.detail) == [["path", "rule_id"]]


async def test_preview_of_an_unknown_rule_is_404(policy: Policy) -> None:
    refused(await policy.ask(PreviewWindows(actor=ADMIN, rule_id=uuid4())), 404)
