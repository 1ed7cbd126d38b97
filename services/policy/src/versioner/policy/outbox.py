"""The outbox: domain events written with their state change, published after commit.

One relay at a time (a lease row) publishes rows in id order with publisher confirms and
then marks them sent. A crash between the publish and the mark publishes a row again;
consumers drop what they have seen by the event id inside.
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Literal, cast
from uuid import uuid4

from pydantic import BaseModel
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from versioner.policy.clock import Clock
from versioner.policy.db import Database
from versioner.policy.sql import insert_ignore, table
from versioner.policy.tables import Lease, OutboxMessage

log = logging.getLogger(__name__)

Exchange = Literal["events", "credentials"]
Publish = Callable[[Exchange, str, str], Awaitable[None]]

_LEASE = "outbox-relay"
_BATCH = 200


def enqueue(
    session: AsyncSession, message: BaseModel, routing_key: str, *, exchange: Exchange = "events"
) -> None:
    """Queue a domain event in the caller's transaction."""
    session.add(
        OutboxMessage(exchange=exchange, routing_key=routing_key, body=message.model_dump_json())
    )


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
    ) -> None:
        self.db = db
        self.publish = publish
        self.clock = clock
        self.poll_s = poll_s
        self.lease = timedelta(seconds=lease_s)
        self.holder = uuid4().hex
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Something was committed to the outbox: publish it now."""
        self._wake.set()

    async def run(self) -> None:
        """Relay until cancelled."""
        while True:
            try:
                if await self.hold_lease():
                    await self.drain()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbox relay: publishing failed; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll_s)
            self._wake.clear()

    async def hold_lease(self) -> bool:
        """Take or renew the relay lease; whether this replica holds it."""
        now = self.clock.now()
        async with self.db.write() as session:
            values = {"name": _LEASE, "holder": self.holder, "expires_at": now + self.lease}
            if await insert_ignore(session, table(Lease), values):
                return True
            result = await session.execute(
                update(Lease)
                .where(col(Lease.name) == _LEASE)
                .where((col(Lease.holder) == self.holder) | (col(Lease.expires_at) < now))
                .values(holder=self.holder, expires_at=now + self.lease)
            )
            return bool(getattr(result, "rowcount", 0))

    async def drain(self) -> int:
        """Publish every unsent row, oldest first; how many were published."""
        published = 0
        while True:
            async with self.db.read() as session:
                rows = (
                    await session.execute(
                        select(
                            col(OutboxMessage.id),
                            col(OutboxMessage.exchange),
                            col(OutboxMessage.routing_key),
                            col(OutboxMessage.body),
                        )
                        .where(col(OutboxMessage.sent_at).is_(None))
                        .order_by(col(OutboxMessage.id))
                        .limit(_BATCH)
                    )
                ).all()
            if not rows:
                return published
            for _id, exchange, routing_key, body in rows:
                await self.publish(cast("Exchange", exchange), routing_key, body)
            async with self.db.write() as session:
                await session.execute(
                    update(OutboxMessage)
                    .where(col(OutboxMessage.id).in_([row[0] for row in rows]))
                    .values(sent_at=self.clock.now())
                )
            published += len(rows)
