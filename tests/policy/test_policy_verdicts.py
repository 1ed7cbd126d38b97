"""The verdict as a whole: every violation in order, break-glass, blocked attempts, gate-skipped
deployments, the audit and violations logs, and two replicas reading one revision.
"""

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest

from tests.support.policy import (
    ADMIN,
    CI,
    T0,
    VIEWER,
    Policy,
    audit_entries,
    count,
    detail_of,
    is_postgres,
    outbox,
    policy_settings,
    recorded,
    recorded_build,
    refused,
    result,
    rows,
    started,
)
from versioner.common.errors import ErrorDetail
from versioner.common.governance import (
    AuditEntryPublic,
    DeploymentRequestPublic,
    RequestItemIn,
    SlotIn,
    VersionApprovalPublic,
    ViolationPublic,
)
from versioner.common.messages.actor import Actor
from versioner.common.messages.domain import DeploymentBlocked, DeploymentChanged
from versioner.common.messages.management import (
    ApproveVersion,
    CompleteStep,
    CreateRequest,
    CreateRule,
    DecideSlot,
    GetProduct,
    ListAudit,
    ListViolations,
    MoveRequest,
    UpdateProduct,
    UpdateRule,
)
from versioner.common.resources import Page, ProductPublic
from versioner.common.roles import ApprovalType, Role
from versioner.common.rules import RuleMode, RulePublic, RuleType
from versioner.policy.context import PolicyContext
from versioner.policy.deployments.start import handle_start
from versioner.policy.store.clock import FrozenClock
from versioner.policy.store.db import Database
from versioner.policy.store.deadline import Deadline
from versioner.policy.store.tables import (
    AuditEntry,
    BlockedAttempt,
    Deployment,
    EnvironmentState,
    EventRecord,
    OutboxMessage,
    Product,
    ViolationRecord,
)


def _user(role: Role, name: str) -> Actor:
    return Actor(kind="user", id=uuid4(), name=name, role=role)


DEV = _user(Role.DEVELOPER, "dev")
QA = _user(Role.QA, "quinn")
SRE = _user(Role.SRE, "sarah")
RELEASE_MANAGER = _user(Role.RELEASE_MANAGER, "rita")
SECURITY = _user(Role.SECURITY, "sam")


def _freeze(until: str = "2026-03-05T00:00") -> dict[str, Any]:
    """A deny window in force from before the suite's T0 (2026-03-02 09:00 UTC) to `until`."""
    return {"windows": [{"start": "2026-03-01T00:00", "end": until}]}


async def _rule(
    policy: Policy,
    name: str,
    rule_type: RuleType,
    config: dict[str, Any],
    *,
    mode: RuleMode = "enabled",
    environments: list[str] | None = None,
    products: list[str] | None = None,
    actor: Actor = ADMIN,
) -> RulePublic:
    request = CreateRule(
        actor=actor,
        name=name,
        rule_type=rule_type,
        mode=mode,
        environments=["production"] if environments is None else environments,
        products=products or [],
        config=config,
    )
    return result(await policy.ask(request), RulePublic)


async def _request(
    policy: Policy,
    name: str,
    *,
    version: str = "1.1.0",
    slots: tuple[ApprovalType, ...] = (ApprovalType.QA,),
    pre_steps: tuple[str, ...] = ("back up the database",),
) -> DeploymentRequestPublic:
    """A submitted request for api `version` in production, created by a developer."""
    dr = result(
        await policy.ask(
            CreateRequest(
                actor=DEV,
                name=name,
                items=[RequestItemIn(product="api", version=version)],
                environments=["production"],
                approval_slots=[SlotIn(approval_type=t) for t in slots],
                pre_steps=list(pre_steps),
            )
        ),
        DeploymentRequestPublic,
    )
    submit = MoveRequest(actor=DEV, request_id=dr.id, action="submit")
    return result(await policy.ask(submit), DeploymentRequestPublic)


def _codes(detail: ErrorDetail) -> list[str]:
    return [v["code"] for v in detail.details["violations"]]


def _changes(messages: list[OutboxMessage]) -> list[DeploymentChanged]:
    return [DeploymentChanged.model_validate_json(m.body) for m in messages]


def _blocks(messages: list[OutboxMessage]) -> list[DeploymentBlocked]:
    return [DeploymentBlocked.model_validate_json(m.body) for m in messages]


async def _violations(policy: Policy, **filters: Any) -> Page[ViolationPublic]:
    request = ListViolations(actor=VIEWER, **filters)
    return result(await policy.ask(request), Page[ViolationPublic])


async def _audit(policy: Policy, **filters: Any) -> Page[AuditEntryPublic]:
    request = ListAudit(actor=ADMIN, **filters)
    return result(await policy.ask(request), Page[AuditEntryPublic])


# --- every violation at once ---------------------------------------------------------------


