"""Deployment events: the start verdict, outcomes, replays, timeouts and abandoned starts.

Every change to a (product, environment) pair happens with its state row locked
(`SELECT … FOR UPDATE` on PostgreSQL; SQLite's `BEGIN IMMEDIATE` already holds the database),
so two policy replicas never both let a deployment through. Each event is one transaction
on a bare connection (SQLAlchemy Core): the hot path costs only the statements it needs.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from uuid import UUID

from sqlalchemy import Connection, insert

from versioner.common.errors import (
    Failure,
    Violation,
    conflict,
    forbidden,
    not_found,
    policy_unavailable,
)
from versioner.common.events import DeploymentEventIn
from versioner.common.messages.actor import Actor
from versioner.common.messages.domain import (
    DeploymentAttempt,
    DeploymentEventName,
    DeploymentEventOccurred,
)
from versioner.common.messages.lanes import (
    DeploymentEventReceived,
    DeploymentRecorded,
    DeploymentReply,
    DeploymentStartAbandoned,
    EvaluateDeployment,
)
from versioner.common.messages.management import AbortDeployment
from versioner.common.resources import DeploymentPublic
from versioner.common.roles import Permission
from versioner.common.status import Status
from versioner.policy.context import PolicyContext
from versioner.policy.deployments.verdict import blocked, ordered, preflight_status
from versioner.policy.deployments.views import deployment_public, hours_since
from versioner.policy.logs.audit import audit_in
from versioner.policy.registry import handles
from versioner.policy.rules import engine
from versioner.policy.rules.engine import Subject
from versioner.policy.rules.snapshot import Snapshot
from versioner.policy.store import eventlog
from versioner.policy.store import hot_path as repository
from versioner.policy.store.deadline import Deadline, DeadlineExceeded
from versioner.policy.store.hot_path import DeploymentRecord, Ref, StateRef, VersionRef
from versioner.policy.store.outbox import enqueue_in
from versioner.policy.store.sql import table
from versioner.policy.store.tables import BlockedAttempt, ViolationRecord

CONCURRENCY_RULE = "one deployment at a time"
_ABORT_KINDS = {"timeout": "deployment.timed_out", "abandoned": "deployment.abandoned"}
_BLOCKED = table(BlockedAttempt)
_VIOLATIONS = table(ViolationRecord)
_EVENT_NAMES: dict[Status, DeploymentEventName] = {
    Status.PENDING: "deployment.pending",
    Status.STARTED: "deployment.started",
    Status.COMPLETED: "deployment.completed",
    Status.FAILED: "deployment.failed",
    Status.ABORTED: "deployment.aborted",
}
_EVENT_FIELDS = (
    "invoke_id",
    "scm_sha",
    "build_number",
    "source_system",
    "deployed_by",
    "deployed_by_email",
    "deployed_by_name",
    "deploy_url",
    "completed_at",
)


@dataclass
class Target:
    """What a deployment event names, resolved, with its state row locked."""

    product: Ref
    environment: Ref
    version: VersionRef
    state: StateRef

    @property
    def ids(self) -> dict[str, UUID]:
        """The ids an event record keeps."""
        return {
            "product_id": self.product.id,
            "version_id": self.version.id,
            "environment_id": self.environment.id,
        }


def resolve(
    ctx: PolicyContext, conn: Connection, event: DeploymentEventIn, now: datetime
) -> Target:
    """Find or create what the event names, and lock its state row.

    A new version is created without a SHA: it takes the event's only once the event is let
    through (`_take_sha`), so a blocked start cannot pin the wrong commit.
    """
    product = repository.product(conn, ctx.names, event.product_name, now)
    environment = repository.environment(conn, ctx.names, event.environment_name, now)
    version = repository.version(
        conn, product, event.version, now, values={"scm_repository": event.scm_repository}
    )
    state = repository.lock_state(conn, product, environment)
    return Target(product, environment, version, state)


def _take_sha(conn: Connection, target: Target, event: DeploymentEventIn) -> None:
    """A version with no SHA takes the first one sent (by an event that was let through)."""
    if target.version.scm_sha is None and event.scm_sha:
        repository.update_version(conn, target.version.id, scm_sha=event.scm_sha)
        target.version.scm_sha = event.scm_sha


def _learn(ctx: PolicyContext, target: Target, event: DeploymentEventIn) -> None:
    """After commit: the names this event used now surely belong to these records."""
    ctx.names.products[event.product_name] = target.product.id
    ctx.names.environments[event.environment_name] = target.environment.id


def _soak(conn: Connection, target: Target, now: datetime) -> float | None:
    """Hours since this version last completed in this environment."""
    if target.state.current_version_id == target.version.id:
        return hours_since(target.state.current_finished_at, now)
    if target.version.new:
        return None
    at = repository.last_completed_at(conn, target.version.id, target.environment.id)
    return hours_since(at, now)


def _public(target: Target, d: DeploymentRecord, soak: float | None) -> DeploymentPublic:
    return deployment_public(
        d, target.product.name, target.version.version, target.environment.name, soak
    )


def _announce(
    conn: Connection,
    event_type: DeploymentEventName,
    *,
    event_id: UUID,
    at: datetime,
    actor: Actor | str,
    deployment: DeploymentPublic | None = None,
    attempt: DeploymentAttempt | None = None,
    violations: list[Violation] | None = None,
) -> None:
    enqueue_in(
        conn,
        DeploymentEventOccurred(
            event_type=event_type,
            event_id=event_id,
            occurred_at=at,
            actor=actor if isinstance(actor, str) else actor.label,
            deployment=deployment,
            attempt=attempt,
            violations=violations or [],
            sha_mismatch=deployment.sha_mismatch if deployment else False,
        ),
        event_type,
        at=at,
    )


def _close(
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


def _save_closed(conn: Connection, d: DeploymentRecord) -> None:
    repository.update_deployment(
        conn,
        d,
        "status",
        "finished_at",
        "updated_at",
        "abort_reason",
        "sha_mismatch",
        *_EVENT_FIELDS,
        "extra_metadata",
    )


def _apply_event(d: DeploymentRecord, event: DeploymentEventIn) -> None:
    for name in _EVENT_FIELDS:
        if (value := getattr(event, name)) is not None:
            setattr(d, name, value)
    if event.extra_metadata:
        d.extra_metadata = {**d.extra_metadata, **event.extra_metadata}


def _new_deployment(
    target: Target, event_id: UUID, event: DeploymentEventIn, status: Status, at: datetime
) -> DeploymentRecord:
    d = DeploymentRecord(
        id=event_id,
        product_id=target.product.id,
        version_id=target.version.id,
        environment_id=target.environment.id,
        status=status,
        deployed_at=at,
        updated_at=at,
        sha_mismatch=False,
        extra_metadata={},
    )
    _apply_event(d, event)
    return d


def _running(ctx: PolicyContext, conn: Connection, target: Target) -> DeploymentRecord | None:
    """The deployment in progress on this pair; one older than the timeout is closed first."""
    running = repository.deployment(conn, target.state.in_progress_deployment_id)
    if running is None or running.status != Status.STARTED:
        return None
    now = ctx.clock.now()
    if running.deployed_at + timedelta(minutes=ctx.settings.deployment_timeout_min) > now:
        return running
    _abort(conn, target, running, now, "timeout", "system")
    return None


def _abort(
    conn: Connection,
    target: Target,
    d: DeploymentRecord,
    at: datetime,
    reason: str,
    actor: Actor | str,
) -> DeploymentPublic:
    """Close a deployment as aborted: recorded, audited, announced (state saved by the caller)."""
    _close(d, Status.ABORTED, target.state, at, reason=reason)
    _save_closed(conn, d)
    public = _public(target, d, _soak(conn, target, at))
    audit_in(
        conn,
        actor=actor,
        kind=_ABORT_KINDS.get(reason, "deployment.aborted"),
        summary=f"deployment {d.id} of {target.product.name} {target.version.version} "
        f"to {target.environment.name} aborted: {reason}",
        at=at,
        subject_id=d.id,
    )
    _announce(conn, "deployment.aborted", event_id=d.id, at=at, actor=actor, deployment=public)
    return public


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


def _same_run(d: DeploymentRecord, version_id: UUID, event: DeploymentEventIn) -> bool:
    """Whether an event belongs to this deployment: same version, and `invoke_id` if both set."""
    if d.version_id != version_id:
        return False
    return not (event.invoke_id and d.invoke_id and d.invoke_id != event.invoke_id)


def _subject(ctx: PolicyContext, conn: Connection, snapshot: Snapshot, target: Target) -> Subject:
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


def _log_violations(
    conn: Connection,
    findings: list[tuple[Violation, UUID | None, str]],
    *,
    event_id: UUID,
    deployment_id: UUID | None,
    target: Target,
    actor: Actor,
    at: datetime,
) -> None:
    """Keep each failed check in the violations log: blocked, reported or overridden."""
    if not findings:
        return
    conn.execute(
        insert(_VIOLATIONS),
        [
            {
                "event_id": event_id,
                "deployment_id": deployment_id,
                "product_id": target.product.id,
                "version_id": target.version.id,
                "environment_id": target.environment.id,
                "rule_id": rule_id,
                "rule_name": violation.rule_name,
                "rule_type": violation.rule_type,
                "code": violation.code,
                "message": violation.message,
                "outcome": outcome,
                "actor": actor.label,
                "at": at,
            }
            for violation, rule_id, outcome in findings
        ],
    )


def evaluate_start(
    ctx: PolicyContext, conn: Connection, msg: EvaluateDeployment, target: Target
) -> DeploymentReply:
    """Decide a `deployment started` and record it: let through, replayed, or blocked."""
    event, at = msg.event, msg.received_at
    hard: list[Violation] = []
    if running := _running(ctx, conn, target):
        if (
            running.version_id == target.version.id
            and event.invoke_id
            and running.invoke_id == event.invoke_id
        ):
            return DeploymentRecorded(deployment=_public(target, running, _soak(conn, target, at)))
        hard.append(_concurrency(running, target.environment.name))
    pinned = target.version.scm_sha if target.version.registered else None
    if pinned and event.scm_sha and event.scm_sha != pinned:
        hard.append(_sha_conflict(target, event.scm_sha))

    snapshot = ctx.snapshots.current(conn)
    evaluation = engine.evaluate(
        conn, snapshot, _subject(ctx, conn, snapshot, target), ctx.clock.now()
    )
    reason = event.break_glass_reason
    # Break-glass lets one deployment through rule and request violations, never through a
    # deployment in progress or a SHA clash (ingest already refused callers who may not).
    overridden = bool(reason and evaluation.enforced and not hard)
    if hard or (evaluation.enforced and not overridden):
        return _block(conn, msg, target, hard, evaluation)

    _take_sha(conn, target, event)
    pending = repository.deployment(conn, target.state.pending_deployment_id)
    if (
        pending is not None
        and pending.status == Status.PENDING
        and _same_run(pending, target.version.id, event)
    ):
        d = pending
        d.status = Status.STARTED
        # It starts now: timeouts and "running since" count from here, not from the queue.
        d.deployed_at = at
        d.updated_at = at
        _apply_event(d, event)
        target.state.set(pending_deployment_id=None)
    else:
        d = _new_deployment(target, msg.event_id, event, Status.STARTED, at)
    override = (
        {
            "by": msg.actor.name,
            "reason": reason,
            "violations": [v.model_dump(mode="json") for v in evaluation.enforced],
        }
        if overridden
        else None
    )
    d.extra_metadata = {
        **d.extra_metadata,
        "preflight_status": preflight_status(
            "passed",
            engine.rules_evaluated(evaluation.findings, include_enforced=overridden),
            override,
        ),
    }
    if d is pending:
        repository.update_deployment(
            conn, d, "status", "deployed_at", "updated_at", "extra_metadata", *_EVENT_FIELDS
        )
    else:
        repository.insert_deployment(conn, d)
    target.state.set(in_progress_deployment_id=d.id, latest_deployment_id=d.id)
    public = _public(target, d, _soak(conn, target, at))
    _log_violations(
        conn,
        [
            (f.violation, f.rule_id, "overridden" if f.mode == "enabled" else "reported")
            for f in evaluation.findings
        ],
        event_id=msg.event_id,
        deployment_id=d.id,
        target=target,
        actor=msg.actor,
        at=at,
    )
    audit_in(
        conn,
        actor=msg.actor,
        kind="deployment.verdict",
        summary=f"{target.product.name} {target.version.version} may start in "
        f"{target.environment.name}",
        at=at,
        subject_id=d.id,
        data={
            "outcome": "overridden" if overridden else "allowed",
            "violations": override["violations"] if override else [],
            "reported": [v.model_dump(mode="json") for v in evaluation.reported],
        },
    )
    _announce(
        conn, "deployment.started", event_id=msg.event_id, at=at, actor=msg.actor, deployment=public
    )
    if overridden:
        audit_in(
            conn,
            actor=msg.actor,
            kind="deployment.overridden",
            summary=f"{msg.actor.name} overrode {', '.join(v.code for v in evaluation.enforced)} "
            f"to deploy {target.product.name} {target.version.version} to "
            f"{target.environment.name}: {reason}",
            at=at,
            subject_id=d.id,
            data={"reason": reason, "violations": override["violations"] if override else []},
        )
        _announce(
            conn,
            "deployment.overridden",
            event_id=msg.event_id,
            at=at,
            actor=msg.actor,
            deployment=public,
            violations=evaluation.enforced,
        )
    return DeploymentRecorded(deployment=public)


def _block(
    conn: Connection,
    msg: EvaluateDeployment,
    target: Target,
    hard: list[Violation],
    evaluation: engine.Evaluation,
) -> Failure:
    # The order the 428 body gives them, everywhere else too.
    violations = ordered([*hard, *evaluation.enforced])
    failure = blocked(violations)
    at = msg.received_at
    listed = [v.model_dump(mode="json") for v in violations]
    conn.execute(
        insert(_BLOCKED).values(
            id=msg.event_id,
            product_id=target.product.id,
            version_id=target.version.id,
            environment_id=target.environment.id,
            status_code=failure.status_code,
            actor=msg.actor.label,
            violations=listed,
            at=at,
        )
    )
    _log_violations(
        conn,
        [(v, None, "blocked") for v in hard]
        + [
            (f.violation, f.rule_id, "blocked" if f.mode == "enabled" else "reported")
            for f in evaluation.findings
        ],
        event_id=msg.event_id,
        deployment_id=None,
        target=target,
        actor=msg.actor,
        at=at,
    )
    audit_in(
        conn,
        actor=msg.actor,
        kind="deployment.verdict",
        summary=f"{target.product.name} {target.version.version} blocked from "
        f"{target.environment.name}: {', '.join(v.code for v in violations)}",
        at=at,
        subject_id=msg.event_id,
        data={
            "outcome": "blocked",
            "violations": listed,
            "reported": [v.model_dump(mode="json") for v in evaluation.reported],
        },
    )
    _announce(
        conn,
        "deployment.preflight_failed",
        event_id=msg.event_id,
        at=at,
        actor=msg.actor,
        attempt=DeploymentAttempt(
            attempt_id=msg.event_id,
            product_id=target.product.id,
            product_name=target.product.name,
            version_id=target.version.id,
            version=target.version.version,
            environment_id=target.environment.id,
            environment_name=target.environment.name,
            scm_sha=msg.event.scm_sha,
            deployed_by=msg.event.deployed_by,
        ),
        violations=violations,
    )
    return failure


def _open_deployment(
    conn: Connection, target: Target, event: DeploymentEventIn
) -> DeploymentRecord | None:
    """What a terminal event closes: the running deployment of this version, or a pending one."""
    for deployment_id in (
        target.state.in_progress_deployment_id,
        target.state.pending_deployment_id,
    ):
        d = repository.deployment(conn, deployment_id)
        if (
            d is not None
            and d.status in (Status.STARTED, Status.PENDING)
            and _same_run(d, target.version.id, event)
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
        last = repository.deployment(conn, target.state.latest_deployment_id)
        if last is not None and last.status == status and _same_run(last, target.version.id, event):
            return DeploymentRecorded(
                deployment=_public(target, last, _soak(conn, target, at))
            ), False
        d = _new_deployment(target, msg.event_id, event, status, at)
        # It skipped the gate: what would the gate have said?
        snapshot = ctx.snapshots.current(conn)
        skipped = engine.evaluate(conn, snapshot, _subject(ctx, conn, snapshot, target), at)
        d.extra_metadata = {
            **d.extra_metadata,
            "preflight_status": preflight_status(
                "skipped", engine.rules_evaluated(skipped.findings, include_enforced=True)
            ),
        }
    else:
        _apply_event(d, event)
    # Terminal events are only flagged, against any SHA the version has (pinned or first
    # sent): what ran is worth knowing. Only a pinned SHA blocks a start.
    known_sha = target.version.scm_sha
    _take_sha(conn, target, event)
    d.sha_mismatch = bool(event.scm_sha and known_sha and event.scm_sha != known_sha)
    _close(d, status, target.state, at, fresh=is_new)
    if is_new:
        repository.insert_deployment(conn, d)
    else:
        _save_closed(conn, d)
    public = _public(target, d, _soak(conn, target, at))
    if d.sha_mismatch:
        audit_in(
            conn,
            actor=msg.actor,
            kind="deployment.sha_mismatch",
            summary=f"{target.product.name} {target.version.version} reported {status} in "
            f"{target.environment.name} with SHA {event.scm_sha}, not {known_sha}",
            at=at,
            subject_id=d.id,
        )
    _announce(
        conn, _EVENT_NAMES[status], event_id=msg.event_id, at=at, actor=msg.actor, deployment=public
    )
    if skipped is not None and skipped.governed:
        _gate_skipped(conn, msg, target, d, public, skipped)
    return DeploymentRecorded(deployment=public), True


def _gate_skipped(
    conn: Connection,
    msg: DeploymentEventReceived,
    target: Target,
    d: DeploymentRecord,
    public: DeploymentPublic,
    evaluation: engine.Evaluation,
) -> None:
    """A deployment reported done that never asked, where rules or requests govern: announce it."""
    would_be = [f.violation for f in evaluation.findings]
    _log_violations(
        conn,
        [(f.violation, f.rule_id, "reported") for f in evaluation.findings],
        event_id=msg.event_id,
        deployment_id=d.id,
        target=target,
        actor=msg.actor,
        at=msg.received_at,
    )
    audit_in(
        conn,
        actor=msg.actor,
        kind="deployment.gate_skipped",
        summary=f"{target.product.name} {target.version.version} reported {d.status} in "
        f"{target.environment.name} without asking the gate"
        + (f" ({', '.join(v.code for v in would_be)} would have applied)" if would_be else ""),
        at=msg.received_at,
        subject_id=d.id,
        data={"violations": [v.model_dump(mode="json") for v in would_be]},
    )
    _announce(
        conn,
        "deployment.gate_skipped",
        event_id=msg.event_id,
        at=msg.received_at,
        actor=msg.actor,
        deployment=public,
        violations=would_be,
    )


def _record_pending(
    conn: Connection, msg: DeploymentEventReceived, target: Target
) -> DeploymentReply:
    event, at = msg.event, msg.received_at
    existing = repository.deployment(conn, target.state.pending_deployment_id)
    if (
        existing is not None
        and existing.status == Status.PENDING
        and _same_run(existing, target.version.id, event)
    ):
        return DeploymentRecorded(deployment=_public(target, existing, _soak(conn, target, at)))
    d = _new_deployment(target, msg.event_id, event, Status.PENDING, at)
    repository.insert_deployment(conn, d)
    target.state.set(pending_deployment_id=d.id)
    public = _public(target, d, _soak(conn, target, at))
    _announce(
        conn, "deployment.pending", event_id=msg.event_id, at=at, actor=msg.actor, deployment=public
    )
    return DeploymentRecorded(deployment=public)


def _start(
    ctx: PolicyContext, msg: EvaluateDeployment, deadline: Deadline
) -> Callable[[Connection], tuple[DeploymentReply, Target]]:
    def work(conn: Connection) -> tuple[DeploymentReply, Target]:
        target = resolve(ctx, conn, msg.event, msg.received_at)
        reply = evaluate_start(ctx, conn, msg, target)
        repository.save_state(conn, target.state, msg.received_at)
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
        return reply, target

    return work


async def handle_start(
    ctx: PolicyContext, msg: EvaluateDeployment, deadline: Deadline
) -> DeploymentReply:
    """Answer a `deployment started` before its deadline, or not at all (rolled back, 503)."""
    if msg.event.break_glass_reason and not msg.actor.may(Permission.MANAGE_RULES):
        return forbidden()
    try:
        deadline.check()
        reply, target = await eventlog.once(
            ctx.db, msg.event_id, lambda: ctx.db.run(_start(ctx, msg, deadline))
        )
    except eventlog.Redelivered as again:
        return eventlog.deployment_reply(again.record) or policy_unavailable()
    except DeadlineExceeded:
        return policy_unavailable()
    _learn(ctx, target, msg.event)
    ctx.wake_relay()
    return reply


def _outcome(
    ctx: PolicyContext, msg: DeploymentEventReceived
) -> Callable[[Connection], tuple[DeploymentReply, Target]]:
    def work(conn: Connection) -> tuple[DeploymentReply, Target]:
        target = resolve(ctx, conn, msg.event, msg.received_at)
        reply, _changed = record_outcome(ctx, conn, msg, target)
        repository.save_state(conn, target.state, msg.received_at)
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
    _learn(ctx, target, msg.event)
    ctx.wake_relay()
    return reply


def _target_of(conn: Connection, d: DeploymentRecord) -> Target:
    """The target of a recorded deployment, its state row locked."""
    product_name, version, environment_name = repository.names_of(conn, d)
    product = Ref(d.product_id, product_name)
    environment = Ref(d.environment_id, environment_name)
    state = repository.lock_state(conn, product, environment)
    return Target(
        product,
        environment,
        VersionRef(d.version_id, d.product_id, version, d.scm_sha, registered=True),
        state,
    )


def _close_by_hand(
    conn: Connection, *, deployment_id: UUID, at: datetime, reason: str, actor: Actor | str
) -> DeploymentPublic | Failure:
    """Close a pending or started deployment as aborted; 404 or 409 when there is none to close."""
    d = repository.deployment(conn, deployment_id)
    if d is None:
        return not_found()
    target = _target_of(conn, d)
    d = repository.deployment(conn, deployment_id)  # read again under the lock
    assert d is not None
    if d.status not in (Status.PENDING, Status.STARTED):
        return conflict(f"Deployment {d.id} is {d.status}, not in progress")
    public = _abort(conn, target, d, at, reason, actor)
    repository.save_state(conn, target.state, at)
    return public


async def sweep_timeouts(ctx: PolicyContext) -> int:
    """Close started deployments older than the timeout; how many were closed.

    A stale deployment stops blocking anyway when the next start for its pair arrives; this
    closes the ones nobody retries, so lists and the state matrix stop showing them running.
    """
    now = ctx.clock.now()
    cutoff = now - timedelta(minutes=ctx.settings.deployment_timeout_min)
    stale = await ctx.db.run(partial(repository.stale_deployments, cutoff=cutoff))
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
        # started at this event's receipt); a replay answered with an earlier one is left alone.
        d = repository.deployment(conn, record.record_id)
        started_here = d is not None and (
            d.id == msg.event_id or d.deployed_at == record.created_at
        )
        if d is not None and started_here and d.status == Status.STARTED:
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
