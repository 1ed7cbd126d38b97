"""Every event id once: what it became and the answer it got, so a redelivery answers the same.

The record is written last in the event's transaction, as an upsert that only replaces a
`queued` row: if the event was already recorded (a redelivery), nothing is written, the
transaction is rolled back, and the stored answer is given again.
"""

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from functools import cache
from typing import Literal, TypeVar
from uuid import UUID

from pydantic import BaseModel, TypeAdapter
from sqlalchemy import Connection, bindparam, select
from sqlalchemy.exc import IntegrityError

from versioner.common.errors import Failure
from versioner.common.messages.lanes import BuildReply, DeploymentReply
from versioner.common.messages.management import QueuedEvent
from versioner.common.resources import EventStatus
from versioner.policy.store.db import Database
from versioner.policy.store.sql import (
    Executor,
    Prepared,
    dialect_insert,
    dialect_of,
    from_row,
    table,
)
from versioner.policy.store.tables import EventRecord

log = logging.getLogger(__name__)

T = TypeVar("T")
EventKind = Literal["build", "deployment"]
EVENTS = table(EventRecord)
_BUILD_REPLY: TypeAdapter[BuildReply] = TypeAdapter(BuildReply)
_DEPLOYMENT_REPLY: TypeAdapter[DeploymentReply] = TypeAdapter(DeploymentReply)


class AlreadyRecorded(Exception):  # noqa: N818 - names the situation, not an error
    """The event was recorded before: roll back and answer as the first time."""


_FIND = select(EVENTS).where(EVENTS.c.event_id == bindparam("event_id"))


class Redelivered(Exception):  # noqa: N818 - names the situation, not an error
    """The event was recorded before; `record` holds what it became and the answer it got."""

    def __init__(self, record: EventRecord) -> None:
        super().__init__(record.event_id)
        self.record = record


# A first sight that lost a race to another replica is run again this often.
_RETRIES = 3


async def once(db: Database, event_id: UUID, attempt: Callable[[], Awaitable[T]]) -> T:
    """Run an event's transaction exactly once.

    A unique-key error means another replica's first sight of a name won the race (run the
    transaction again: the row is there to be found now), or that this very event was
    recorded before (its records carry its id): then `Redelivered` carries the first answer.
    """
    for remaining in range(_RETRIES, 0, -1):
        try:
            return await attempt()
        except (IntegrityError, AlreadyRecorded):
            async with db.read() as session:
                record = await find(session, event_id)
            if record is not None and record.status != "queued":
                raise Redelivered(record) from None
            if remaining == 1:
                raise
            log.info("a concurrent first sight won; running the transaction again")
    raise AssertionError("unreachable")


async def find(executor: Executor, event_id: UUID) -> EventRecord | None:
    """The record of an event, if policy has seen it (in an async session)."""
    row = (await executor.execute(_FIND, {"event_id": event_id})).first()
    return from_row(EventRecord, row) if row else None


def find_in(conn: Connection, event_id: UUID) -> EventRecord | None:
    """The record of an event, if policy has seen it (in a sync transaction)."""
    row = conn.execute(_FIND, {"event_id": event_id}).first()
    return from_row(EventRecord, row) if row else None


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


_OUTCOME = (
    "status",
    "status_code",
    "reply",
    "product_id",
    "version_id",
    "environment_id",
    "record_id",
    "updated_at",
)


@cache
def _upsert(dialect: str) -> Prepared:
    """Insert an event's record, replacing only a `queued` one (built once per engine)."""
    insert = dialect_insert(dialect, EVENTS)
    return Prepared(
        insert.on_conflict_do_update(
            index_elements=[EVENTS.c.event_id],
            set_={name: insert.excluded[name] for name in _OUTCOME},
            where=EVENTS.c.status == "queued",
        )
    )


@cache
def _note(dialect: str) -> Prepared:
    """Insert a `queued` record unless the event has one (built once per engine)."""
    return Prepared(dialect_insert(dialect, EVENTS).on_conflict_do_nothing())


def remember(
    conn: Connection,
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
    """Keep what an event became; raises `AlreadyRecorded` if it was recorded before."""
    written = _upsert(dialect_of(conn)).run(
        conn,
        {
            "event_id": event_id,
            "event_kind": kind,
            "sender_id": sender_id,
            "created_at": now,
            "status": "rejected" if isinstance(reply, Failure) else "recorded",
            "status_code": reply.status_code if isinstance(reply, Failure) else 200,
            "reply": reply.model_dump(mode="json"),
            "product_id": product_id,
            "version_id": version_id,
            "environment_id": environment_id,
            "record_id": record_id,
            "updated_at": now,
        },
    )
    if not written:
        raise AlreadyRecorded


def note_queued(conn: Connection, events: list[QueuedEvent]) -> None:
    """Events answered 202: queued until their lane records them (unless it already has)."""
    note = _note(dialect_of(conn))
    for event in events:
        note.run(
            conn,
            {
                "event_id": event.event_id,
                "event_kind": event.event_kind,
                "status": "queued",
                "sender_id": event.sender_id,
                "created_at": event.received_at,
                "updated_at": event.received_at,
            },
        )


def event_status(record: EventRecord) -> EventStatus:
    """What `GET /events/{id}` shows."""
    detail = None
    if record.status == "rejected" and record.reply is not None:
        detail = record.reply.get("body", {}).get("detail")
    return EventStatus(
        event_id=record.event_id,
        status=record.status,
        event_kind=record.event_kind,
        product_id=record.product_id,
        version_id=record.version_id,
        environment_id=record.environment_id,
        record_id=record.record_id,
        detail=detail,
    )
