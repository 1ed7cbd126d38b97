"""Build events: a version created on any build, registered (SHA pinned) by a completed one."""

from datetime import datetime
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from versioner.common.errors import Failure
from versioner.common.events import BuildEventIn
from versioner.common.messages.domain import BuildEventOccurred
from versioner.common.messages.lanes import BuildEventReceived, BuildRecorded, BuildReply
from versioner.common.resources import BuildPublic
from versioner.common.status import Status
from versioner.policy import eventlog
from versioner.policy.audit import audit
from versioner.policy.catalog import ensure_product, ensure_version, fill_missing
from versioner.policy.context import PolicyContext
from versioner.policy.outbox import enqueue
from versioner.policy.tables import Build, Version

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
    return BuildPublic(
        id=build.id,
        version_id=build.version_id,
        product_id=build.product_id,
        product_name=product_name,
        version=version,
        status=Status(build.status),
        created_at=build.created_at,
        updated_at=build.updated_at,
        **{field: getattr(build, field) for field in (*_BUILD_FIELDS, "invoke_id")},
    )


async def _build_to_update(
    session: AsyncSession, version_id: UUID, event: BuildEventIn
) -> Build | None:
    """The build row this event updates: same `invoke_id`, or else the latest one running."""
    stmt = select(Build).where(col(Build.version_id) == version_id)
    if event.invoke_id:
        stmt = stmt.where(col(Build.invoke_id) == event.invoke_id)
    else:
        stmt = stmt.where(
            col(Build.invoke_id).is_(None),
            col(Build.status).in_([Status.PENDING, Status.STARTED]),
        )
    stmt = stmt.order_by(col(Build.created_at).desc()).limit(1)
    return (await session.execute(stmt)).scalar_one_or_none()


def _is_replay(build: Build, event: BuildEventIn) -> bool:
    return build.status == event.status and all(
        getattr(event, field) in (None, getattr(build, field)) for field in _BUILD_FIELDS
    )


def _register(version: Version, event: BuildEventIn, now: datetime) -> None:
    if event.status is Status.COMPLETED and not version.registered:
        version.registered = True
        version.registered_at = now
        if event.scm_sha:
            version.scm_sha = event.scm_sha
    fill_missing(
        version,
        scm_sha=event.scm_sha,
        scm_repository=event.scm_repository,
        scm_branch=event.scm_branch,
        build_number=event.build_number,
        build_url=event.build_url,
    )


async def record_build(
    session: AsyncSession, msg: BuildEventReceived
) -> tuple[BuildReply, Build | None]:
    """Record one build event in the caller's transaction; the reply and the build row."""
    event, now = msg.event, msg.received_at
    product = await ensure_product(session, event.product_name, now)
    version = await ensure_version(session, product.id, event.version, now)
    if (
        version.registered
        and event.scm_sha
        and version.scm_sha
        and version.scm_sha != event.scm_sha
    ):
        return version_conflict(product.name, version.version, version.scm_sha, event.scm_sha), None

    build = await _build_to_update(session, version.id, event)
    if build is not None and _is_replay(build, event):
        return BuildRecorded(build=build_public(build, product.name, version.version)), build
    if build is None:
        build = Build(
            id=msg.event_id,
            product_id=product.id,
            version_id=version.id,
            status=event.status,
            invoke_id=event.invoke_id,
            extra_metadata=event.extra_metadata or {},
            created_at=now,
            updated_at=now,
        )
        session.add(build)
    build.status = event.status
    build.updated_at = now
    for field in _BUILD_FIELDS:
        if (value := getattr(event, field)) is not None:
            setattr(build, field, value)
    if event.extra_metadata:
        build.extra_metadata = {**build.extra_metadata, **event.extra_metadata}
    _register(version, event, now)
    await session.flush()

    public = build_public(build, product.name, version.version)
    enqueue(
        session,
        BuildEventOccurred(
            event_type=f"build.{event.status}",  # type: ignore[arg-type]
            event_id=msg.event_id,
            occurred_at=now,
            actor=msg.actor.label,
            build=public,
        ),
        f"build.{event.status}",
    )
    return BuildRecorded(build=public), build


async def handle_build_event(ctx: PolicyContext, msg: BuildEventReceived) -> BuildReply:
    """Record a build event once (a redelivered event answers as it did the first time)."""
    async with ctx.db.write() as session:
        if (seen := await eventlog.find(session, msg.event_id)) and (
            reply := eventlog.build_reply(seen)
        ):
            return reply
        reply, build = await record_build(session, msg)
        if isinstance(reply, Failure):
            audit(
                session,
                actor=msg.actor,
                kind="event.rejected",
                summary=f"build event for {msg.event.product_name} {msg.event.version} refused",
                at=msg.received_at,
                subject_id=msg.event_id,
                data={"status_code": reply.status_code, "detail": reply.body.to_json()["detail"]},
            )
        await eventlog.remember(
            session,
            event_id=msg.event_id,
            kind="build",
            reply=reply,
            now=msg.received_at,
            sender_id=msg.actor.id,
            product_id=build.product_id if build else None,
            version_id=build.version_id if build else None,
            record_id=build.id if build else None,
        )
    ctx.wake_relay()
    return reply
