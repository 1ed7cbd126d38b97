"""Rule modes: enabled blocks, report_only reports, disabled is not evaluated; switches audited."""

from uuid import UUID

from tests.support.policy import (
    ADMIN,
    Policy,
    audit_entries,
    detail_of,
    recorded,
    refused,
    result,
    rows,
)
from versioner.common.governance import VersionApprovalPublic, ViolationPublic
from versioner.common.messages.management import (
    ApproveVersion,
    CreateRule,
    ListViolations,
    UpdateRule,
)
from versioner.common.resources import Page
from versioner.common.roles import ApprovalType
from versioner.common.rules import RuleMode, RulePublic
from versioner.policy.store.tables import BlockedAttempt, ViolationRecord

# In force at the suite's T0 (2026-03-02 09:00 UTC) and for days after.
FREEZE = {
    "reason": "audit week",
    "windows": [{"start": "2026-03-01T00:00", "end": "2026-03-05T00:00"}],
}


async def _rule(policy: Policy, mode: RuleMode, name: str = "freeze") -> RulePublic:
    request = CreateRule(actor=ADMIN, name=name, rule_type="schedule", mode=mode, config=FREEZE)
    return result(await policy.ask(request), RulePublic)


async def _quality(policy: Policy, mode: RuleMode) -> RulePublic:
    request = CreateRule(
        actor=ADMIN,
        name="signed off",
        rule_type="version_approval",
        mode=mode,
        config={"approval_types": ["security"]},
    )
    return result(await policy.ask(request), RulePublic)


async def _switch(policy: Policy, rule_id: UUID, mode: RuleMode) -> RulePublic:
    return result(await policy.ask(UpdateRule(actor=ADMIN, rule_id=rule_id, mode=mode)), RulePublic)


async def _violations(policy: Policy) -> list[ViolationPublic]:
    return result(await policy.ask(ListViolations(actor=ADMIN)), Page[ViolationPublic]).items


async def test_a_report_only_failure_never_blocks(policy: Policy) -> None:
    await _rule(policy, "report_only")
    d = recorded(await policy.start("api", "1.0.0", "production"))
    preflight = d.extra_metadata["preflight_status"]
    assert preflight["status"] == "passed"
    assert preflight["override"] is None
    [entry] = preflight["rules_evaluated"]
    assert entry["rule_name"] == "freeze"
    assert entry["rule_type"] == "schedule"
    assert entry["status"] == "report_only"
    assert entry["evaluation_result"] == "failed"
    assert entry["code"] == "NO_DEPLOY_WINDOW"
    assert entry["error_message"].startswith("No deployments to production during 'freeze'")


async def test_a_report_only_failure_is_logged_as_reported(policy: Policy) -> None:
    rule = await _rule(policy, "report_only")
    d = recorded(await policy.start("api", "1.0.0", "production"))
    [logged] = await _violations(policy)
    assert logged.outcome == "reported"
    assert (logged.rule_id, logged.rule_name, logged.code) == (
        rule.id,
        "freeze",
        "NO_DEPLOY_WINDOW",
    )
    assert logged.deployment_id == d.id
    [verdict] = await audit_entries(policy.ctx, "deployment.verdict")
    assert verdict.data["outcome"] == "allowed"
    assert [v["code"] for v in verdict.data["reported"]] == ["NO_DEPLOY_WINDOW"]


async def test_a_passing_report_only_rule_is_not_listed(policy: Policy) -> None:
    await _quality(policy, "report_only")
    await policy.build("api", "1.0.0")
    approve = ApproveVersion(
        actor=ADMIN, product="api", version="1.0.0", approval_type=ApprovalType.SECURITY
    )
    result(await policy.ask(approve), VersionApprovalPublic)
    d = recorded(await policy.start("api", "1.0.0", "production"))
    assert d.extra_metadata["preflight_status"]["rules_evaluated"] == []


async def test_enabled_and_report_only_failures_block_on_the_enabled_one_only(
    policy: Policy,
) -> None:
    await _rule(policy, "report_only")
    await _quality(policy, "enabled")
    detail = detail_of(refused(await policy.start("api", "1.0.0", "production"), 428))
    assert detail.code == "QUALITY_APPROVAL_REQUIRED"
    assert [v["code"] for v in detail.details["violations"]] == ["QUALITY_APPROVAL_REQUIRED"]
    [attempt] = await rows(policy.ctx, BlockedAttempt)
    assert [v["code"] for v in attempt.violations] == ["QUALITY_APPROVAL_REQUIRED"]
    outcomes = {(v.code, v.outcome) for v in await _violations(policy)}
    assert outcomes == {
        ("QUALITY_APPROVAL_REQUIRED", "blocked"),
        ("NO_DEPLOY_WINDOW", "reported"),
    }


async def test_a_disabled_rule_is_not_evaluated(policy: Policy) -> None:
    await _rule(policy, "disabled")
    d = recorded(await policy.start("api", "1.0.0", "production"))
    assert d.extra_metadata["preflight_status"]["rules_evaluated"] == []
    assert await rows(policy.ctx, ViolationRecord) == []


async def test_switching_a_mode_is_audited(policy: Policy) -> None:
    rule = await _rule(policy, "enabled")
    switched = await _switch(policy, rule.id, "report_only")
    assert switched.mode == "report_only"
    [entry] = await audit_entries(policy.ctx, "rule.mode_changed")
    assert entry.actor == "user:alice"
    assert entry.subject_id == str(rule.id)
    assert entry.data == {"from": "enabled", "to": "report_only"}
    assert entry.at == policy.clock.now()
    assert await audit_entries(policy.ctx, "rule.updated") == []


async def test_enabled_to_report_only_takes_effect_on_the_very_next_verdict(
    policy: Policy,
) -> None:
    rule = await _rule(policy, "enabled")
    refused(await policy.start("api", "1.0.0", "production"), 428)
    await _switch(policy, rule.id, "report_only")
    d = recorded(await policy.start("api", "1.0.0", "production"))
    [entry] = d.extra_metadata["preflight_status"]["rules_evaluated"]
    assert entry["status"] == "report_only"


async def test_disabled_to_enabled_takes_effect_on_the_very_next_verdict(policy: Policy) -> None:
    rule = await _rule(policy, "disabled")
    recorded(await policy.start("api", "1.0.0", "staging"))
    await _switch(policy, rule.id, "enabled")
    refused(await policy.start("api", "1.0.0", "production"), 428)


async def test_enabled_to_disabled_takes_effect_on_the_very_next_verdict(policy: Policy) -> None:
    rule = await _rule(policy, "enabled")
    refused(await policy.start("api", "1.0.0", "production"), 428)
    await _switch(policy, rule.id, "disabled")
    d = recorded(await policy.start("api", "1.0.0", "production"))
    assert d.extra_metadata["preflight_status"]["rules_evaluated"] == []


async def test_setting_the_mode_a_rule_already_has_audits_nothing(policy: Policy) -> None:
    rule = await _rule(policy, "enabled")
    await _switch(policy, rule.id, "enabled")
    assert await audit_entries(policy.ctx, "rule.mode_changed") == []