async def test_every_violation_is_listed_in_the_documented_order(policy: Policy) -> None:
    recorded_build(await policy.build("api", "1.1.0", scm_sha="aaa1111"))
    await policy.deploy("api", "1.1.0", "test")
    running = recorded(await policy.start("api", "1.0.0", "production"))
    # Created out of name order: the answer orders them.
    await _rule(policy, "z sign-off", "version_approval", {"approval_types": ["security"]})
    await _rule(policy, "zz freeze", "schedule", _freeze())
    await _rule(policy, "b flow", "flow", {"prerequisites": ["staging"], "target": "production"})
    await _rule(
        policy,
        "a soak",
        "flow",
        {"prerequisites": ["test"], "target": "production", "min_soak_minutes": 60},
    )
    await _rule(policy, "a sign-off", "version_approval", {"approval_types": ["qa"]})
    await _rule(policy, "needs security DR", "dr_required", {"approval_types": ["security"]})
    await _rule(policy, "aa freeze", "schedule", _freeze())
    await _request(policy, "release")

    failure = refused(await policy.start("api", "1.1.0", "production", scm_sha="bbb2222"), 428)

    detail = detail_of(failure)
    listed = [(v["code"], v["rule_name"], v["rule_type"]) for v in detail.details["violations"]]
    assert listed == [
        ("DEPLOYMENT_IN_PROGRESS", "one deployment at a time", "concurrency"),
        ("VERSION_CONFLICT", "version immutability", "version"),
        ("NO_DEPLOY_WINDOW", "aa freeze", "schedule"),
        ("NO_DEPLOY_WINDOW", "zz freeze", "schedule"),
        ("DR_REQUIRED", "needs security DR", "dr_required"),
        ("APPROVAL_REQUIRED", "release", "deployment_request"),
        ("CHECKLIST_INCOMPLETE", "release", "deployment_request"),
        ("FLOW_VIOLATION", "b flow", "flow"),
        ("INSUFFICIENT_SOAK_TIME", "a soak", "flow"),
        ("QUALITY_APPROVAL_REQUIRED", "a sign-off", "version_approval"),
        ("QUALITY_APPROVAL_REQUIRED", "z sign-off", "version_approval"),
    ]
    assert detail.error == "deployment_blocked"
    assert detail.code == "DEPLOYMENT_IN_PROGRESS"
    assert detail.message == detail.details["violations"][0]["message"]
    assert detail.details["rule_name"] == "one deployment at a time"
    assert detail.details["conflicting_deployment_id"] == str(running.id)
    assert detail.retry_after is None
    assert all(v["message"] for v in detail.details["violations"])


async def test_the_top_level_is_the_first_violations(policy: Policy) -> None:
    await _rule(policy, "sign-off", "version_approval", {"approval_types": ["qa"]})
    await _rule(policy, "freeze", "schedule", _freeze())
    detail = detail_of(refused(await policy.start("api", "1.0.0", "production"), 428))
    first = detail.details["violations"][0]
    assert (detail.code, detail.message) == (first["code"], first["message"])
    assert detail.details["rule_name"] == "freeze"
    assert detail.details["window_end"] == "2026-03-05T00:00:00Z"


async def test_retry_after_is_the_latest_when_every_violation_has_one(policy: Policy) -> None:
    await policy.deploy("api", "1.0.0", "staging")
    await _rule(policy, "short freeze", "schedule", _freeze("2026-03-04T00:00"))
    await _rule(policy, "long freeze", "schedule", _freeze("2026-03-05T00:00"))
    await _rule(
        policy,
        "soak",
        "flow",
        {"prerequisites": ["staging"], "target": "production", "min_soak_minutes": 30},
    )
    detail = detail_of(refused(await policy.start("api", "1.0.0", "production"), 428))
    assert [v["retry_after"] for v in detail.details["violations"]] == [
        "2026-03-05T00:00:00Z",
        "2026-03-04T00:00:00Z",
        "2026-03-02T09:30:00Z",
    ]
    assert detail.retry_after == datetime(2026, 3, 5, tzinfo=UTC)


async def test_retry_after_is_null_when_one_violation_has_none(policy: Policy) -> None:
    await _rule(policy, "freeze", "schedule", _freeze())
    await _rule(policy, "flow", "flow", {"prerequisites": ["staging"], "target": "production"})
    detail = detail_of(refused(await policy.start("api", "1.0.0", "production"), 428))
    assert _codes(detail) == ["NO_DEPLOY_WINDOW", "FLOW_VIOLATION"]
    assert detail.retry_after is None


