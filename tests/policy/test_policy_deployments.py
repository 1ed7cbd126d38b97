"""Deployment events: the start verdict, outcomes, replays, timeouts and abandoned starts."""

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta
from uuid import UUID, uuid4

import pytest

from tests.support.policy import (
    ADMIN,
    CI,
    VIEWER,
    Policy,
    audit_entries,
    count,
    deployment_event,
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
from versioner.common.messages.domain import DeploymentBlocked, DeploymentChanged
from versioner.common.messages.lanes import DeploymentRecorded, EvaluateDeployment
from versioner.common.messages.management import (
    AbortDeployment,
    GetDeployment,
    GetEvent,
)
from versioner.common.resources import DeploymentPublic, EventStatus
from versioner.policy.context import PolicyContext
from versioner.policy.deployments.closing import sweep_timeouts
from versioner.policy.deployments.outcomes import handle_deployment_event
from versioner.policy.deployments.start import handle_start
from versioner.policy.store.clock import FrozenClock
from versioner.policy.store.db import Database
from versioner.policy.store.deadline import COMMIT_MARGIN_S, Deadline, DeadlineExceeded
from versioner.policy.store.tables import (
    AuditEntry,
    BlockedAttempt,
    Deployment,
    EnvironmentState,
    EventRecord,
    Product,
)

PASSED: dict[str, object] = {"status": "passed", "rules_evaluated": [], "override": None}


async def _state(policy: Policy) -> EnvironmentState:
    [state] = await rows(policy.ctx, EnvironmentState)
    return state


async def _deployment(policy: Policy, deployment_id: UUID) -> DeploymentPublic:
    return result(
        await policy.ask(GetDeployment(actor=CI, deployment_id=deployment_id)), DeploymentPublic
    )


async def _audit_about(policy: Policy, subject: UUID) -> list[AuditEntry]:
    return [e for e in await rows(policy.ctx, AuditEntry) if e.subject_id == str(subject)]


def _event(row_body: str) -> DeploymentChanged:
    return DeploymentChanged.model_validate_json(row_body)


# --- started: let through ------------------------------------------------------------------


async def test_a_start_is_let_through_with_preflight_passed(policy: Policy) -> None:
    msg = started("api", "1.0.0", "production", at=policy.clock.now(), deployed_by="dora")
    d = recorded(await handle_start(policy.ctx, msg, Deadline()))
    assert d.id == msg.event_id
    assert d.status == "started"
    assert d.extra_metadata["preflight_status"] == PASSED
    assert (d.product_name, d.version, d.environment_name) == ("api", "1.0.0", "production")
    assert d.deployed_at == policy.clock.now()
    assert d.deployed_by == "dora"
    assert d.finished_at is None
    assert d.soak_time_hours is None


async def test_a_start_marks_its_pair_in_progress(policy: Policy) -> None:
    d = recorded(await policy.start("api", "1.0.0", "production"))
    state = await _state(policy)
    assert state.in_progress_deployment_id == d.id
    assert state.latest_deployment_id == d.id
    assert state.current_deployment_id is None


async def test_a_start_let_through_is_announced_and_audited(policy: Policy) -> None:
    d = recorded(await policy.start("api", "1.0.0", "production"))
    [row] = await outbox(policy.ctx, "deployment.started")
    assert _event(row.body).deployment == d
    [entry] = await audit_entries(policy.ctx, "deployment.verdict")
    assert entry.data == {"outcome": "allowed", "violations": [], "reported": []}
    assert entry.subject_id == str(d.id)


async def test_metadata_sent_with_a_start_is_kept_beside_the_preflight_status(
    policy: Policy,
) -> None:
    d = recorded(await policy.start("api", "1.0.0", "production", extra_metadata={"ticket": "X"}))
    assert d.extra_metadata == {"ticket": "X", "preflight_status": PASSED}


# --- started: one at a time ----------------------------------------------------------------


async def test_a_second_start_on_the_same_pair_is_409_deployment_in_progress(
    policy: Policy,
) -> None:
    running = recorded(await policy.start("api", "1.0.0", "production"))
    policy.clock.advance(minutes=3)
    failure = refused(await policy.start("api", "1.0.1", "production"), 409)
    assert "message" not in failure.body.to_json()
    detail = detail_of(failure)
    assert detail.error == "deployment_blocked"
    assert detail.code == "DEPLOYMENT_IN_PROGRESS"
    assert detail.retry_after is None
    assert str(running.id) in detail.message
    assert detail.details["rule_name"] == "one deployment at a time"
    assert detail.details["conflicting_deployment_id"] == str(running.id)
    assert detail.details["conflicting_deployment_status"] == "started"
    assert detail.details["conflicting_deployment_started"] == "2026-03-02T09:00:00Z"
    [violation] = detail.details["violations"]
    assert violation["code"] == "DEPLOYMENT_IN_PROGRESS"
    assert violation["rule_name"] == "one deployment at a time"
    assert violation["rule_type"] == "concurrency"
    assert violation["retry_after"] is None
    assert violation["details"]["conflicting_deployment_id"] == str(running.id)


async def test_a_blocked_start_is_a_blocked_attempt_not_a_deployment(policy: Policy) -> None:
    running = recorded(await policy.start("api", "1.0.0", "production"))
    state_before = await _state(policy)
    msg = started("api", "1.0.1", "production", at=policy.clock.now(), scm_sha="f00")
    refused(await handle_start(policy.ctx, msg, Deadline()), 409)
    [attempt] = await rows(policy.ctx, BlockedAttempt)
    assert attempt.id == msg.event_id
    assert attempt.status_code == 409
    assert attempt.actor == "api_key:ci"
    assert [v["code"] for v in attempt.violations] == ["DEPLOYMENT_IN_PROGRESS"]
    assert [d.id for d in await rows(policy.ctx, Deployment)] == [running.id]
    state = await _state(policy)
    assert (
        state.in_progress_deployment_id,
        state.latest_deployment_id,
        state.current_deployment_id,
    ) == (
        state_before.in_progress_deployment_id,
        state_before.latest_deployment_id,
        state_before.current_deployment_id,
    )


async def test_a_blocked_start_is_announced_as_preflight_failed(policy: Policy) -> None:
    recorded(await policy.start("api", "1.0.0", "production"))
    msg = started("api", "1.0.1", "production", at=policy.clock.now(), scm_sha="f00")
    refused(await handle_start(policy.ctx, msg, Deadline()), 409)
    [row] = await outbox(policy.ctx, "deployment.preflight_failed")
    event = DeploymentBlocked.model_validate_json(row.body)
    assert (event.attempt.attempt_id, event.attempt.version, event.attempt.scm_sha) == (
        msg.event_id,
        "1.0.1",
        "f00",
    )
    assert [v.code for v in event.violations] == ["DEPLOYMENT_IN_PROGRESS"]
    [blocked] = [
        e
        for e in await audit_entries(policy.ctx, "deployment.verdict")
        if e.data["outcome"] == "blocked"
    ]
    assert blocked.subject_id == str(msg.event_id)


async def test_another_product_or_environment_is_not_blocked(policy: Policy) -> None:
    recorded(await policy.start("api", "1.0.0", "production"))
    recorded(await policy.start("web", "1.0.0", "production"))
    recorded(await policy.start("api", "1.0.0", "staging"))
    assert await count(policy.ctx, Deployment) == 3


async def test_skip_preflight_checks_never_bypasses_the_gate(policy: Policy) -> None:
    recorded(await policy.start("api", "1.0.0", "production"))
    refused(await policy.start("api", "1.0.1", "production", skip_preflight_checks=True), 409)


async def test_a_start_with_the_running_ones_invoke_id_is_a_replay(policy: Policy) -> None:
    first = recorded(await policy.start("api", "1.0.0", "production", invoke_id="run-1"))
    announced = len(await outbox(policy.ctx))
    again = recorded(await policy.start("api", "1.0.0", "production", invoke_id="run-1"))
    assert again == first
    assert await count(policy.ctx, Deployment) == 1
    assert await count(policy.ctx, BlockedAttempt) == 0
    assert len(await outbox(policy.ctx)) == announced


async def test_a_start_with_another_invoke_id_is_blocked(policy: Policy) -> None:
    recorded(await policy.start("api", "1.0.0", "production", invoke_id="run-1"))
    refused(await policy.start("api", "1.0.0", "production", invoke_id="run-2"), 409)


async def test_a_start_without_invoke_id_is_never_a_replay(policy: Policy) -> None:
    recorded(await policy.start("api", "1.0.0", "production"))
    refused(await policy.start("api", "1.0.0", "production"), 409)


async def test_the_same_invoke_id_for_another_version_is_blocked(policy: Policy) -> None:
    recorded(await policy.start("api", "1.0.0", "production", invoke_id="run-1"))
    refused(await policy.start("api", "1.0.1", "production", invoke_id="run-1"), 409)


async def test_a_redelivered_start_answers_the_stored_verdict(policy: Policy) -> None:
    msg = started("api", "1.0.0", "production", at=policy.clock.now())
    first = recorded(await handle_start(policy.ctx, msg, Deadline()))
    again = recorded(await handle_start(policy.ctx, msg, Deadline()))
    assert again == first
    assert await count(policy.ctx, BlockedAttempt) == 0
    assert len(await outbox(policy.ctx, "deployment.started")) == 1


async def test_a_redelivered_blocked_start_is_blocked_again(policy: Policy) -> None:
    recorded(await policy.start("api", "1.0.0", "production"))
    msg = started("api", "1.0.1", "production", at=policy.clock.now())
    first = refused(await handle_start(policy.ctx, msg, Deadline()), 409)
    again = refused(await handle_start(policy.ctx, msg, Deadline()), 409)
    assert again == first
    assert await count(policy.ctx, BlockedAttempt) == 1


async def test_a_redelivered_start_answers_as_the_first_time_after_its_outcome(
    policy: Policy,
) -> None:
    msg = started("api", "1.0.0", "production", at=policy.clock.now())
    first = recorded(await handle_start(policy.ctx, msg, Deadline()))
    recorded(await policy.report("api", "1.0.0", "production", "completed"))
    again = recorded(await handle_start(policy.ctx, msg, Deadline()))
    assert again == first


async def test_a_redelivered_pending_event_answers_as_the_first_time_after_its_start(
    policy: Policy,
) -> None:
    msg = deployment_event(
        "api", "1.0.0", "production", "pending", invoke_id="run-1", at=policy.clock.now()
    )
    first = recorded(await handle_deployment_event(policy.ctx, msg))
    recorded(await policy.start("api", "1.0.0", "production", invoke_id="run-1"))
    again = recorded(await handle_deployment_event(policy.ctx, msg))
    assert again == first
    assert await count(policy.ctx, Deployment) == 1


async def test_a_redelivered_blocked_start_answers_the_stored_verdict_once_the_pair_is_free(
    policy: Policy,
) -> None:
    recorded(await policy.start("api", "1.0.0", "production"))
    msg = started("api", "1.0.1", "production", at=policy.clock.now())
    first = refused(await handle_start(policy.ctx, msg, Deadline()), 409)
    recorded(await policy.report("api", "1.0.0", "production", "completed"))
    again = refused(await handle_start(policy.ctx, msg, Deadline()), 409)
    assert again == first
    assert await count(policy.ctx, BlockedAttempt) == 1


# --- started: the version's SHA ------------------------------------------------------------


async def test_a_start_with_another_sha_than_the_registered_one_is_428_version_conflict(
    policy: Policy,
) -> None:
    recorded_build(await policy.build("api", "1.0.0", "completed", scm_sha="abc"))
    failure = refused(await policy.start("api", "1.0.0", "production", scm_sha="def"), 428)
    detail = detail_of(failure)
    assert detail.code == "VERSION_CONFLICT"
    assert detail.details["existing_sha"] == "abc"
    assert detail.details["sent_sha"] == "def"
    [violation] = detail.details["violations"]
    assert (violation["code"], violation["rule_type"]) == ("VERSION_CONFLICT", "version")
    assert detail.details["rule_name"] == violation["rule_name"]
    assert await count(policy.ctx, Deployment) == 0
    [attempt] = await rows(policy.ctx, BlockedAttempt)
    assert attempt.status_code == 428


async def test_a_start_with_the_registered_sha_is_let_through(policy: Policy) -> None:
    recorded_build(await policy.build("api", "1.0.0", "completed", scm_sha="abc"))
    recorded(await policy.start("api", "1.0.0", "production", scm_sha="abc"))


async def test_a_start_with_another_sha_than_an_unregistered_version_is_let_through(
    policy: Policy,
) -> None:
    recorded_build(await policy.build("api", "1.0.0", "started", scm_sha="abc"))
    recorded(await policy.start("api", "1.0.0", "production", scm_sha="def"))


async def test_both_violations_are_listed_in_order_and_answer_428(policy: Policy) -> None:
    recorded_build(await policy.build("api", "1.0.0", "completed", scm_sha="abc"))
    running = recorded(await policy.start("api", "1.0.0", "production", scm_sha="abc"))
    failure = refused(await policy.start("api", "1.0.0", "production", scm_sha="def"), 428)
    detail = detail_of(failure)
    assert detail.code == "DEPLOYMENT_IN_PROGRESS"
    assert detail.details["rule_name"] == "one deployment at a time"
    assert detail.details["conflicting_deployment_id"] == str(running.id)
    codes = [v["code"] for v in detail.details["violations"]]
    assert codes == ["DEPLOYMENT_IN_PROGRESS", "VERSION_CONFLICT"]
    assert detail.retry_after is None


# --- outcomes ------------------------------------------------------------------------------


async def test_a_completed_closes_the_running_deployment(policy: Policy) -> None:
    running = recorded(await policy.start("api", "1.0.0", "production"))
    policy.clock.advance(minutes=10)
    done = recorded(await policy.report("api", "1.0.0", "production", "deployed"))
    assert done.id == running.id
    assert done.status == "completed"
    assert done.deployed_at == running.deployed_at
    assert done.finished_at == policy.clock.now()
    assert done.extra_metadata["preflight_status"] == PASSED
    state = await _state(policy)
    assert state.current_deployment_id == running.id
    assert state.in_progress_deployment_id is None
    assert state.latest_deployment_id == running.id
    assert [row.routing_key for row in await outbox(policy.ctx)] == [
        "deployment.started",
        "deployment.completed",
    ]


async def test_a_completed_frees_the_pair_for_the_next_start(policy: Policy) -> None:
    await policy.deploy("api", "1.0.0", "production")
    recorded(await policy.start("api", "1.0.1", "production"))


async def test_soak_time_is_zero_right_after_completion_and_grows_with_the_clock(
    policy: Policy,
) -> None:
    done = await policy.deploy("api", "1.0.0", "production")
    assert done.soak_time_hours == 0.0
    policy.clock.advance(hours=3, minutes=30)
    assert (await _deployment(policy, done.id)).soak_time_hours == 3.5


async def test_soak_time_counts_in_the_environment_it_completed_in(policy: Policy) -> None:
    await policy.deploy("api", "1.0.0", "staging")
    policy.clock.advance(hours=2)
    elsewhere = recorded(await policy.start("api", "1.0.0", "production"))
    assert elsewhere.soak_time_hours is None


@pytest.mark.parametrize(("sent", "status"), [("error", "failed"), ("cancelled", "aborted")])
async def test_a_failed_or_aborted_closes_without_moving_current(
    policy: Policy, sent: str, status: str
) -> None:
    current = await policy.deploy("api", "1.0.0", "production")
    running = recorded(await policy.start("api", "1.0.1", "production"))
    closed = recorded(await policy.report("api", "1.0.1", "production", sent))
    assert closed.id == running.id
    assert closed.status == status
    assert closed.finished_at == policy.clock.now()
    assert closed.soak_time_hours is None
    state = await _state(policy)
    assert state.current_deployment_id == current.id
    assert state.latest_deployment_id == running.id
    assert state.in_progress_deployment_id is None
    assert len(await outbox(policy.ctx, f"deployment.{status}")) == 1


async def test_an_outcome_for_another_version_does_not_close_the_running_one(
    policy: Policy,
) -> None:
    running = recorded(await policy.start("api", "1.0.0", "production"))
    other = recorded(await policy.report("api", "0.9.0", "production", "completed"))
    assert other.id != running.id
    assert (await _state(policy)).in_progress_deployment_id == running.id


async def test_a_completed_without_a_start_is_a_new_deployment_with_preflight_skipped(
    policy: Policy,
) -> None:
    msg = deployment_event("api", "1.0.0", "production", "completed", at=policy.clock.now())
    d = recorded(await handle_deployment_event(policy.ctx, msg))
    assert d.id == msg.event_id
    assert d.status == "completed"
    assert d.extra_metadata["preflight_status"] == {
        "status": "skipped",
        "rules_evaluated": [],
        "override": None,
    }
    assert (await _state(policy)).current_deployment_id == d.id


async def test_a_repeated_completed_is_a_replay(policy: Policy) -> None:
    first = await policy.deploy("api", "1.0.0", "production", invoke_id="run-1")
    announced = len(await outbox(policy.ctx))
    again = recorded(
        await policy.report("api", "1.0.0", "production", "completed", invoke_id="run-1")
    )
    assert again == first
    assert await count(policy.ctx, Deployment) == 1
    assert len(await outbox(policy.ctx)) == announced


async def test_a_repeated_skipped_completed_is_a_replay(policy: Policy) -> None:
    recorded_build(await policy.build("api", "1.0.0", "completed"))
    first = recorded(await policy.report("api", "1.0.0", "production", "completed"))
    again = recorded(await policy.report("api", "1.0.0", "production", "success"))
    assert again == first
    assert await count(policy.ctx, Deployment) == 1


async def test_a_completed_for_a_version_seen_first_has_soaked_zero_hours(policy: Policy) -> None:
    d = recorded(await policy.report("api", "9.9.9", "production", "completed"))
    assert d.soak_time_hours == 0.0


async def test_a_rollback_reported_only_as_completed_is_a_new_deployment(policy: Policy) -> None:
    old = recorded(await policy.report("api", "1.0.0", "production", "completed"))
    policy.clock.advance(hours=1)
    recorded(await policy.report("api", "1.1.0", "production", "completed"))
    policy.clock.advance(hours=1)
    rollback = recorded(await policy.report("api", "1.0.0", "production", "completed"))
    assert rollback.id != old.id
    state = await _state(policy)
    assert state.current_deployment_id == rollback.id


async def test_a_terminal_event_with_another_sha_is_recorded_as_a_sha_mismatch(
    policy: Policy,
) -> None:
    recorded_build(await policy.build("api", "1.0.0", "completed", scm_sha="abc"))
    running = recorded(await policy.start("api", "1.0.0", "production", scm_sha="abc"))
    done = recorded(await policy.report("api", "1.0.0", "production", "completed", scm_sha="def"))
    assert done.id == running.id
    assert done.sha_mismatch
    [entry] = await audit_entries(policy.ctx, "deployment.sha_mismatch")
    assert entry.subject_id == str(done.id)
    [row] = await outbox(policy.ctx, "deployment.completed")
    assert _event(row.body).deployment.sha_mismatch


async def test_a_terminal_event_with_the_versions_sha_is_no_mismatch(policy: Policy) -> None:
    recorded_build(await policy.build("api", "1.0.0", "completed", scm_sha="abc"))
    done = recorded(await policy.report("api", "1.0.0", "production", "completed", scm_sha="abc"))
    assert not done.sha_mismatch
    assert await audit_entries(policy.ctx, "deployment.sha_mismatch") == []


# --- pending -------------------------------------------------------------------------------


async def test_a_start_after_pending_with_the_same_invoke_id_reuses_the_pending_row(
    policy: Policy,
) -> None:
    pending = recorded(
        await policy.report("api", "1.0.0", "production", "queued", invoke_id="run-1")
    )
    assert pending.status == "pending"
    policy.clock.advance(minutes=1)
    running = recorded(await policy.start("api", "1.0.0", "production", invoke_id="run-1"))
    assert running.id == pending.id
    assert running.status == "started"
    assert running.extra_metadata["preflight_status"] == PASSED
    assert await count(policy.ctx, Deployment) == 1
    assert (await _state(policy)).in_progress_deployment_id == pending.id


async def test_a_start_after_pending_with_another_invoke_id_is_a_new_row(policy: Policy) -> None:
    pending = recorded(
        await policy.report("api", "1.0.0", "production", "pending", invoke_id="run-1")
    )
    running = recorded(await policy.start("api", "1.0.0", "production", invoke_id="run-2"))
    assert running.id != pending.id
    assert await count(policy.ctx, Deployment) == 2


async def test_a_pending_deployment_does_not_block_a_start(policy: Policy) -> None:
    recorded(await policy.report("api", "1.0.0", "production", "pending", invoke_id="run-1"))
    recorded(await policy.start("api", "1.0.1", "production", invoke_id="run-2"))


# --- the timeout ---------------------------------------------------------------------------


async def test_a_start_after_the_timeout_is_let_through_and_the_old_one_aborted(
    policy: Policy,
) -> None:
    stuck = recorded(await policy.start("api", "1.0.0", "production"))
    policy.clock.advance(minutes=policy.ctx.settings.deployment_timeout_min + 1)
    fresh = recorded(await policy.start("api", "1.0.1", "production"))
    old = await _deployment(policy, stuck.id)
    assert old.status == "aborted"
    assert old.abort_reason == "timeout"
    assert old.finished_at == policy.clock.now()
    state = await _state(policy)
    assert state.in_progress_deployment_id == fresh.id
    assert [e.subject_id for e in await audit_entries(policy.ctx, "deployment.timed_out")] == [
        str(stuck.id)
    ]
    [row] = await outbox(policy.ctx, "deployment.aborted")
    assert _event(row.body).event_id == stuck.id


async def test_a_start_just_before_the_timeout_is_still_blocked(policy: Policy) -> None:
    recorded(await policy.start("api", "1.0.0", "production"))
    policy.clock.advance(minutes=policy.ctx.settings.deployment_timeout_min - 1)
    refused(await policy.start("api", "1.0.1", "production"), 409)


async def test_the_timeout_of_a_promoted_pending_deployment_counts_from_its_start(
    policy: Policy,
) -> None:
    recorded(await policy.report("api", "1.0.0", "production", "pending", invoke_id="run-1"))
    policy.clock.advance(minutes=policy.ctx.settings.deployment_timeout_min - 1)
    running = recorded(await policy.start("api", "1.0.0", "production", invoke_id="run-1"))
    policy.clock.advance(minutes=5)
    refused(await policy.start("api", "1.0.1", "production", invoke_id="run-2"), 409)
    assert (await _deployment(policy, running.id)).status == "started"


async def test_the_sweep_closes_deployments_older_than_the_timeout(policy: Policy) -> None:
    stuck = recorded(await policy.start("api", "1.0.0", "production"))
    recent_at = policy.clock.now() + timedelta(minutes=30)
    policy.clock.advance(minutes=30)
    recent = recorded(await policy.start("web", "1.0.0", "production"))
    policy.clock.advance(minutes=policy.ctx.settings.deployment_timeout_min - 29)
    assert await sweep_timeouts(policy.ctx) == 1
    closed = await _deployment(policy, stuck.id)
    assert (closed.status, closed.abort_reason, closed.finished_at) == (
        "aborted",
        "timeout",
        policy.clock.now(),
    )
    assert (await _deployment(policy, recent.id)).status == "started"
    assert recent.deployed_at == recent_at
    [entry] = await audit_entries(policy.ctx, "deployment.timed_out")
    assert (entry.subject_id, entry.actor) == (str(stuck.id), "system")
    [row] = await outbox(policy.ctx, "deployment.aborted")
    assert _event(row.body).event_id == stuck.id
    recorded(await policy.start("api", "1.0.1", "production"))


async def test_the_sweep_with_nothing_stale_closes_nothing(policy: Policy) -> None:
    running = recorded(await policy.start("api", "1.0.0", "production"))
    policy.clock.advance(minutes=policy.ctx.settings.deployment_timeout_min - 1)
    assert await sweep_timeouts(policy.ctx) == 0
    assert (await _deployment(policy, running.id)).status == "started"
    assert await outbox(policy.ctx, "deployment.aborted") == []


# --- abandoned starts ----------------------------------------------------------------------


async def test_an_abandoned_start_is_closed_as_aborted_and_frees_the_pair(policy: Policy) -> None:
    running = recorded(await policy.start("api", "1.0.0", "production"))
    policy.clock.advance(seconds=6)
    await policy.abandon(running.id, "api")
    closed = await _deployment(policy, running.id)
    assert closed.status == "aborted"
    assert closed.abort_reason == "abandoned"
    assert (await _state(policy)).in_progress_deployment_id is None
    [entry] = [e for e in await _audit_about(policy, running.id) if e.kind != "deployment.verdict"]
    assert entry.actor == "system"
    assert len(await outbox(policy.ctx, "deployment.aborted")) == 1
    recorded(await policy.start("api", "1.0.1", "production"))


async def test_an_abandoned_start_with_nothing_recorded_makes_a_late_copy_answer_503(
    policy: Policy,
) -> None:
    msg = started("api", "1.0.0", "production", at=policy.clock.now())
    await policy.abandon(msg.event_id, "api")
    late = refused(await handle_start(policy.ctx, msg, Deadline()), 503)
    assert detail_of(late).code == "POLICY_UNAVAILABLE"
    assert await count(policy.ctx, Deployment) == 0
    assert await count(policy.ctx, Product) == 0
    recorded(await policy.start("api", "1.0.0", "production"))


async def _run_started_then_answered_503(
    policy: Policy,
) -> tuple[EvaluateDeployment, DeploymentPublic]:
    """Run `run-1`'s start, recorded (the gateway then answered it 503); five seconds on."""
    first = started("api", "1.0.0", "production", at=policy.clock.now(), invoke_id="run-1")
    running = recorded(await handle_start(policy.ctx, first, Deadline()))
    policy.clock.advance(seconds=5)
    return first, running


async def test_an_abandon_that_arrives_after_its_runs_retry_was_answered_leaves_it_running(
    policy: Policy,
) -> None:
    # The gateway answered the first start 503 (its reply lost) and publishes the abandon on
    # its facts channel; the pipeline's retry goes on the requests channel and wins the race.
    first, running = await _run_started_then_answered_503(policy)
    retry = recorded(await policy.start("api", "1.0.0", "production", invoke_id="run-1"))
    assert retry.id == running.id
    await policy.abandon(first.event_id, "api")
    assert (await _deployment(policy, running.id)).status == "started"
    assert (await _state(policy)).in_progress_deployment_id == running.id
    assert await outbox(policy.ctx, "deployment.aborted") == []
    done = recorded(await policy.report("api", "1.0.0", "production", "completed"))
    assert done.id == running.id
    assert await count(policy.ctx, Deployment) == 1


async def test_an_abandon_that_arrives_before_its_runs_retry_closes_it_and_the_retry_starts_anew(
    policy: Policy,
) -> None:
    first, running = await _run_started_then_answered_503(policy)
    await policy.abandon(first.event_id, "api")
    retry = recorded(await policy.start("api", "1.0.0", "production", invoke_id="run-1"))
    assert retry.id != running.id
    assert (await _deployment(policy, running.id)).status == "aborted"
    done = recorded(await policy.report("api", "1.0.0", "production", "completed"))
    assert done.id == retry.id


async def test_an_abandoned_start_that_was_blocked_changes_nothing(policy: Policy) -> None:
    running = recorded(await policy.start("api", "1.0.0", "production"))
    msg = started("api", "1.0.1", "production", at=policy.clock.now())
    refused(await handle_start(policy.ctx, msg, Deadline()), 409)
    await policy.abandon(msg.event_id, "api")
    assert (await _deployment(policy, running.id)).status == "started"
    assert (await _state(policy)).in_progress_deployment_id == running.id


async def test_an_abandoned_start_of_a_finished_deployment_changes_nothing(
    policy: Policy,
) -> None:
    done = await policy.deploy("api", "1.0.0", "production")
    await policy.abandon(done.id, "api")
    assert (await _deployment(policy, done.id)).status == "completed"
    assert (await _state(policy)).current_deployment_id == done.id


async def test_an_abandoned_start_that_promoted_a_pending_row_closes_it(policy: Policy) -> None:
    pending = recorded(
        await policy.report("api", "1.0.0", "production", "pending", invoke_id="run-1")
    )
    msg = started("api", "1.0.0", "production", at=policy.clock.now(), invoke_id="run-1")
    assert recorded(await handle_start(policy.ctx, msg, Deadline())).id == pending.id
    await policy.abandon(msg.event_id, "api")
    assert (await _deployment(policy, pending.id)).status == "aborted"
    assert (await _state(policy)).in_progress_deployment_id is None


# --- the deadline --------------------------------------------------------------------------


async def test_a_deadline_already_past_is_503_and_records_nothing(policy: Policy) -> None:
    msg = started("api", "1.0.0", "production", at=policy.clock.now())
    past = Deadline(at_ms=1_000)
    failure = refused(await handle_start(policy.ctx, msg, past), 503)
    detail = detail_of(failure)
    assert (detail.error, detail.code, detail.retry_after) == (
        "policy_unavailable",
        "POLICY_UNAVAILABLE",
        None,
    )
    assert failure.retry_after_seconds == 5
    assert await count(policy.ctx, Product) == 0
    assert await count(policy.ctx, EventRecord) == 0
    assert await outbox(policy.ctx) == []


@dataclass(frozen=True)
class _RunsOutBeforeCommit(Deadline):
    """A deadline with time left at the first check and none at the second."""

    checks: list[float] = field(default_factory=list)

    def check(self, margin_s: float = COMMIT_MARGIN_S) -> None:
        self.checks.append(margin_s)
        if len(self.checks) > 1:
            raise DeadlineExceeded


async def test_a_deadline_reached_before_commit_rolls_the_verdict_back(policy: Policy) -> None:
    msg = started("api", "1.0.0", "production", at=policy.clock.now())
    deadline = _RunsOutBeforeCommit()
    refused(await handle_start(policy.ctx, msg, deadline), 503)
    assert len(deadline.checks) == 2
    assert await count(policy.ctx, Deployment) == 0
    assert await count(policy.ctx, EventRecord) == 0
    assert await outbox(policy.ctx) == []
    # The same request redelivered in time is decided afresh.
    recorded(await handle_start(policy.ctx, msg, Deadline()))


async def test_a_deadline_with_time_left_is_answered(policy: Policy) -> None:
    msg = started("api", "1.0.0", "production", at=policy.clock.now())
    at_ms = int((policy.clock.now() + timedelta(days=3650)).timestamp() * 1000)
    recorded(await handle_start(policy.ctx, msg, Deadline(at_ms=at_ms)))


# --- abort ---------------------------------------------------------------------------------


async def test_abort_closes_a_started_deployment_and_frees_the_pair(policy: Policy) -> None:
    running = recorded(await policy.start("api", "1.0.0", "production"))
    policy.clock.advance(minutes=2)
    aborted = result(
        await policy.ask(AbortDeployment(actor=ADMIN, deployment_id=running.id)), DeploymentPublic
    )
    assert aborted.id == running.id
    assert aborted.status == "aborted"
    assert aborted.finished_at == policy.clock.now()
    assert aborted.abort_reason == "aborted by alice"
    assert (await _state(policy)).in_progress_deployment_id is None
    [entry] = await audit_entries(policy.ctx, "deployment.aborted")
    assert entry.actor == "user:alice"
    assert len(await outbox(policy.ctx, "deployment.aborted")) == 1
    recorded(await policy.start("api", "1.0.1", "production"))


async def test_abort_of_a_deployment_not_in_progress_is_409(policy: Policy) -> None:
    done = await policy.deploy("api", "1.0.0", "production")
    refused(await policy.ask(AbortDeployment(actor=ADMIN, deployment_id=done.id)), 409)
    assert (await _deployment(policy, done.id)).status == "completed"


async def test_abort_of_an_unknown_deployment_is_404(policy: Policy) -> None:
    refused(await policy.ask(AbortDeployment(actor=ADMIN, deployment_id=uuid4())), 404)


async def test_abort_needs_permission_to_send_events(policy: Policy) -> None:
    running = recorded(await policy.start("api", "1.0.0", "production"))
    refused(await policy.ask(AbortDeployment(actor=VIEWER, deployment_id=running.id)), 403)
    assert (await _deployment(policy, running.id)).status == "started"


# --- what replies look like ----------------------------------------------------------------


async def test_timestamps_in_replies_serialise_with_z(policy: Policy) -> None:
    msg = started("api", "1.0.0", "production", at=policy.clock.now())
    first = await handle_start(policy.ctx, msg, Deadline())
    body = recorded(first).model_dump(mode="json")
    assert body["deployed_at"] == "2026-03-02T09:00:00Z"
    # The stored reply, given again to a redelivery, too.
    again = await handle_start(policy.ctx, msg, Deadline())
    assert recorded(again).model_dump(mode="json")["deployed_at"] == "2026-03-02T09:00:00Z"
    policy.clock.advance(minutes=5)
    done = recorded(await policy.report("api", "1.0.0", "production", "completed"))
    assert done.model_dump(mode="json")["finished_at"] == "2026-03-02T09:05:00Z"


async def test_the_start_event_is_recorded_with_what_it_became(policy: Policy) -> None:
    msg = started("api", "1.0.0", "production", at=policy.clock.now())
    d = recorded(await handle_start(policy.ctx, msg, Deadline()))
    status = result(await policy.ask(GetEvent(actor=CI, event_id=msg.event_id)), EventStatus)
    assert status.status == "recorded"
    assert (status.product_id, status.version_id, status.environment_id, status.record_id) == (
        d.product_id,
        d.version_id,
        d.environment_id,
        d.id,
    )


# --- two replicas on one database ----------------------------------------------------------


async def test_two_replicas_let_one_of_ten_concurrent_starts_through(
    database_url: str, clock: FrozenClock
) -> None:
    if not is_postgres(database_url):
        pytest.skip("replicas share a database only on PostgreSQL; SQLite has a single writer")
    replicas = [
        PolicyContext(
            settings=policy_settings(database_url), db=Database(database_url), clock=clock
        )
        for _ in range(2)
    ]
    try:
        replies = await asyncio.gather(
            *(
                handle_start(
                    replicas[i % 2],
                    started("api", f"1.0.{i}", "production", at=clock.now()),
                    Deadline(),
                )
                for i in range(10)
            )
        )
        allowed = [r for r in replies if isinstance(r, DeploymentRecorded)]
        assert len(allowed) == 1
        for reply in replies:
            if not isinstance(reply, DeploymentRecorded):
                assert detail_of(refused(reply, 409)).code == "DEPLOYMENT_IN_PROGRESS"
        one = replicas[0]
        assert await count(one, Deployment) == 1
        assert await count(one, BlockedAttempt) == 9
        assert await count(one, Product) == 1
        [state] = await rows(one, EnvironmentState)
        assert state.in_progress_deployment_id == allowed[0].deployment.id
    finally:
        for replica in replicas:
            await replica.db.dispose()
