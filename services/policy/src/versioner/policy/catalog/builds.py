"""Build events: a version created on any build, registered (SHA pinned) by a completed one."""

from collections.abc import Callable
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, case, func, insert, or_, select, update

from versioner.common.errors import Failure
from versioner.common.events import BuildEventIn
from versioner.common.insights import commit_time
from versioner.common.messages.domain import BuildEventName, BuildEventOccurred, EventRejected
from versioner.common.messages.lanes import BuildEventReceived, BuildRecorded, BuildReply
from versioner.common.resources import BuildPublic
from versioner.common.rows import public
from versioner.common.status import Status
from versioner.policy.context import PolicyContext
from versioner.policy.logs.audit import audit_in
from versioner.policy.store import eventlog, hot_path
from versioner.policy.store.deadline import Deadline
from versioner.policy.store.hot_path import Ref, VersionRef
from versioner.policy.store.outbox import enqueue_in
from versioner.policy.store.sql import from_row, row_values, table
from versioner.policy.store.tables import Build, Version

BUILDS = table(Build)
VERSIONS = table(Version)
_BUILD_FIELDS = (
    "scm_sha",
    "scm_repository",
    "scm_branch",
    "build_number",
    "build_url",
    "source_system",
    "built_by",
    "built_by_email",
    "built_by_name",
    "error_message",
    "error_code",
    "started_at",
    "completed_at",
)
_VERSION_FIELDS = ("scm_repository", "scm_branch", "build_number", "build_url")


# The domain event a build's state is announced as.
_EVENT_NAMES: dict[Status, BuildEventName] = {
    Status.PENDING: "build.pending",
    Status.STARTED: "build.started",
    Status.COMPLETED: "build.completed",
    Status.FAILED: "build.failed",
    Status.ABORTED: "build.aborted",
}


def version_conflict(product: str, version: str, existing_sha: str, sent_sha: str) -> Failure:
    """409: a version's SHA is pinned and another was sent."""
    message = f"Version {version} of {product} already exists with SHA {existing_sha}"
    return Failure.structured(
        409,
        error="version_conflict",
        code="VERSION_CONFLICT",
        message=message,
        details={"existing_sha": existing_sha, "sent_sha": sent_sha},
        top_level_message=True,
    )


def build_public(build: Build, product_name: str, version: str) -> BuildPublic:
    """A build as the API shows it."""
    return public(BuildPublic, build, product_name=product_name, version=version)


def _build_to_update(conn: Connection, version: VersionRef, event: BuildEventIn) -> Build | None:
    """The build row this event concerns: same `invoke_id`, or else the latest one without."""
    if version.new:
        return None
    stmt = select(BUILDS).where(BUILDS.c.version_id == version.id)
    if event.invoke_id:
        stmt = stmt.where(BUILDS.c.invoke_id == event.invoke_id)
    else:
        stmt = stmt.where(BUILDS.c.invoke_id.is_(None))
    row = (conn.execute(stmt.order_by(BUILDS.c.created_at.desc()).limit(1))).first()
    return from_row(Build, row) if row else None


def _is_replay(build: Build, event: BuildEventIn) -> bool:
    return build.status == event.status and all(
        getattr(event, name) in (None, getattr(build, name)) for name in _BUILD_FIELDS
    )


def _register(conn: Connection, version: VersionRef, event: BuildEventIn, now: Any) -> None:
    """A completed build pins the version's SHA; any build fills what the version lacks.

    One UPDATE: `COALESCE` keeps what is already set.
    """
    v = hot_path.VERSIONS
    changes: dict[str, Any] = {
        name: func.coalesce(v.c[name], value)
        for name in _VERSION_FIELDS
        if (value := getattr(event, name)) is not None
    }
    if event.status is Status.COMPLETED and not version.registered:
        changes.update(registered=True, registered_at=now)
        if event.scm_sha:
            changes["scm_sha"] = event.scm_sha
    elif event.scm_sha and version.scm_sha is None:
        changes["scm_sha"] = event.scm_sha
    if changes:
        conn.execute(update(v).where(v.c.id == version.id).values(**changes))