async def test_a_deployment_in_progress_alone_is_409_even_with_report_only_failures(
    policy: Policy,
) -> None:
    recorded(await policy.start("api", "1.0.0", "production"))
    await _rule(policy, "freeze", "schedule", _freeze(), mode="report_only")
    detail = detail_of(refused(await policy.start("api", "1.0.1", "production"), 409))
    assert _codes(detail) == ["DEPLOYMENT_IN_PROGRESS"]
    outcomes = {(v.code, v.outcome) for v in (await _violations(policy)).items}
    assert outcomes == {("DEPLOYMENT_IN_PROGRESS", "blocked"), ("NO_DEPLOY_WINDOW", "reported")}


async def test_a_deployment_in_progress_with_an_enforced_rule_is_428(policy: Policy) -> None:
    recorded(await policy.start("api", "1.0.0", "production"))
    await _rule(policy, "freeze", "schedule", _freeze())
    detail = detail_of(refused(await policy.start("api", "1.0.1", "production"), 428))
    assert _codes(detail) == ["DEPLOYMENT_IN_PROGRESS", "NO_DEPLOY_WINDOW"]
    assert detail.code == "DEPLOYMENT_IN_PROGRESS"


# --- blocked attempts ----------------------------------------------------------------------


async def test_a_blocked_attempt_is_recorded_and_moves_no_state(policy: Policy) -> None:
    await policy.deploy("api", "0.9.0", "production")
    [before] = await rows(policy.ctx, EnvironmentState)
    rule = await _rule(policy, "freeze", "schedule", _freeze())
    policy.clock.advance(minutes=1)
    msg = started("api", "1.0.0", "production", at=policy.clock.now(), deployed_by="dora")
    refused(await handle_start(policy.ctx, msg, Deadline()), 428)

    [attempt] = await rows(policy.ctx, BlockedAttempt)
    assert (attempt.id, attempt.status_code, attempt.actor, attempt.at) == (
        msg.event_id,
        428,
        "api_key:ci",
        policy.clock.now(),
    )
    assert [v["code"] for v in attempt.violations] == ["NO_DEPLOY_WINDOW"]
    assert await count(policy.ctx, Deployment) == 1
    [after] = await rows(policy.ctx, EnvironmentState)
    assert (
        after.current_deployment_id,
        after.in_progress_deployment_id,
        after.latest_deployment_id,
    ) == (before.current_deployment_id, None, before.latest_deployment_id)

    [logged] = (await _violations(policy)).items
    assert (logged.outcome, logged.rule_id, logged.event_id) == ("blocked", rule.id, msg.event_id)
    assert logged.deployment_id is None
    verdicts = await audit_entries(policy.ctx, "deployment.verdict")
    assert verdicts[-1].data["outcome"] == "blocked"
    assert verdicts[-1].subject_id == str(msg.event_id)
    [event] = _blocks(await outbox(policy.ctx, "deployment.preflight_failed"))
    assert event.attempt is not None
    assert (event.attempt.version, event.attempt.deployed_by) == ("1.0.0", "dora")
    assert [v.code for v in event.violations] == ["NO_DEPLOY_WINDOW"]
    assert event.actor == "api_key:ci"


async def test_a_blocked_start_does_not_give_a_new_version_its_sha(policy: Policy) -> None:
    rule = await _rule(policy, "freeze", "schedule", _freeze())
    refused(await policy.start("api", "1.0.0", "production", scm_sha="wrong00"), 428)
    result(await policy.ask(UpdateRule(actor=ADMIN, rule_id=rule.id, mode="disabled")), RulePublic)
    recorded(await policy.start("api", "1.0.0", "production", scm_sha="right11"))
    done = recorded(
        await policy.report("api", "1.0.0", "production", "completed", scm_sha="right11")
    )
    assert done.sha_mismatch is False


# --- break-glass ---------------------------------------------------------------------------


async def _blocking_everything(policy: Policy) -> None:
    """An enforced rule, an open rejected request and a report-only rule on api 1.1.0."""
    await _rule(policy, "freeze", "schedule", _freeze())
    await _rule(
        policy, "sign-off", "version_approval", {"approval_types": ["qa"]}, mode="report_only"
    )
    dr = await _request(policy, "release", pre_steps=())
    decide = DecideSlot(
        actor=QA, request_id=dr.id, slot_id=dr.approval_slots[0].id, decision="reject"
    )
    result(await policy.ask(decide), DeploymentRequestPublic)


