"""The start verdict: a `deployment started` let through, replayed, overridden or blocked.

Break-glass lets one deployment through rule and request violations, never through a
deployment in progress or a SHA clash (ingest already refused callers who may not).
"""

import logging
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import Connection, insert

from versioner.common import tracing
from versioner.common.errors import Failure, Violation, forbidden, policy_unavailable
from versioner.common.messages.domain import DeploymentAttempt
from versioner.common.messages.lanes import DeploymentRecorded, DeploymentReply, EvaluateDeployment
from versioner.common.roles import Permission
from versioner.common.status import Status
from versioner.policy.context import PolicyContext
from versioner.policy.deployments import observe
from versioner.policy.deployments.closing import abort_in
from versioner.policy.deployments.recorder import Recorder
from versioner.policy.deployments.target import (
    EVENT_FIELDS,
    Target,
    apply_event,
    learn,
    new_deployment,
    pending_of,
    resolve,
    take_sha,
)
from versioner.policy.deployments.verdict import Verdict, blocked, ordered, preflight_status
from versioner.policy.rules import engine
from versioner.policy.rules.engine import Subject
from versioner.policy.rules.snapshot import Snapshot
from versioner.policy.store import eventlog, hot_path
from versioner.policy.store.deadline import Deadline, DeadlineExceeded
from versioner.policy.store.hot_path import DeploymentRecord
from versioner.policy.store.sql import table
from versioner.policy.store.tables import BlockedAttempt

log = logging.getLogger(__name__)

CONCURRENCY_RULE = "one deployment at a time"
_BLOCKED = table(BlockedAttempt)


def _running(ctx: PolicyContext, conn: Connection, target: Target) -> DeploymentRecord | None:
    """The deployment in progress on this pair; one older than the timeout is closed first."""
    running = hot_path.deployment(conn, target.state.in_progress_deployment_id)
    if running is None or running.status != Status.STARTED:
        return None
    now = ctx.clock.now()
    if running.deployed_at + timedelta(minutes=ctx.settings.deployment_timeout_min) > now:
        return running
    abort_in(conn, target, running, now, "timeout", "system")
    return None


def _claim(conn: Connection, running: DeploymentRecord, at: datetime) -> None:
    """A retry of its pipeline run was answered with this deployment: it is the pipeline's now.
    Its `updated_at` (never shown) says so to a `DeploymentStartAbandoned` of the first start
    that arrives after this answer (the gateway's abandon and the retry travel on different
    channels, so either may reach the lane first): that one must not close it."""
    running.updated_at = max(running.updated_at, at)
    hot_path.update_deployment(conn, running, "updated_at")


def _concurrency(running: DeploymentRecord, environment: str) -> Violation:
    return Violation(
        code="DEPLOYMENT_IN_PROGRESS",
        rule_name=CONCURRENCY_RULE,
        rule_type="concurrency",
        message=(
            f"Deployment {running.id} is still in progress in {environment}. Wait for it to "
            f"complete or fail, or abort it (POST /deployments/{running.id}/abort) if it is stuck."
        ),
        details={
            "conflicting_deployment_id": str(running.id),
            "conflicting_deployment_status": running.status,
            "conflicting_deployment_started": running.deployed_at.isoformat().replace(
                "+00:00", "Z"
            ),
        },
    )


def _sha_conflict(target: Target, sent: str) -> Violation:
    pinned = target.version.scm_sha
    return Violation(
        code="VERSION_CONFLICT",
        rule_name="version immutability",
        rule_type="version",
        message=(
            f"Version {target.version.version} of {target.product.name} is pinned to SHA {pinned}, "
            f"not {sent}. Deploy the build of that SHA, or give this build a new version."
        ),
        details={"existing_sha": pinned, "sent_sha": sent},
    )


def subject(ctx: PolicyContext, conn: Connection, snapshot: Snapshot, target: Target) -> Subject:
    """What the rules are asked about."""
    return Subject(
        product_id=target.product.id,
        product=target.product.name,
        product_names=snapshot.names_of_product(conn, target.product.id),
        version_id=target.version.id,
        version=target.version.version,
        environment_id=target.environment.id,
        environment=target.environment.name,
        environment_names=snapshot.names_of_environment(conn, target.environment.id),
    )


