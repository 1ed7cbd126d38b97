"""Every event id once: what it became and the answer it got, so a redelivery answers the same."""

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, TypeAdapter
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from versioner.common.errors import Failure
from versioner.common.messages.lanes import BuildReply, DeploymentReply
from versioner.common.resources import EventStatus
from versioner.policy.tables import EventRecord

EventKind = Literal["build", "deployment"]
_BUILD_REPLY: TypeAdapter[BuildReply] = TypeAdapter(BuildReply)
_DEPLOYMENT_REPLY: TypeAdapter[DeploymentReply] = TypeAdapter(DeploymentReply)


async def find(session: AsyncSession, event_id: UUID) -> EventRecord | None:
    """The record of an event, if policy has seen it."""
    return (
        await session.execute(select(EventRecord).where(col(EventRecord.event_id) == event_id))
    ).scalar_one_or_none()


def build_reply(record: EventRecord) -> BuildReply | None:
    """The answer a build event got, to give again to a redelivery of it."""
    if record.reply is None or record.event_kind != "build":
        return None
    return _BUILD_REPLY.validate_python(record.reply)


def deployment_reply(record: EventRecord) -> DeploymentReply | None:
    """The answer a deployment event got, to give again to a redelivery of it."""
    if record.reply is None or record.event_kind != "deployment":
        return None
    return _DEPLOYMENT_REPLY.validate_python(record.reply)


async def remember(
    session: AsyncSession,
    *,
    event_id: UUID,
    kind: EventKind,
    reply: BaseModel,
    now: datetime,
    sender_id: UUID | None,
    product_id: UUID | None = None,
    version_id: UUID | None = None,
    environment_id: UUID | None = None,
    record_id: UUID | None = None,
) -> None:
    """Keep what an event became: recorded, or rejected with its error."""
    failure = isinstance(reply, Failure)
    values: dict[str, Any] = {
        "status": "rejected" if failure else "recorded",
        "status_code": reply.status_code if isinstance(reply, Failure) else 200,
        "reply": reply.model_dump(mode="json"),
        "product_id": product_id,
        "version_id": version_id,
        "environment_id": environment_id,
        "record_id": record_id,
        "updated_at": now,
    }
    record = await find(session, event_id)
    if record is None:
        session.add(
            EventRecord(
                event_id=event_id, event_kind=kind, sender_id=sender_id, created_at=now, **values
            )
        )
    else:
        for field, value in values.items():
            setattr(record, field, value)


async def note_queued(
    session: AsyncSession, event_id: UUID, kind: EventKind, sender_id: UUID | None, now: datetime
) -> None:
    """An event answered 202: queued until its lane records it (unless it already has)."""
    if await find(session, event_id) is None:
        session.add(
            EventRecord(
                event_id=event_id,
                event_kind=kind,
                status="queued",
                sender_id=sender_id,
                created_at=now,
                updated_at=now,
            )
        )


def event_status(record: EventRecord) -> EventStatus:
    """What `GET /events/{id}` shows."""
    detail = None
    if record.status == "rejected" and record.reply is not None:
        detail = record.reply.get("body", {}).get("detail")
    return EventStatus(
        event_id=record.event_id,
        status=record.status,  # type: ignore[arg-type]
        event_kind=record.event_kind,  # type: ignore[arg-type]
        product_id=record.product_id,
        version_id=record.version_id,
        environment_id=record.environment_id,
        record_id=record.record_id,
        detail=detail,
    )
