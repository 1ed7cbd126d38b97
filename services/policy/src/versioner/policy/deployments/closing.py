"""Closing deployments: the state a closed deployment leaves, aborts by hand, timeouts swept,
and starts the gateway abandoned (answered 503)."""

from datetime import datetime, timedelta
from functools import partial
from uuid import UUID

from sqlalchemy import Connection

from versioner.common.errors import Failure, conflict, not_found, policy_unavailable
from versioner.common.messages.actor import Actor
from versioner.common.messages.lanes import DeploymentStartAbandoned
from versioner.common.messages.management import AbortDeployment
from versioner.common.resources import DeploymentPublic
from versioner.common.status import Status
from versioner.policy.context import PolicyContext
from versioner.policy.deployments.recorder import Recorder
from versioner.policy.deployments.target import EVENT_FIELDS, Target, target_of
from versioner.policy.registry import handles
from versioner.policy.store import eventlog, hot_path
from versioner.policy.store.hot_path import DeploymentRecord, StateRef

_ABORT_KINDS = {"timeout": "deployment.timed_out", "abandoned": "deployment.abandoned"}


def close(
    d: DeploymentRecord,
    status: Status,
    state: StateRef,
    now: datetime,
    reason: str | None = None,
    *,
    fresh: bool = False,
) -> None:
    """Give a deployment its outcome and move the pair's state accordingly.

    `latest` follows the newest attempt: the one running, a new record (`fresh`), or the one it
    already names; an older pending deployment closing late does not take it back.
    """
    newest = fresh or state.in_progress_deployment_id == d.id
    newest = newest or state.latest_deployment_id in (None, d.id)
    d.status = status
    d.finished_at = now
    d.ended_at = d.completed_at or now
    d.updated_at = now
    if reason:
        d.abort_reason = reason
    if state.in_progress_deployment_id == d.id:
        state.set(in_progress_deployment_id=None)
    if state.pending_deployment_id == d.id:
        state.set(pending_deployment_id=None)
    if status is Status.COMPLETED:
        state.set(current_deployment_id=d.id)
        state.current_version_id = d.version_id
        state.current_finished_at = now
    if newest:
        state.set(latest_deployment_id=d.id)


def save_closed(conn: Connection, d: DeploymentRecord) -> None:
    """Write what `close` changed (and what the closing event sent)."""
    hot_path.update_deployment(
        conn,
        d,
        "status",
        "finished_at",
        "ended_at",
        "updated_at",
        "abort_reason",
        "sha_mismatch",
        *EVENT_FIELDS,
        "extra_metadata",
    )


def abort_in(
    conn: Connection,
    target: Target,
    d: DeploymentRecord,
    at: datetime,
    reason: str,
    actor: Actor | str,
) -> DeploymentPublic:
    """Close a deployment as aborted: recorded, audited, announced (state saved by the caller)."""
    close(d, Status.ABORTED, target.state, at, reason=reason)
    save_closed(conn, d)
    public = target.public(conn, d, at)
    record = Recorder(conn, target, event_id=d.id, actor=actor, at=at)
    record.audit(
        _ABORT_KINDS.get(reason, "deployment.aborted"),
        f"deployment {d.id} of {record.subject} to {target.environment.name} aborted: {reason}",
        subject_id=d.id,
    )
    record.announce("deployment.aborted", public)
    return public


def _close_by_hand(
    conn: Connection, *, deployment_id: UUID, at: datetime, reason: str, actor: Actor | str
) -> DeploymentPublic | Failure:
    """Close a pending or started deployment as aborted; 404 or 409 when there is none to close."""
    d = hot_path.deployment(conn, deployment_id)
    if d is None:
        return not_found()
    target = target_of(conn, d)
    d = hot_path.deployment(conn, deployment_id)  # read again under the lock
    assert d is not None
    if d.status not in (Status.PENDING, Status.STARTED):
        return conflict(f"Deployment {d.id} is {d.status}, not in progress")
    public = abort_in(conn, target, d, at, reason, actor)
    hot_path.save_state(conn, target.state, at)
    return public


async def sweep_timeouts(ctx: PolicyContext) -> int:
    """Close started deployments older than the timeout; how many were closed.

    A stale deployment stops blocking anyway when the next start for its pair arrives; this
    closes the ones nobody retries, so lists and the state matrix stop showing them running.
    """
    now = ctx.clock.now()
    cutoff = now - timedelta(minutes=ctx.settings.deployment_timeout_min)
    stale = await ctx.db.run(partial(hot_path.stale_deployments, cutoff=cutoff))
    closed = 0
    for deployment_id in stale:
        # Closed meanwhile by its outcome or another replica: that is a 409 here, and fine.
        result = await ctx.db.run(
            partial(
                _close_by_hand,
                deployment_id=deployment_id,
                at=now,
                reason="timeout",
                actor="system",
            )
        )
        closed += not isinstance(result, Failure)
    if closed:
        ctx.wake_relay()
    return closed


async def handle_abandoned(ctx: PolicyContext, msg: DeploymentStartAbandoned) -> None:
    """The gateway answered 503: close the deployment recorded for that start, if any was."""
    at = msg.abandoned_at

    def work(conn: Connection) -> None:
        record = eventlog.find_in(conn, msg.event_id)
        if record is None:
            # Nothing recorded: make sure a late copy of the start request is answered 503.
            eventlog.remember(
                conn,
                event_id=msg.event_id,
                kind="deployment",
                reply=policy_unavailable(),
                now=at,
                sender_id=None,
            )
            return
        # The start created a deployment (the event's id), or promoted a pending one (which
        # started at this event's receipt); a replay answered with an earlier one is left alone,
        # and so is one a later retry of the same run was answered with (it claimed it: see
        # `start._claim`), whichever of the retry and this abandon reached the lane first.
        d = hot_path.deployment(conn, record.record_id)
        if d is None or d.status != Status.STARTED:
            return
        started_here = d.id == msg.event_id or d.deployed_at == record.created_at
        claimed = d.updated_at > record.created_at
        if started_here and not claimed:
            _close_by_hand(conn, deployment_id=d.id, at=at, reason="abandoned", actor="system")

    await ctx.db.run(work)
    ctx.wake_relay()


@handles(AbortDeployment)
async def abort(ctx: PolicyContext, request: AbortDeployment) -> DeploymentPublic | Failure:
    """Close a pending or started deployment as aborted, by hand."""
    now = ctx.clock.now()
    result = await ctx.db.run(
        partial(
            _close_by_hand,
            deployment_id=request.deployment_id,
            at=now,
            reason=f"aborted by {request.actor.name}",
            actor=request.actor,
        )
    )
    ctx.wake_relay()
    return result
