"""The outbox: domain events written with their state change, published after commit.

One relay at a time (a lease row) publishes rows in id order with publisher confirms and
then marks them sent. A crash between the publish and the mark publishes a row again;
consumers drop what they have seen by the event id inside (docs/adr/0004-transactional-outbox.md).
"""

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from functools import partial
from typing import Any, Literal, cast
from uuid import uuid4

from pydantic import BaseModel
from sqlalchemy import Connection, bindparam, func, insert, select, update

from versioner.common import logs, tracing
from versioner.common.types import utcnow
from versioner.policy.store.clock import Clock
from versioner.policy.store.db import Database
from versioner.policy.store.sql import Executor, Prepared, table, upsert_insert
from versioner.policy.store.tables import Lease, OutboxMessage

log = logging.getLogger(__name__)

Exchange = Literal["events", "credentials"]
# Publishes (exchange, routing key, body, headers).
Publish = Callable[[Exchange, str, str, dict[str, Any]], Awaitable[None]]

_LEASE = "outbox-relay"
_LEASES = table(Lease)
_OUTBOX = table(OutboxMessage)
_RENEW = (
    update(_LEASES)
    .where(_LEASES.c.name == bindparam("lease"))
    .where((_LEASES.c.holder == bindparam("me")) | (_LEASES.c.expires_at < bindparam("now")))
    .values(holder=bindparam("me"), expires_at=bindparam("until"))
)
_UNSENT = Prepared(
    select(
        _OUTBOX.c.id, _OUTBOX.c.exchange, _OUTBOX.c.routing_key, _OUTBOX.c.body, _OUTBOX.c.headers
    )
    .where(_OUTBOX.c.sent_at.is_(None))
    .order_by(_OUTBOX.c.id)
    .limit(bindparam("limit"))
)
_MARK_SENT = (
    update(_OUTBOX)
    .where(_OUTBOX.c.id.in_(bindparam("ids", expanding=True)))
    .values(sent_at=bindparam("at"))
)
_BACKLOG = select(func.count(), func.min(_OUTBOX.c.created_at)).where(_OUTBOX.c.sent_at.is_(None))
_INSERT = insert(_OUTBOX)
_PREPARED_INSERT = Prepared(_INSERT)
_BATCH = 200


def _row(
    message: BaseModel, routing_key: str, exchange: Exchange, at: datetime | None
) -> dict[str, Any]:
    carried = logs.headers()
    return {
        "exchange": exchange,
        "routing_key": routing_key,
        "body": message.model_dump_json(),
        "headers": json.dumps(carried) if carried else None,
        "created_at": at or utcnow(),
        "sent_at": None,
    }


async def enqueue(
    executor: Executor,
    message: BaseModel,
    routing_key: str,
    *,
    exchange: Exchange = "events",
    at: datetime | None = None,
) -> None:
    """Queue a domain event in the caller's (async) transaction."""
    await executor.execute(_INSERT, _row(message, routing_key, exchange, at))


def enqueue_in(
    conn: Connection,
    message: BaseModel,
    routing_key: str,
    *,
    exchange: Exchange = "events",
    at: datetime | None = None,
) -> None:
    """Queue a domain event in the caller's (sync) transaction."""
    _PREPARED_INSERT.run(conn, _row(message, routing_key, exchange, at))


def backlog(conn: Connection) -> tuple[int, datetime | None]:
    """How many rows wait to be published, and when the oldest was written (None: none)."""
    count, oldest = conn.execute(_BACKLOG).one()
    return int(count), oldest


def _mark_sent(conn: Connection, marked: dict[str, Any]) -> None:
    conn.execute(_MARK_SENT, marked)


class OutboxRelay:
    """Publishes committed outbox rows; woken right after a commit, polling as a backstop."""

    def __init__(
        self,
        db: Database,
        publish: Publish,
        clock: Clock,
        *,
        poll_s: float = 1.0,
        lease_s: float = 15.0,
        coalesce_s: float = 0.02,
    ) -> None:
        self.db = db
        self.publish = publish
        self.clock = clock
        self.poll_s = poll_s
        self.lease = timedelta(seconds=lease_s)
        # After a wake-up, wait this long so that one drain carries what many verdicts wrote:
        # under load that is one read and one mark per batch instead of per event.
        self.coalesce_s = coalesce_s
        self.holder = uuid4().hex
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Something was committed to the outbox: publish it now."""
        self._wake.set()

    async def run(self) -> None:
        """Relay until cancelled."""
        renew_at = 0.0
        held = False
        while True:
            try:
                # Renewing on every wake would be a write transaction per event: renew when due.
                if time.monotonic() >= renew_at:
                    held = await self.hold_lease()
                    renew_at = time.monotonic() + self.lease.total_seconds() / 3
                if held:
                    await self.drain()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbox relay: publishing failed; retrying")
                renew_at = 0.0
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancel
            # that arrives together with the wake-up, and shutting down would hang.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.poll_s):
                    await self._wake.wait()
                    await asyncio.sleep(self.coalesce_s)
            self._wake.clear()

    def _publish(
        self, exchange: Exchange, key: str, body: str, headers: str | None
    ) -> Awaitable[None]:
        """A row's publish: as it is while tracing is off (no layer of its own: this is the
        gate's path), in a span of its own while it is on."""
        carried: dict[str, Any] = json.loads(headers) if headers else {}
        if not tracing.enabled():
            return self.publish(exchange, key, body, carried)
        return self._traced(exchange, key, body, carried)

    async def _traced(
        self, exchange: Exchange, key: str, body: str, headers: dict[str, Any]
    ) -> None:
        # A span of its own in the trace of the event the row was written for (the row keeps
        # its trace context); the consumer's span follows this one.
        with tracing.span(f"{exchange} publish {key}", "producer", parent=headers):
            forwarded = {k: v for k, v in headers.items() if k not in ("traceparent", "tracestate")}
            tracing.inject(forwarded)
            await self.publish(exchange, key, body, forwarded)

    async def hold_lease(self) -> bool:
        """Take or renew the relay lease; whether this replica holds it."""
        now = self.clock.now()

        def take(conn: Connection) -> bool:
            values = {"name": _LEASE, "holder": self.holder, "expires_at": now + self.lease}
            if conn.execute(
                upsert_insert(conn, _LEASES).values(**values).on_conflict_do_nothing()
            ).rowcount:
                return True
            renewal = {
                "lease": _LEASE,
                "me": self.holder,
                "until": values["expires_at"],
                "now": now,
            }
            return bool(conn.execute(_RENEW, renewal).rowcount)

        return await self.db.run(take)

    async def drain(self) -> int:
        """Publish every unsent row, oldest first; how many were published."""
        published = 0
        while True:
            rows = await self.db.run(lambda conn: _UNSENT.rows(conn, {"limit": _BATCH}))
            if not rows:
                return published
            # One batch in flight together: the channel keeps their order, confirms come back
            # in any order, and none is marked sent until every one is confirmed.
            await asyncio.gather(
                *(
                    self._publish(cast("Exchange", exchange), key, body, headers)
                    for _id, exchange, key, body, headers in rows
                )
            )
            marked = {"ids": [row[0] for row in rows], "at": self.clock.now()}
            await self.db.run(partial(_mark_sent, marked=marked))
            published += len(rows)