@pytest.mark.parametrize(
    "actor",
    [
        pytest.param(ADMIN, id="admin"),
        pytest.param(RELEASE_MANAGER, id="release_manager"),
        pytest.param(SRE, id="sre"),
    ],
)
async def test_an_override_lets_one_deployment_through_rules_and_requests(
    policy: Policy, actor: Actor
) -> None:
    await _blocking_everything(policy)
    d = recorded(
        await policy.start(
            "api", "1.1.0", "production", actor=actor, override_reason="hotfix for INC-42"
        )
    )
    preflight = d.extra_metadata["preflight_status"]
    assert preflight["status"] == "passed"
    override = preflight["override"]
    assert (override["by"], override["reason"]) == (actor.name, "hotfix for INC-42")
    assert sorted(v["code"] for v in override["violations"]) == [
        "APPROVAL_REQUIRED",
        "NO_DEPLOY_WINDOW",
    ]
    evaluated = [(e["rule_name"], e["status"], e["code"]) for e in preflight["rules_evaluated"]]
    assert sorted(evaluated) == [
        ("freeze", "enabled", "NO_DEPLOY_WINDOW"),
        ("release", "enabled", "APPROVAL_REQUIRED"),
        ("sign-off", "report_only", "QUALITY_APPROVAL_REQUIRED"),
    ]
    assert {e["evaluation_result"] for e in preflight["rules_evaluated"]} == {"failed"}


async def test_an_override_is_logged_audited_and_announced(policy: Policy) -> None:
    await _blocking_everything(policy)
    d = recorded(
        await policy.start("api", "1.1.0", "production", actor=SRE, override_reason="hotfix")
    )
    outcomes = {(v.code, v.outcome, v.deployment_id) for v in (await _violations(policy)).items}
    assert outcomes == {
        ("NO_DEPLOY_WINDOW", "overridden", d.id),
        ("APPROVAL_REQUIRED", "overridden", d.id),
        ("QUALITY_APPROVAL_REQUIRED", "reported", d.id),
    }
    [entry] = await audit_entries(policy.ctx, "deployment.overridden")
    assert (entry.actor, entry.at, entry.subject_id) == ("user:sarah", T0, str(d.id))
    assert entry.data["reason"] == "hotfix"
    assert sorted(v["code"] for v in entry.data["violations"]) == [
        "APPROVAL_REQUIRED",
        "NO_DEPLOY_WINDOW",
    ]
    [verdict] = await audit_entries(policy.ctx, "deployment.verdict")
    assert verdict.data["outcome"] == "overridden"
    [event] = _changes(await outbox(policy.ctx, "deployment.overridden"))
    assert event.deployment == d
    assert sorted(v.code for v in event.violations) == ["APPROVAL_REQUIRED", "NO_DEPLOY_WINDOW"]
    assert len(await outbox(policy.ctx, "deployment.started")) == 1


async def test_an_override_reason_in_extra_metadata_counts(policy: Policy) -> None:
    await _rule(policy, "freeze", "schedule", _freeze())
    d = recorded(
        await policy.start(
            "api",
            "1.1.0",
            "production",
            actor=ADMIN,
            extra_metadata={"override_reason": "  customer outage  "},
        )
    )
    assert d.extra_metadata["preflight_status"]["override"]["reason"] == "customer outage"


async def test_an_override_lets_only_that_deployment_through(policy: Policy) -> None:
    await _rule(policy, "freeze", "schedule", _freeze())
    await policy.deploy("api", "1.1.0", "production", actor=ADMIN, override_reason="hotfix")
    refused(await policy.start("api", "1.1.1", "production", actor=ADMIN), 428)


async def test_an_override_with_nothing_to_override_is_a_plain_pass(policy: Policy) -> None:
    d = recorded(
        await policy.start(
            "api", "1.1.0", "production", actor=ADMIN, override_reason="just in case"
        )
    )
    assert d.extra_metadata["preflight_status"]["override"] is None
    assert await audit_entries(policy.ctx, "deployment.overridden") == []


async def test_an_override_never_passes_a_deployment_in_progress(policy: Policy) -> None:
    recorded(await policy.start("api", "1.0.0", "production"))
    await _rule(policy, "freeze", "schedule", _freeze())
    reply = await policy.start("api", "1.1.0", "production", actor=ADMIN, override_reason="now")
    detail = detail_of(refused(reply, 428))
    assert _codes(detail) == ["DEPLOYMENT_IN_PROGRESS", "NO_DEPLOY_WINDOW"]
    assert {v.outcome for v in (await _violations(policy)).items} == {"blocked"}
    assert await audit_entries(policy.ctx, "deployment.overridden") == []
    assert await outbox(policy.ctx, "deployment.overridden") == []


async def test_an_override_against_a_deployment_in_progress_alone_is_still_409(
    policy: Policy,
) -> None:
    recorded(await policy.start("api", "1.0.0", "production"))
    reply = await policy.start("api", "1.1.0", "production", actor=ADMIN, override_reason="now")
    assert _codes(detail_of(refused(reply, 409))) == ["DEPLOYMENT_IN_PROGRESS"]


async def test_an_override_never_passes_a_version_conflict(policy: Policy) -> None:
    recorded_build(await policy.build("api", "1.1.0", scm_sha="aaa1111"))
    await _rule(policy, "freeze", "schedule", _freeze())
    reply = await policy.start(
        "api", "1.1.0", "production", actor=ADMIN, scm_sha="bbb2222", override_reason="now"
    )
    assert _codes(detail_of(refused(reply, 428))) == ["VERSION_CONFLICT", "NO_DEPLOY_WINDOW"]
    assert await count(policy.ctx, Deployment) == 0


