"""Outcomes: a deployment pending, completed, failed or aborted as its pipeline reports it,
replays of those, and deployments reported done that never asked the gate."""

from collections.abc import Callable

from sqlalchemy import Connection

from versioner.common.events import DeploymentEventIn
from versioner.common.messages.domain import DeploymentChangeName
from versioner.common.messages.lanes import (
    DeploymentEventReceived,
    DeploymentRecorded,
    DeploymentReply,
)
from versioner.common.resources import DeploymentPublic
from versioner.common.status import Status
from versioner.policy.context import PolicyContext
from versioner.policy.deployments.closing import close, save_closed
from versioner.policy.deployments.recorder import Recorder
from versioner.policy.deployments.start import subject
from versioner.policy.deployments.target import (
    Target,
    apply_event,
    learn,
    new_deployment,
    pending_of,
    resolve,
    same_run,
    take_sha,
)
from versioner.policy.deployments.verdict import preflight_status
from versioner.policy.rules import engine
from versioner.policy.store import eventlog, hot_path
from versioner.policy.store.hot_path import DeploymentRecord

_EVENT_NAMES: dict[Status, DeploymentChangeName] = {
    Status.PENDING: "deployment.pending",
    Status.STARTED: "deployment.started",
    Status.COMPLETED: "deployment.completed",
    Status.FAILED: "deployment.failed",
    Status.ABORTED: "deployment.aborted",
}


def _open_deployment(
    conn: Connection, target: Target, event: DeploymentEventIn
) -> DeploymentRecord | None:
    """What a terminal event closes: the running deployment of this version, or a pending one."""
    for deployment_id in (
        target.state.in_progress_deployment_id,
        target.state.pending_deployment_id,
    ):
        d = hot_path.deployment(conn, deployment_id)
        if (
            d is not None
            and d.status in (Status.STARTED, Status.PENDING)
            and same_run(d, target.version.id, event)
        ):
            return d
    return None


def record_outcome(
    ctx: PolicyContext, conn: Connection, msg: DeploymentEventReceived, target: Target
) -> tuple[DeploymentReply, bool]:
    """Record a pending or terminal deployment event; the reply and whether anything changed."""
    event, at = msg.event, msg.received_at
    status = event.status
    if status is Status.PENDING:
        return _record_pending(conn, msg, target), True

    d = _open_deployment(conn, target, event)
    is_new = d is None
    skipped: engine.Evaluation | None = None
    if d is None:
        # A replay repeats the pair's latest outcome; the same version reported again after
        # another one (a rollback told only by `completed`) is a new deployment.
        last = hot_path.deployment(conn, target.state.latest_deployment_id)
        if last is not None and last.status == status and same_run(last, target.version.id, event):
            return DeploymentRecorded(deployment=target.public(conn, last, at)), False
        d = new_deployment(target, msg.event_id, event, status, at)
        skipped = _would_have_said(ctx, conn, target, d)
    else:
        apply_event(d, event)
    # Terminal events are only flagged, against any SHA the version has (pinned or first
    # sent): what ran is worth knowing. Only a pinned SHA blocks a start.
    known_sha = target.version.scm_sha
    take_sha(conn, target, event)
    d.sha_mismatch = bool(event.scm_sha and known_sha and event.scm_sha != known_sha)
    close(d, status, target.state, at, fresh=is_new)
    if is_new:
        hot_path.insert_deployment(conn, d)
    else:
        save_closed(conn, d)
    if status is Status.COMPLETED and d.ended_at is not None:
        hot_path.version_completed(conn, d.version_id, d.ended_at)
    public = target.public(conn, d, at)
    record = Recorder(conn, target, event_id=msg.event_id, actor=msg.actor, at=at)
    if d.sha_mismatch:
        record.audit(
            "deployment.sha_mismatch",
            f"{record.subject} reported {status} in {target.environment.name} "
            f"with SHA {event.scm_sha}, not {known_sha}",
            subject_id=d.id,
        )
    record.announce(_EVENT_NAMES[status], public)
    if skipped is not None and skipped.governed:
        _gate_skipped(record, d, public, skipped)
    return DeploymentRecorded(deployment=public), True


def _would_have_said(
    ctx: PolicyContext, conn: Connection, target: Target, d: DeploymentRecord
) -> engine.Evaluation:
    """A deployment that skipped the gate: what the gate would have said, kept on it."""
    snapshot = ctx.snapshots.current(conn)
    skipped = engine.evaluate(conn, snapshot, subject(ctx, conn, snapshot, target), d.deployed_at)
    d.extra_metadata = {
        **d.extra_metadata,
        "preflight_status": preflight_status(
            "skipped", engine.rules_evaluated(skipped.findings, include_enforced=True)
        ),
    }
    return skipped


def _gate_skipped(
    record: Recorder, d: DeploymentRecord, public: DeploymentPublic, evaluation: engine.Evaluation
) -> None:
    """A deployment reported done that never asked, where rules or requests govern: announce it."""
    would_be = [f.violation for f in evaluation.findings]
    record.violations(
        [(f.violation, f.rule_id, "reported") for f in evaluation.findings], deployment_id=d.id
    )
    record.audit(
        "deployment.gate_skipped",
        f"{record.subject} reported {d.status} in {record.target.environment.name} "
        "without asking the gate"
        + (f" ({', '.join(v.code for v in would_be)} would have applied)" if would_be else ""),
        subject_id=d.id,
        data={"violations": [v.model_dump(mode="json") for v in would_be]},
    )
    record.announce("deployment.gate_skipped", public, would_be)


def _record_pending(
    conn: Connection, msg: DeploymentEventReceived, target: Target
) -> DeploymentReply:
    event, at = msg.event, msg.received_at
    if (existing := pending_of(conn, target, event)) is not None:
        return DeploymentRecorded(deployment=target.public(conn, existing, at))
    d = new_deployment(target, msg.event_id, event, Status.PENDING, at)
    hot_path.insert_deployment(conn, d)
    target.state.set(pending_deployment_id=d.id)
    public = target.public(conn, d, at)
    Recorder(conn, target, event_id=msg.event_id, actor=msg.actor, at=at).announce(
        "deployment.pending", public
    )
    return DeploymentRecorded(deployment=public)


def _outcome(
    ctx: PolicyContext, msg: DeploymentEventReceived
) -> Callable[[Connection], tuple[DeploymentReply, Target]]:
    def work(conn: Connection) -> tuple[DeploymentReply, Target]:
        target = resolve(ctx, conn, msg.event, msg.received_at)
        reply, _changed = record_outcome(ctx, conn, msg, target)
        hot_path.save_state(conn, target.state, msg.received_at)
        eventlog.remember(
            conn,
            event_id=msg.event_id,
            kind="deployment",
            reply=reply,
            now=msg.received_at,
            sender_id=msg.actor.id,
            record_id=reply.deployment.id if isinstance(reply, DeploymentRecorded) else None,
            **target.ids,
        )
        return reply, target

    return work


async def handle_deployment_event(
    ctx: PolicyContext, msg: DeploymentEventReceived
) -> DeploymentReply:
    """Record a pending or terminal deployment event exactly once."""
    try:
        reply, target = await eventlog.once(
            ctx.db, msg.event_id, lambda: ctx.db.run(_outcome(ctx, msg))
        )
    except eventlog.Redelivered as again:
        stored = eventlog.deployment_reply(again.record)
        assert stored is not None, "an event recorded without its answer"
        return stored
    learn(ctx, target, msg.event)
    ctx.wake_relay()
    return reply