def evaluate_start(
    ctx: PolicyContext, conn: Connection, msg: EvaluateDeployment, target: Target
) -> tuple[DeploymentReply, Verdict | None]:
    """Decide a `deployment started` and record it: let through, replayed (no new verdict),
    or blocked."""
    event, at = msg.event, msg.received_at
    hard: list[Violation] = []
    if running := _running(ctx, conn, target):
        if (
            running.version_id == target.version.id
            and event.invoke_id
            and running.invoke_id == event.invoke_id
        ):
            _claim(conn, running, at)
            return DeploymentRecorded(deployment=target.public(conn, running, at)), None
        hard.append(_concurrency(running, target.environment.name))
    pinned = target.version.scm_sha if target.version.registered else None
    if pinned and event.scm_sha and event.scm_sha != pinned:
        hard.append(_sha_conflict(target, event.scm_sha))

    snapshot = ctx.snapshots.current(conn)
    evaluation = engine.evaluate(
        conn, snapshot, subject(ctx, conn, snapshot, target), ctx.clock.now()
    )
    overridden = bool(event.break_glass_reason and evaluation.enforced and not hard)
    if hard or (evaluation.enforced and not overridden):
        return _block(conn, msg, target, hard, evaluation)
    return _let_through(conn, msg, target, evaluation, overridden=overridden)


def _started(
    conn: Connection, msg: EvaluateDeployment, target: Target, metadata: dict[str, Any]
) -> DeploymentRecord:
    """The deployment this start opens: the pending one of its run, promoted, or a new one."""
    event, at = msg.event, msg.received_at
    take_sha(conn, target, event)
    d = pending_of(conn, target, event)
    if d is not None:
        d.status = Status.STARTED
        # It starts now: timeouts and "running since" count from here, not from the queue.
        d.deployed_at = at
        d.updated_at = at
        apply_event(d, event)
        d.extra_metadata = {**d.extra_metadata, **metadata}
        target.state.set(pending_deployment_id=None)
        hot_path.update_deployment(
            conn, d, "status", "deployed_at", "updated_at", "extra_metadata", *EVENT_FIELDS
        )
    else:
        d = new_deployment(target, msg.event_id, event, Status.STARTED, at)
        d.extra_metadata = {**d.extra_metadata, **metadata}
        hot_path.insert_deployment(conn, d)
    target.state.set(in_progress_deployment_id=d.id, latest_deployment_id=d.id)
    return d


def _let_through(
    conn: Connection,
    msg: EvaluateDeployment,
    target: Target,
    evaluation: engine.Evaluation,
    *,
    overridden: bool,
) -> tuple[DeploymentReply, Verdict]:
    reason = msg.event.break_glass_reason
    enforced = [v.model_dump(mode="json") for v in evaluation.enforced] if overridden else []
    override = {"by": msg.actor.name, "reason": reason, "violations": enforced}
    rules = engine.rules_evaluated(evaluation.findings, include_enforced=overridden)
    status = preflight_status("passed", rules, override if overridden else None)
    d = _started(conn, msg, target, {"preflight_status": status})
    public = target.public(conn, d, msg.received_at)
    record = Recorder(conn, target, event_id=msg.event_id, actor=msg.actor, at=msg.received_at)
    record.violations(
        [
            (f.violation, f.rule_id, "overridden" if f.mode == "enabled" else "reported")
            for f in evaluation.findings
        ],
        deployment_id=d.id,
    )
    record.audit(
        "deployment.verdict",
        f"{record.subject} may start in {target.environment.name}",
        subject_id=d.id,
        data={
            "outcome": "overridden" if overridden else "allowed",
            "violations": enforced,
            "reported": [v.model_dump(mode="json") for v in evaluation.reported],
        },
    )
    record.announce("deployment.started", public)
    if overridden:
        record.audit(
            "deployment.overridden",
            f"{msg.actor.name} overrode {', '.join(v.code for v in evaluation.enforced)} "
            f"to deploy {record.subject} to {target.environment.name}: {reason}",
            subject_id=d.id,
            data={"reason": reason, "violations": enforced},
        )
        record.announce("deployment.overridden", public, evaluation.enforced)
    reported = tuple(evaluation.reported)
    if overridden:
        verdict = Verdict("overridden", tuple(evaluation.enforced), reported)
    else:
        verdict = Verdict("report_only" if reported else "allowed", (), reported)
    return DeploymentRecorded(deployment=public), verdict