@pytest.mark.parametrize(
    "actor",
    [
        pytest.param(CI, id="api-key"),
        pytest.param(DEV, id="developer"),
        pytest.param(QA, id="qa"),
    ],
)
async def test_an_override_from_anyone_else_is_403_and_records_nothing(
    policy: Policy, actor: Actor
) -> None:
    await _rule(policy, "freeze", "schedule", _freeze())
    audited = await count(policy.ctx, AuditEntry)
    announced = await count(policy.ctx, OutboxMessage)
    reply = await policy.start(
        "api", "1.1.0", "production", actor=actor, extra_metadata={"override_reason": "please"}
    )
    assert refused(reply, 403).body.detail == "You do not have permission to perform this action"
    for model in (Deployment, BlockedAttempt, EventRecord, ViolationRecord, Product):
        assert await count(policy.ctx, model) == 0, model
    assert await count(policy.ctx, AuditEntry) == audited
    assert await count(policy.ctx, OutboxMessage) == announced


# --- deployments that skipped the gate -----------------------------------------------------


async def test_a_completed_without_a_start_under_an_enabled_rule_is_gate_skipped(
    policy: Policy,
) -> None:
    rule = await _rule(policy, "freeze", "schedule", _freeze())
    d = recorded(await policy.report("api", "1.0.0", "production", "completed"))
    preflight = d.extra_metadata["preflight_status"]
    assert preflight["status"] == "skipped"
    assert [(e["rule_name"], e["status"], e["code"]) for e in preflight["rules_evaluated"]] == [
        ("freeze", "enabled", "NO_DEPLOY_WINDOW")
    ]
    [event] = _changes(await outbox(policy.ctx, "deployment.gate_skipped"))
    assert event.deployment == d
    assert [v.code for v in event.violations] == ["NO_DEPLOY_WINDOW"]
    [entry] = await audit_entries(policy.ctx, "deployment.gate_skipped")
    assert entry.subject_id == str(d.id)
    [logged] = (await _violations(policy)).items
    assert (logged.outcome, logged.rule_id, logged.deployment_id) == ("reported", rule.id, d.id)


async def test_a_completed_without_a_start_under_an_open_request_is_gate_skipped(
    policy: Policy,
) -> None:
    await _request(policy, "release", version="1.0.0")
    recorded(await policy.report("api", "1.0.0", "production", "completed"))
    [event] = _changes(await outbox(policy.ctx, "deployment.gate_skipped"))
    assert [v.code for v in event.violations] == ["APPROVAL_REQUIRED", "CHECKLIST_INCOMPLETE"]


async def test_a_completed_without_a_start_under_a_passing_rule_is_still_gate_skipped(
    policy: Policy,
) -> None:
    await _rule(policy, "freeze", "schedule", _freeze("2026-03-02T08:00"))
    recorded(await policy.report("api", "1.0.0", "production", "completed"))
    [event] = _changes(await outbox(policy.ctx, "deployment.gate_skipped"))
    assert event.violations == []


async def test_a_failed_without_a_start_is_gate_skipped_too(policy: Policy) -> None:
    await _rule(policy, "freeze", "schedule", _freeze())
    d = recorded(await policy.report("api", "1.0.0", "production", "failed"))
    assert d.extra_metadata["preflight_status"]["status"] == "skipped"
    assert len(await outbox(policy.ctx, "deployment.gate_skipped")) == 1


async def test_a_completed_without_a_start_that_nothing_governs_is_not_gate_skipped(
    policy: Policy,
) -> None:
    await _rule(policy, "freeze", "schedule", _freeze(), environments=["staging"])
    await _request(policy, "release", version="0.9.0")
    d = recorded(await policy.report("api", "1.0.0", "production", "completed"))
    assert d.extra_metadata["preflight_status"] == {
        "status": "skipped",
        "rules_evaluated": [],
        "override": None,
    }
    assert await outbox(policy.ctx, "deployment.gate_skipped") == []
    assert await audit_entries(policy.ctx, "deployment.gate_skipped") == []


async def test_a_completed_without_a_start_under_a_report_only_rule_is_not_gate_skipped(
    policy: Policy,
) -> None:
    await _rule(policy, "freeze", "schedule", _freeze(), mode="report_only")
    d = recorded(await policy.report("api", "1.0.0", "production", "completed"))
    [entry] = d.extra_metadata["preflight_status"]["rules_evaluated"]
    assert entry["status"] == "report_only"
    assert await outbox(policy.ctx, "deployment.gate_skipped") == []