def record_build(
    ctx: PolicyContext, conn: Connection, msg: BuildEventReceived
) -> tuple[BuildReply, Build | None, Ref]:
    """Record one build event in the caller's transaction; the reply, the build row, the product."""
    event, now = msg.event, msg.received_at
    product = hot_path.product(conn, ctx.names, event.product_name, now)
    fresh = {name: getattr(event, name) for name in _VERSION_FIELDS}
    registering = event.status is Status.COMPLETED
    version = hot_path.version(
        conn,
        product,
        event.version,
        now,
        sha=event.scm_sha,
        values={**fresh, "registered": registering, "registered_at": now if registering else None},
    )
    if version.new:
        version.registered = registering
    elif (
        version.registered
        and event.scm_sha
        and version.scm_sha
        and version.scm_sha != event.scm_sha
    ):
        return (
            version_conflict(product.name, version.version, version.scm_sha, event.scm_sha),
            None,
            product,
        )
    else:
        _register(conn, version, event, now)

    build = _build_to_update(conn, version, event)
    if build is not None and _is_replay(build, event):
        return (
            BuildRecorded(build=build_public(build, product.name, version.version)),
            build,
            product,
        )
    if build is not None and not event.invoke_id and Status(build.status).terminal:
        # Without an invoke_id a finished build is not reopened: this is another run.
        build = None
    new = build is None
    if build is None:
        build = Build(
            id=msg.event_id,
            product_id=product.id,
            version_id=version.id,
            status=event.status,
            invoke_id=event.invoke_id,
            extra_metadata={},
            created_at=now,
            updated_at=now,
        )
    build.status = event.status
    build.updated_at = now
    for name in _BUILD_FIELDS:
        if (value := getattr(event, name)) is not None:
            setattr(build, name, value)
    if event.extra_metadata:
        build.extra_metadata = {**build.extra_metadata, **event.extra_metadata}
    values = row_values(build)
    if new:
        conn.execute(insert(BUILDS).values(**values))
    else:
        conn.execute(update(BUILDS).where(BUILDS.c.id == build.id).values(**values))
    _note_start(conn, version.id, build, now)

    public = build_public(build, product.name, version.version)
    event_type = _EVENT_NAMES[event.status]
    enqueue_in(
        conn,
        BuildEventOccurred(
            event_type=event_type,
            event_id=msg.event_id,
            occurred_at=now,
            actor=msg.actor.label,
            build=public,
        ),
        event_type,
        at=now,
    )
    return BuildRecorded(build=public), build, product


def _note_start(conn: Connection, version_id: UUID, build: Build, now: datetime) -> None:
    """Keep on the version where its lead time starts: the earliest commit time and build
    start its builds told, and when its first build event came."""
    earliest: dict[str, Any] = {"first_built_at": func.coalesce(VERSIONS.c.first_built_at, now)}
    for name, at in (
        ("committed_at", commit_time(build.extra_metadata)),
        ("build_started_at", build.started_at),
    ):
        if at is not None:
            kept = VERSIONS.c[name]
            earliest[name] = case((or_(kept.is_(None), kept > at), at), else_=kept)
    conn.execute(update(VERSIONS).where(VERSIONS.c.id == version_id).values(**earliest))


def _answered_202(conn: Connection, msg: BuildEventReceived, deadline: Deadline) -> bool:
    """Whether the gateway stopped waiting and answered 202: the fact's deadline passed, or
    the gateway's note that it queued the event arrived first."""
    if deadline.remaining_s() <= 0:
        return True
    record = eventlog.find_in(conn, msg.event_id)
    return record is not None and record.status == "queued"


def _record(
    ctx: PolicyContext, msg: BuildEventReceived, deadline: Deadline
) -> Callable[[Connection], tuple[BuildReply, Ref]]:
    def work(conn: Connection) -> tuple[BuildReply, Ref]:
        reply, build, product = record_build(ctx, conn, msg)
        if isinstance(reply, Failure):
            audit_in(
                conn,
                actor=msg.actor,
                kind="event.rejected",
                summary=f"build event for {msg.event.product_name} {msg.event.version} refused",
                at=msg.received_at,
                subject_id=msg.event_id,
                data={"status_code": reply.status_code, "detail": reply.body.to_json()["detail"]},
            )
        if isinstance(reply, Failure) and _answered_202(conn, msg, deadline):
            # The client heard "accepted": tell people it was refused after all.
            enqueue_in(
                conn,
                EventRejected(
                    event_id=msg.event_id,
                    occurred_at=msg.received_at,
                    actor=msg.actor.label,
                    event_kind="build",
                    product_name=msg.event.product_name,
                    version=msg.event.version,
                    status_code=reply.status_code,
                    reason=reply.body.message or str(reply.body.detail),
                ),
                "event.rejected",
                at=msg.received_at,
            )
        eventlog.remember(
            conn,
            event_id=msg.event_id,
            kind="build",
            reply=reply,
            now=msg.received_at,
            sender_id=msg.actor.id,
            product_id=product.id,
            version_id=build.version_id if build else None,
            record_id=build.id if build else None,
        )
        return reply, product

    return work


async def handle_build_event(
    ctx: PolicyContext, msg: BuildEventReceived, deadline: Deadline | None = None
) -> BuildReply:
    """Record a build event once (a redelivered event answers as it did the first time)."""
    try:
        reply, product = await eventlog.once(
            ctx.db, msg.event_id, lambda: ctx.db.run(_record(ctx, msg, deadline or Deadline()))
        )
    except eventlog.Redelivered as again:
        stored = eventlog.build_reply(again.record)
        assert stored is not None, "an event recorded without its answer"
        return stored
    ctx.names.products[msg.event.product_name] = product.id
    ctx.wake_relay()
    return reply