def _block(
    conn: Connection,
    msg: EvaluateDeployment,
    target: Target,
    hard: list[Violation],
    evaluation: engine.Evaluation,
) -> tuple[Failure, Verdict]:
    # The order the 428 body gives them, everywhere else too.
    violations = ordered([*hard, *evaluation.enforced])
    failure = blocked(violations)
    listed = [v.model_dump(mode="json") for v in violations]
    conn.execute(
        insert(_BLOCKED).values(
            id=msg.event_id,
            **target.ids,
            status_code=failure.status_code,
            actor=msg.actor.label,
            violations=listed,
            at=msg.received_at,
        )
    )
    record = Recorder(conn, target, event_id=msg.event_id, actor=msg.actor, at=msg.received_at)
    record.violations(
        [(v, None, "blocked") for v in hard]
        + [
            (f.violation, f.rule_id, "blocked" if f.mode == "enabled" else "reported")
            for f in evaluation.findings
        ],
        deployment_id=None,
    )
    record.audit(
        "deployment.verdict",
        f"{record.subject} blocked from {target.environment.name}: "
        f"{', '.join(v.code for v in violations)}",
        subject_id=msg.event_id,
        data={
            "outcome": "blocked",
            "violations": listed,
            "reported": [v.model_dump(mode="json") for v in evaluation.reported],
        },
    )
    record.announce_blocked(_attempt(msg, target), violations)
    return failure, Verdict("blocked", tuple(violations), tuple(evaluation.reported))


def _attempt(msg: EvaluateDeployment, target: Target) -> DeploymentAttempt:
    """A blocked start, as the announcement names it (no deployment was recorded)."""
    return DeploymentAttempt(
        attempt_id=msg.event_id,
        product_id=target.product.id,
        product_name=target.product.name,
        version_id=target.version.id,
        version=target.version.version,
        environment_id=target.environment.id,
        environment_name=target.environment.name,
        scm_sha=msg.event.scm_sha,
        deployed_by=msg.event.deployed_by,
    )


def _start(
    ctx: PolicyContext, msg: EvaluateDeployment, deadline: Deadline
) -> Callable[[Connection], tuple[DeploymentReply, Target, Verdict | None]]:
    def work(conn: Connection) -> tuple[DeploymentReply, Target, Verdict | None]:
        target = resolve(ctx, conn, msg.event, msg.received_at)
        reply, verdict = evaluate_start(ctx, conn, msg, target)
        hot_path.save_state(conn, target.state, msg.received_at)
        record_id = reply.deployment.id if isinstance(reply, DeploymentRecorded) else msg.event_id
        eventlog.remember(
            conn,
            event_id=msg.event_id,
            kind="deployment",
            reply=reply,
            now=msg.received_at,
            sender_id=msg.actor.id,
            record_id=record_id,
            **target.ids,
        )
        deadline.check()
        return reply, target, verdict

    return work


def _verdict_span(msg: EvaluateDeployment) -> AbstractContextManager[Any]:
    # Its attributes are built only while tracing is on: this is the gate's path.
    if not tracing.enabled():
        return nullcontext()
    return tracing.span("verdict", attributes={"versioner.event_id": str(msg.event_id)})


async def handle_start(
    ctx: PolicyContext,
    msg: EvaluateDeployment,
    deadline: Deadline,
    later: list[Callable[[], None]] | None = None,
) -> DeploymentReply:
    """Answer a `deployment started` before its deadline, or not at all (rolled back, 503).

    `later`: where the verdict's log line and metrics go to be done once the reply is on its
    way (the lanes; they cost the caller's wait otherwise); None: done here.
    """
    if msg.event.break_glass_reason and not msg.actor.may(Permission.MANAGE_RULES):
        return forbidden()
    started = time.perf_counter()
    try:
        deadline.check()
        with _verdict_span(msg):
            reply, target, verdict = await eventlog.once(
                ctx.db, msg.event_id, lambda: ctx.db.run(_start(ctx, msg, deadline))
            )
    except eventlog.Redelivered as again:
        return eventlog.deployment_reply(again.record) or policy_unavailable()
    except DeadlineExceeded:
        log.warning("no verdict on %s before its deadline: the gateway answers 503", msg.event_id)
        return policy_unavailable()
    learn(ctx, target, msg.event)
    ctx.wake_relay()
    if verdict is not None:
        observation = partial(observe.verdict, msg.event, verdict, time.perf_counter() - started)
        if later is None:
            observation()
        else:
            later.append(observation)
    return reply