async def test_a_completed_after_its_start_is_not_gate_skipped(policy: Policy) -> None:
    rule = await _rule(policy, "freeze", "schedule", _freeze(), mode="disabled")
    recorded(await policy.start("api", "1.0.0", "production"))
    result(await policy.ask(UpdateRule(actor=ADMIN, rule_id=rule.id, mode="enabled")), RulePublic)
    d = recorded(await policy.report("api", "1.0.0", "production", "completed"))
    assert d.extra_metadata["preflight_status"]["status"] == "passed"
    assert await outbox(policy.ctx, "deployment.gate_skipped") == []


# --- the audit log -------------------------------------------------------------------------


async def _a_day_of_decisions(policy: Policy) -> None:
    """One of each: rule change, verdict, override, approval, slot decision, tick, rename."""
    recorded_build(await policy.build("api", "1.1.0"))
    rule = await _rule(policy, "freeze", "schedule", _freeze(), actor=SRE)
    policy.clock.advance(minutes=1)
    result(await policy.ask(UpdateRule(actor=SRE, rule_id=rule.id, mode="report_only")), RulePublic)
    policy.clock.advance(minutes=1)
    result(await policy.ask(UpdateRule(actor=SRE, rule_id=rule.id, mode="enabled")), RulePublic)
    policy.clock.advance(minutes=1)
    refused(await policy.start("api", "1.1.0", "production", actor=DEV), 428)
    policy.clock.advance(minutes=1)
    await policy.deploy("api", "1.1.0", "production", actor=RELEASE_MANAGER, override_reason="x")
    policy.clock.advance(minutes=1)
    approve = ApproveVersion(
        actor=SECURITY, product="api", version="1.1.0", approval_type=ApprovalType.SECURITY
    )
    result(await policy.ask(approve), VersionApprovalPublic)
    policy.clock.advance(minutes=1)
    dr = await _request(policy, "release")
    decide = DecideSlot(
        actor=QA, request_id=dr.id, slot_id=dr.approval_slots[0].id, decision="approve"
    )
    result(await policy.ask(decide), DeploymentRequestPublic)
    policy.clock.advance(minutes=1)
    tick = CompleteStep(actor=DEV, request_id=dr.id, step_id=dr.pre_steps[0].id)
    result(await policy.ask(tick), DeploymentRequestPublic)
    policy.clock.advance(minutes=1)
    product = result(await policy.ask(GetProduct(actor=ADMIN, ref="api")), ProductPublic)
    rename = UpdateProduct(actor=ADMIN, product_id=product.id, name="core-api")
    result(await policy.ask(rename), ProductPublic)


async def test_the_audit_log_holds_every_kind_of_decision_with_actor_and_time(
    policy: Policy,
) -> None:
    await _a_day_of_decisions(policy)
    page = await _audit(policy)
    seen = {(e.action, e.actor, e.at) for e in page.items}
    minute = timedelta(minutes=1)
    assert {
        ("rule.created", "user:sarah", T0),
        ("rule.mode_changed", "user:sarah", T0 + minute),
        ("rule.mode_changed", "user:sarah", T0 + 2 * minute),
        ("deployment.verdict", "user:dev", T0 + 3 * minute),
        ("deployment.verdict", "user:rita", T0 + 4 * minute),
        ("deployment.overridden", "user:rita", T0 + 4 * minute),
        ("version.approved", "user:sam", T0 + 5 * minute),
        ("dr.created", "user:dev", T0 + 6 * minute),
        ("dr.submit", "user:dev", T0 + 6 * minute),
        ("dr.slot_approved", "user:quinn", T0 + 6 * minute),
        ("dr.step_completed", "user:dev", T0 + 7 * minute),
        ("product.renamed", "user:alice", T0 + 8 * minute),
    } <= seen
    ids = [e.id for e in page.items]
    assert ids == sorted(ids, reverse=True)
    assert page.total == len(page.items)


async def test_the_audit_log_filters_by_time(policy: Policy) -> None:
    await _a_day_of_decisions(policy)
    page = await _audit(policy, since=T0 + timedelta(minutes=7))
    assert [e.action for e in page.items] == ["product.renamed", "dr.step_completed"]
    assert page.total == 2


async def test_the_audit_log_filters_by_exact_action(policy: Policy) -> None:
    await _a_day_of_decisions(policy)
    page = await _audit(policy, action="deployment.verdict")
    assert [e.data["outcome"] for e in page.items] == ["overridden", "blocked"]


async def test_the_audit_log_filters_by_action_prefix(policy: Policy) -> None:
    await _a_day_of_decisions(policy)
    page = await _audit(policy, action="rule.")
    assert [e.action for e in page.items] == [
        "rule.mode_changed",
        "rule.mode_changed",
        "rule.created",
    ]
    assert (await _audit(policy, action="rule")).items == []


