"""Deployment events: the start verdict, outcomes, replays, timeouts and abandoned starts.

Every change to a (product, environment) pair happens with its state row locked
(`SELECT … FOR UPDATE` on PostgreSQL; SQLite's `BEGIN IMMEDIATE` already holds the database),
so two policy replicas never both let a deployment through.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from versioner.common.errors import Failure, Violation, conflict, not_found, policy_unavailable
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
from versioner.common.status import Status
from versioner.policy import eventlog
from versioner.policy.audit import audit
from versioner.policy.catalog import (
    Named,
    ensure_environment,
    ensure_product,
    ensure_version,
    fill_missing,
)
from versioner.policy.context import PolicyContext
from versioner.policy.deadline import Deadline, DeadlineExceeded
from versioner.policy.outbox import enqueue
from versioner.policy.sql import insert_ignore, is_postgres, table
from versioner.policy.tables import (
    BlockedAttempt,
    Deployment,
    Environment,
    EnvironmentState,
    Product,
    Version,
)
from versioner.policy.verdict import blocked, preflight_status
from versioner.policy.views import deployment_public, soak_hours

CONCURRENCY_RULE = "one deployment at a time"
_OPEN = (Status.PENDING, Status.STARTED)
_EVENT_NAMES: dict[Status, DeploymentEventName] = {
    Status.PENDING: "deployment.pending",
    Status.STARTED: "deployment.started",
    Status.COMPLETED: "deployment.completed",
    Status.FAILED: "deployment.failed",
    Status.ABORTED: "deployment.aborted",
}


@dataclass
class Target:
    """What a deployment event names, resolved, with its state row locked."""

    product: Named
    environment: Named
    version: Version
    state: EnvironmentState

    @property
    def ids(self) -> dict[str, UUID]:
        """The ids an event record keeps."""
        return {
            "product_id": self.product.id,
            "version_id": self.version.id,
            "environment_id": self.environment.id,
        }


async def lock_state(
    session: AsyncSession, product_id: UUID, environment_id: UUID, now: datetime
) -> EnvironmentState:
    """The (product, environment) state row, created on first sight, locked for this transaction."""
    stmt = (
        select(EnvironmentState)
        .where(
            col(EnvironmentState.product_id) == product_id,
            col(EnvironmentState.environment_id) == environment_id,
        )
        .execution_options(populate_existing=True)
    )
    if is_postgres(session):
        stmt = stmt.with_for_update()
    if state := (await session.execute(stmt)).scalar_one_or_none():
        return state
    await insert_ignore(
        session,
        table(EnvironmentState),
        {"product_id": product_id, "environment_id": environment_id, "updated_at": now},
    )
    return (await session.execute(stmt)).scalar_one()


async def resolve(session: AsyncSession, event: DeploymentEventIn, now: datetime) -> Target:
    """Find or create what the event names, and lock its state row."""
    product = await ensure_product(session, event.product_name, now)
    environment = await ensure_environment(session, event.environment_name, now)
    version = await ensure_version(session, product.id, event.version, now)
    fill_missing(version, scm_sha=event.scm_sha, scm_repository=event.scm_repository)
    state = await lock_state(session, product.id, environment.id, now)
    return Target(product, environment, version, state)


def _public(target: Target, d: Deployment, soak: float | None) -> DeploymentPublic:
    return deployment_public(
        d, target.product.name, target.version.version, target.environment.name, soak
    )


async def _public_now(
    session: AsyncSession, target: Target, d: Deployment, now: datetime
) -> DeploymentPublic:
    return _public(target, d, await soak_hours(session, d.version_id, d.environment_id, now))


def _announce(
    session: AsyncSession,
    event_type: DeploymentEventName,
    *,
    event_id: UUID,
    at: datetime,
    actor: Actor | str,
    deployment: DeploymentPublic | None = None,
    attempt: DeploymentAttempt | None = None,
    violations: list[Violation] | None = None,
) -> None:
    enqueue(
        session,
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
    )


def _close(
    d: Deployment, status: Status, state: EnvironmentState, now: datetime, reason: str | None = None
) -> None:
    d.status = status
    d.finished_at = now
    d.updated_at = now
    if reason:
        d.abort_reason = reason
    if state.in_progress_deployment_id == d.id:
        state.in_progress_deployment_id = None
    if status is Status.COMPLETED:
        state.current_deployment_id = d.id
    state.latest_deployment_id = d.id
    state.updated_at = now


def _apply_event(d: Deployment, event: DeploymentEventIn) -> None:
    for field in (
        "invoke_id",
        "scm_sha",
        "build_number",
        "source_system",
        "deployed_by",
        "deployed_by_email",
        "deployed_by_name",
        "deploy_url",
        "completed_at",
    ):
        if (value := getattr(event, field)) is not None:
            setattr(d, field, value)
    if event.extra_metadata:
        d.extra_metadata = {**d.extra_metadata, **event.extra_metadata}


def _new_deployment(
    target: Target, event_id: UUID, event: DeploymentEventIn, status: Status, at: datetime
) -> Deployment:
    d = Deployment(
        id=event_id,
        product_id=target.product.id,
        version_id=target.version.id,
        environment_id=target.environment.id,
        status=status,
        deployed_at=at,
        updated_at=at,
    )
    _apply_event(d, event)
    return d


async def _get(session: AsyncSession, deployment_id: UUID | None) -> Deployment | None:
    if deployment_id is None:
        return None
    return await session.get(Deployment, deployment_id)


async def _running(
    ctx: PolicyContext, session: AsyncSession, target: Target, actor: Actor
) -> Deployment | None:
    """The deployment in progress on this pair; one older than the timeout is closed first."""
    running = await _get(session, target.state.in_progress_deployment_id)
    if running is None or running.status != Status.STARTED:
        return None
    now = ctx.clock.now()
    if running.deployed_at + timedelta(minutes=ctx.settings.deployment_timeout_min) > now:
        return running
    _close(running, Status.ABORTED, target.state, now, reason="timeout")
    await session.flush()
    audit(
        session,
        actor="system",
        kind="deployment.timed_out",
        summary=f"deployment {running.id} closed as aborted after "
        f"{ctx.settings.deployment_timeout_min:g} minutes without an outcome",
        at=now,
        subject_id=running.id,
    )
    _announce(
        session,
        "deployment.aborted",
        event_id=running.id,
        at=now,
        actor="system",
        deployment=await _public_now(session, target, running, now),
    )
    return None


def _concurrency(running: Deployment, environment: str) -> Violation:
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


async def _pending_to_start(
    session: AsyncSession, target: Target, event: DeploymentEventIn
) -> Deployment | None:
    stmt = (
        select(Deployment)
        .where(
            col(Deployment.product_id) == target.product.id,
            col(Deployment.environment_id) == target.environment.id,
            col(Deployment.version_id) == target.version.id,
            col(Deployment.status) == Status.PENDING,
        )
        .order_by(col(Deployment.deployed_at).desc())
        .limit(1)
    )
    pending = (await session.execute(stmt)).scalar_one_or_none()
    if pending and event.invoke_id and pending.invoke_id and pending.invoke_id != event.invoke_id:
        return None
    return pending


async def evaluate_start(
    ctx: PolicyContext, session: AsyncSession, msg: EvaluateDeployment, target: Target
) -> DeploymentReply:
    """Decide a `deployment started` and record it: let through, replayed, or blocked."""
    event, at = msg.event, msg.received_at
    violations: list[Violation] = []
    if running := await _running(ctx, session, target, msg.actor):
        if (
            running.version_id == target.version.id
            and event.invoke_id
            and running.invoke_id == event.invoke_id
        ):
            return DeploymentRecorded(deployment=await _public_now(session, target, running, at))
        violations.append(_concurrency(running, target.environment.name))
    pinned = target.version.scm_sha if target.version.registered else None
    if pinned and event.scm_sha and event.scm_sha != pinned:
        violations.append(_sha_conflict(target, event.scm_sha))

    if violations:
        return _block(session, msg, target, violations)

    d = await _pending_to_start(session, target, event)
    if d is None:
        d = _new_deployment(target, msg.event_id, event, Status.STARTED, at)
        session.add(d)
    else:
        d.status = Status.STARTED
        d.updated_at = at
        _apply_event(d, event)
    d.extra_metadata = {**d.extra_metadata, "preflight_status": preflight_status("passed")}
    target.state.in_progress_deployment_id = d.id
    target.state.latest_deployment_id = d.id
    target.state.updated_at = at
    await session.flush()
    public = await _public_now(session, target, d, at)
    audit(
        session,
        actor=msg.actor,
        kind="deployment.verdict",
        summary=f"{target.product.name} {target.version.version} may start in "
        f"{target.environment.name}",
        at=at,
        subject_id=d.id,
        data={"outcome": "allowed", "violations": []},
    )
    _announce(
        session,
        "deployment.started",
        event_id=msg.event_id,
        at=at,
        actor=msg.actor,
        deployment=public,
    )
    return DeploymentRecorded(deployment=public)


def _block(
    session: AsyncSession, msg: EvaluateDeployment, target: Target, violations: list[Violation]
) -> Failure:
    failure = blocked(violations)
    at = msg.received_at
    session.add(
        BlockedAttempt(
            id=msg.event_id,
            product_id=target.product.id,
            version_id=target.version.id,
            environment_id=target.environment.id,
            status_code=failure.status_code,
            actor=msg.actor.label,
            violations=[v.model_dump(mode="json") for v in violations],
            at=at,
        )
    )
    audit(
        session,
        actor=msg.actor,
        kind="deployment.verdict",
        summary=f"{target.product.name} {target.version.version} blocked from "
        f"{target.environment.name}: {', '.join(v.code for v in violations)}",
        at=at,
        subject_id=msg.event_id,
        data={"outcome": "blocked", "violations": [v.model_dump(mode="json") for v in violations]},
    )
    _announce(
        session,
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


async def _open_deployment(
    session: AsyncSession, target: Target, event: DeploymentEventIn
) -> Deployment | None:
    """What a terminal event closes: the running deployment of this version, or a pending one."""
    candidates = []
    running = await _get(session, target.state.in_progress_deployment_id)
    if running is not None and running.status == Status.STARTED:
        candidates.append(running)
    pending = (
        await session.execute(
            select(Deployment)
            .where(
                col(Deployment.product_id) == target.product.id,
                col(Deployment.environment_id) == target.environment.id,
                col(Deployment.version_id) == target.version.id,
                col(Deployment.status) == Status.PENDING,
            )
            .order_by(col(Deployment.deployed_at).desc())
        )
    ).scalars()
    candidates.extend(pending)
    for d in candidates:
        if d.version_id != target.version.id:
            continue
        if event.invoke_id and d.invoke_id and d.invoke_id != event.invoke_id:
            continue
        return d
    return None


async def _last_of_version(
    session: AsyncSession, target: Target, event: DeploymentEventIn
) -> Deployment | None:
    stmt = (
        select(Deployment)
        .where(
            col(Deployment.product_id) == target.product.id,
            col(Deployment.environment_id) == target.environment.id,
            col(Deployment.version_id) == target.version.id,
        )
        .order_by(col(Deployment.deployed_at).desc())
        .limit(1)
    )
    last = (await session.execute(stmt)).scalar_one_or_none()
    if last and event.invoke_id and last.invoke_id and last.invoke_id != event.invoke_id:
        return None
    return last


async def record_outcome(
    ctx: PolicyContext, session: AsyncSession, msg: DeploymentEventReceived, target: Target
) -> tuple[DeploymentReply, bool]:
    """Record a pending or terminal deployment event; the reply and whether anything changed."""
    event, at = msg.event, msg.received_at
    status = event.status
    if status is Status.PENDING:
        return await _record_pending(session, msg, target), True

    d = await _open_deployment(session, target, event)
    if d is None:
        last = await _last_of_version(session, target, event)
        if last is not None and last.status == status:
            return DeploymentRecorded(
                deployment=await _public_now(session, target, last, at)
            ), False
        d = _new_deployment(target, msg.event_id, event, status, at)
        d.extra_metadata = {**d.extra_metadata, "preflight_status": preflight_status("skipped")}
        session.add(d)
    else:
        _apply_event(d, event)
    known_sha = target.version.scm_sha
    d.sha_mismatch = bool(event.scm_sha and known_sha and event.scm_sha != known_sha)
    _close(d, status, target.state, at)
    await session.flush()
    public = await _public_now(session, target, d, at)
    if d.sha_mismatch:
        audit(
            session,
            actor=msg.actor,
            kind="deployment.sha_mismatch",
            summary=f"{target.product.name} {target.version.version} reported {status} in "
            f"{target.environment.name} with SHA {event.scm_sha}, not {known_sha}",
            at=at,
            subject_id=d.id,
        )
    _announce(
        session,
        _EVENT_NAMES[status],
        event_id=msg.event_id,
        at=at,
        actor=msg.actor,
        deployment=public,
    )
    return DeploymentRecorded(deployment=public), True


async def _record_pending(
    session: AsyncSession, msg: DeploymentEventReceived, target: Target
) -> DeploymentReply:
    event, at = msg.event, msg.received_at
    existing = await _open_deployment(session, target, event)
    if existing is not None and existing.status == Status.PENDING:
        return DeploymentRecorded(deployment=await _public_now(session, target, existing, at))
    d = _new_deployment(target, msg.event_id, event, Status.PENDING, at)
    session.add(d)
    await session.flush()
    public = await _public_now(session, target, d, at)
    _announce(
        session,
        "deployment.pending",
        event_id=msg.event_id,
        at=at,
        actor=msg.actor,
        deployment=public,
    )
    return DeploymentRecorded(deployment=public)


async def _already_answered(session: AsyncSession, event_id: UUID) -> DeploymentReply | None:
    seen = await eventlog.find(session, event_id)
    return eventlog.deployment_reply(seen) if seen else None


async def handle_start(
    ctx: PolicyContext, msg: EvaluateDeployment, deadline: Deadline
) -> DeploymentReply:
    """Answer a `deployment started` before its deadline, or not at all (rolled back, 503)."""
    try:
        deadline.check()
        async with ctx.db.write() as session:
            if reply := await _already_answered(session, msg.event_id):
                return reply
            target = await resolve(session, msg.event, msg.received_at)
            reply = await evaluate_start(ctx, session, msg, target)
            record_id = (
                reply.deployment.id if isinstance(reply, DeploymentRecorded) else msg.event_id
            )
            await eventlog.remember(
                session,
                event_id=msg.event_id,
                kind="deployment",
                reply=reply,
                now=msg.received_at,
                sender_id=msg.actor.id,
                record_id=record_id,
                **target.ids,
            )
            deadline.check()
    except DeadlineExceeded:
        return policy_unavailable()
    ctx.wake_relay()
    return reply


async def handle_deployment_event(
    ctx: PolicyContext, msg: DeploymentEventReceived
) -> DeploymentReply:
    """Record a pending or terminal deployment event exactly once."""
    async with ctx.db.write() as session:
        if reply := await _already_answered(session, msg.event_id):
            return reply
        target = await resolve(session, msg.event, msg.received_at)
        reply, _changed = await record_outcome(ctx, session, msg, target)
        await eventlog.remember(
            session,
            event_id=msg.event_id,
            kind="deployment",
            reply=reply,
            now=msg.received_at,
            sender_id=msg.actor.id,
            record_id=reply.deployment.id if isinstance(reply, DeploymentRecorded) else None,
            **target.ids,
        )
    ctx.wake_relay()
    return reply


async def handle_abandoned(ctx: PolicyContext, msg: DeploymentStartAbandoned) -> None:
    """The gateway answered 503: close the deployment recorded for that start, if any was."""
    async with ctx.db.write() as session:
        d = await session.get(Deployment, msg.event_id)
        if d is None:
            # Nothing recorded: make sure a late copy of the start request is answered 503.
            if await eventlog.find(session, msg.event_id) is None:
                await eventlog.remember(
                    session,
                    event_id=msg.event_id,
                    kind="deployment",
                    reply=policy_unavailable(),
                    now=msg.abandoned_at,
                    sender_id=None,
                )
            return
        if d.status != Status.STARTED:
            return
        state = await lock_state(session, d.product_id, d.environment_id, msg.abandoned_at)
        _close(d, Status.ABORTED, state, msg.abandoned_at, reason="abandoned")
        target = await _target_of(session, d, state)
        audit(
            session,
            actor="system",
            kind="deployment.abandoned",
            summary=f"deployment {d.id} closed: the gateway gave up waiting for its verdict",
            at=msg.abandoned_at,
            subject_id=d.id,
        )
        public = await _public_now(session, target, d, msg.abandoned_at)
        _announce(
            session,
            "deployment.aborted",
            event_id=d.id,
            at=msg.abandoned_at,
            actor="system",
            deployment=public,
        )
    ctx.wake_relay()


async def _target_of(session: AsyncSession, d: Deployment, state: EnvironmentState) -> Target:
    product = await session.get(Product, d.product_id)
    environment = await session.get(Environment, d.environment_id)
    version = await session.get(Version, d.version_id)
    assert product is not None
    assert environment is not None
    assert version is not None
    return Target(
        Named(product.id, product.name), Named(environment.id, environment.name), version, state
    )


async def abort(ctx: PolicyContext, request: AbortDeployment) -> DeploymentPublic | Failure:
    """Close a pending or started deployment as aborted, by hand."""
    now = ctx.clock.now()
    async with ctx.db.write() as session:
        d = await session.get(Deployment, request.deployment_id)
        if d is None:
            return not_found()
        state = await lock_state(session, d.product_id, d.environment_id, now)
        await session.refresh(d)
        if d.status not in _OPEN:
            return conflict(f"Deployment {d.id} is {d.status}, not in progress")
        _close(d, Status.ABORTED, state, now, reason=f"aborted by {request.actor.name}")
        target = await _target_of(session, d, state)
        public = await _public_now(session, target, d, now)
        audit(
            session,
            actor=request.actor,
            kind="deployment.aborted",
            summary=f"deployment {d.id} of {target.product.name} {target.version.version} "
            f"to {target.environment.name} aborted",
            at=now,
            subject_id=d.id,
        )
        _announce(
            session,
            "deployment.aborted",
            event_id=d.id,
            at=now,
            actor=request.actor,
            deployment=public,
        )
    ctx.wake_relay()
    return public