async def test_the_audit_log_filters_by_actor(policy: Policy) -> None:
    await _a_day_of_decisions(policy)
    page = await _audit(policy, by="quinn")
    assert [(e.action, e.actor) for e in page.items] == [("dr.slot_approved", "user:quinn")]
    assert {e.actor for e in (await _audit(policy, by="user:sarah")).items} == {"user:sarah"}


async def test_the_audit_log_actor_filter_never_matches_a_longer_name(policy: Policy) -> None:
    await _rule(policy, "one", "schedule", _freeze(), actor=_user(Role.SRE, "sam"))
    await _rule(policy, "two", "schedule", _freeze(), actor=_user(Role.SRE, "samantha"))
    page = await _audit(policy, by="sam")
    assert [(e.action, e.actor) for e in page.items] == [("rule.created", "user:sam")]


async def test_the_audit_log_pages_with_before(policy: Policy) -> None:
    await _a_day_of_decisions(policy)
    everything = (await _audit(policy)).items
    first = await _audit(policy, limit=3)
    assert first.items == everything[:3]
    assert first.total == len(everything)
    second = await _audit(policy, limit=3, before=first.items[-1].id)
    assert second.items == everything[3:6]
    assert second.total == len(everything)


@pytest.mark.parametrize(
    "actor",
    [
        pytest.param(VIEWER, id="viewer"),
        pytest.param(DEV, id="developer"),
        pytest.param(SRE, id="sre"),
        pytest.param(CI, id="api-key"),
    ],
)
async def test_the_audit_log_is_refused_to_roles_without_it(policy: Policy, actor: Actor) -> None:
    refused(await policy.ask(ListAudit(actor=actor)), 403)


@pytest.mark.parametrize("role", [Role.ADMIN, Role.RELEASE_MANAGER, Role.SECURITY, Role.COMPLIANCE])
async def test_the_audit_log_is_read_by_its_roles(policy: Policy, role: Role) -> None:
    await _rule(policy, "freeze", "schedule", _freeze())
    page = result(await policy.ask(ListAudit(actor=_user(role, "reader"))), Page[AuditEntryPublic])
    assert [e.action for e in page.items] == ["rule.created"]


# --- the violations log --------------------------------------------------------------------


async def _a_day_of_violations(policy: Policy) -> RulePublic:
    """api and web blocked in production by `freeze`; `sign-off` reports everywhere."""
    freeze = await _rule(policy, "freeze", "schedule", _freeze())
    await _rule(
        policy,
        "sign-off",
        "version_approval",
        {"approval_types": ["qa"]},
        mode="report_only",
        environments=[],
    )
    refused(await policy.start("api", "1.0.0", "production"), 428)
    policy.clock.advance(minutes=10)
    refused(await policy.start("web", "2.0.0", "production"), 428)
    policy.clock.advance(minutes=10)
    recorded(await policy.start("api", "1.0.0", "staging"))
    return freeze


async def test_the_violations_log_lists_every_failed_check_newest_first(policy: Policy) -> None:
    await _a_day_of_violations(policy)
    page = await _violations(policy)
    assert page.total == 5
    listed = [(v.product, v.environment, v.rule_name, v.outcome) for v in page.items]
    assert listed == [
        ("api", "staging", "sign-off", "reported"),
        ("web", "production", "sign-off", "reported"),
        ("web", "production", "freeze", "blocked"),
        ("api", "production", "sign-off", "reported"),
        ("api", "production", "freeze", "blocked"),
    ]
    newest = page.items[0]
    assert (newest.version, newest.rule_type, newest.code, newest.actor) == (
        "1.0.0",
        "version_approval",
        "QUALITY_APPROVAL_REQUIRED",
        "api_key:ci",
    )
    assert newest.at == T0 + timedelta(minutes=20)
    assert newest.message.startswith("api 1.0.0 needs qa sign-off")


async def test_the_violations_log_filters_by_rule(policy: Policy) -> None:
    await _a_day_of_violations(policy)
    page = await _violations(policy, rule="freeze")
    assert [(v.product, v.rule_name) for v in page.items] == [
        ("web", "freeze"),
        ("api", "freeze"),
    ]


async def test_the_violations_log_filters_by_rule_id_and_by_the_rules_names(
    policy: Policy,
) -> None:
    freeze = await _a_day_of_violations(policy)
    rename = UpdateRule(actor=ADMIN, rule_id=freeze.id, name="big freeze")
    result(await policy.ask(rename), RulePublic)
    by_id = await _violations(policy, rule=str(freeze.id))
    assert [(v.product, v.rule_id) for v in by_id.items] == [("web", freeze.id), ("api", freeze.id)]
    assert await _violations(policy, rule="big freeze") == by_id
    assert await _violations(policy, rule="freeze") == by_id


async def test_the_violations_log_filters_by_product_under_any_of_its_names(
    policy: Policy,
) -> None:
    await _a_day_of_violations(policy)
    product = result(await policy.ask(GetProduct(actor=ADMIN, ref="api")), ProductPublic)
    rename = UpdateProduct(actor=ADMIN, product_id=product.id, name="core-api")
    result(await policy.ask(rename), ProductPublic)
    by_old = await _violations(policy, product="api")
    by_new = await _violations(policy, product="core-api")
    assert by_old == by_new
    assert by_old.total == 3
    assert {v.product for v in by_old.items} == {"core-api"}


async def test_the_violations_log_filters_by_environment(policy: Policy) -> None:
    await _a_day_of_violations(policy)
    page = await _violations(policy, environment="staging")
    assert [(v.product, v.rule_name) for v in page.items] == [("api", "sign-off")]


async def test_the_violations_log_filters_by_time(policy: Policy) -> None:
    await _a_day_of_violations(policy)
    page = await _violations(policy, since=T0 + timedelta(minutes=10))
    assert {v.product for v in page.items} == {"web", "api"}
    assert page.total == 3


async def test_the_violations_log_filters_by_outcome(policy: Policy) -> None:
    await _a_day_of_violations(policy)
    blocked = await _violations(policy, outcome="blocked")
    assert {v.rule_name for v in blocked.items} == {"freeze"}
    reported = await _violations(policy, outcome="reported")
    assert {v.rule_name for v in reported.items} == {"sign-off"}
    assert (blocked.total, reported.total) == (2, 3)


async def test_the_violations_log_of_an_unknown_product_is_empty(policy: Policy) -> None:
    await _a_day_of_violations(policy)
    assert await _violations(policy, product="nothing") == Page[ViolationPublic](items=[], total=0)


async def test_the_violations_log_pages_with_before(policy: Policy) -> None:
    await _a_day_of_violations(policy)
    everything = (await _violations(policy)).items
    first = await _violations(policy, limit=2)
    second = await _violations(policy, limit=2, before=first.items[-1].id)
    third = await _violations(policy, limit=2, before=second.items[-1].id)
    assert [*first.items, *second.items, *third.items] == everything
    assert (first.total, second.total, third.total) == (5, 5, 5)


# --- two replicas, one revision ------------------------------------------------------------


async def test_a_rule_enabled_through_one_replica_binds_the_next_verdict_of_another(
    ctx: PolicyContext, database_url: str, clock: FrozenClock
) -> None:
    if not is_postgres(database_url):
        pytest.skip("replicas share a database only on PostgreSQL; SQLite has a single writer")
    other = PolicyContext(
        settings=policy_settings(database_url), db=Database(database_url), clock=clock
    )
    one, two = Policy(ctx, clock), Policy(other, clock)
    try:
        rule = await _rule(one, "freeze", "schedule", _freeze(), mode="disabled")
        # The other replica loads and caches the revision with the rule disabled.
        recorded(await two.start("api", "1.0.0", "staging"))
        enable = UpdateRule(actor=ADMIN, rule_id=rule.id, mode="enabled")
        result(await one.ask(enable), RulePublic)
        assert detail_of(refused(await two.start("api", "1.0.0", "production"), 428)).code == (
            "NO_DEPLOY_WINDOW"
        )
    finally:
        await other.db.dispose()


async def test_a_slot_decided_through_one_replica_frees_the_next_verdict_of_another(
    ctx: PolicyContext, database_url: str, clock: FrozenClock
) -> None:
    if not is_postgres(database_url):
        pytest.skip("replicas share a database only on PostgreSQL; SQLite has a single writer")
    other = PolicyContext(
        settings=policy_settings(database_url), db=Database(database_url), clock=clock
    )
    one, two = Policy(ctx, clock), Policy(other, clock)
    try:
        dr = await _request(one, "release", pre_steps=())
        refused(await two.start("api", "1.1.0", "production"), 428)
        decide = DecideSlot(
            actor=QA, request_id=dr.id, slot_id=dr.approval_slots[0].id, decision="approve"
        )
        result(await one.ask(decide), DeploymentRequestPublic)
        recorded(await two.start("api", "1.1.0", "production"))
    finally:
        await other.db.dispose()


async def test_a_blocked_attempt_is_announced_with_the_violations_in_the_428s_order(
    policy: Policy,
) -> None:
    await _rule(policy, "freeze", "schedule", _freeze())
    await _request(policy, "release", pre_steps=())
    detail = detail_of(refused(await policy.start("api", "1.1.0", "production"), 428))
    assert _codes(detail) == ["NO_DEPLOY_WINDOW", "APPROVAL_REQUIRED"]
    [event] = _blocks(await outbox(policy.ctx, "deployment.preflight_failed"))
    assert [v.code for v in event.violations] == _codes(detail)
