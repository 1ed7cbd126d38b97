"""Which domain events reach the notifier: only those some enabled channel subscribes to.

Policy announces every verdict and every recorded event, but most installations subscribe to
a few of them, and an event nobody wants must cost nothing (issue 8: an event consumed,
decoded, logged and matched against the channel table cost the notifier ~4 ms, two per
deployment). So the notifier's queue is bound to the events exchange once per event type an
enabled channel wants, plus the notifier's own work (button fires, Slack clicks); the exchange
drops the rest before any queue sees it.

Bindings follow the channel table (the notifier owns it): they are brought in line at start,
after every channel change this replica commits, and every `RECONCILE_S` seconds (a change
another replica committed, a binding lost with the broker). A binding is added before the
change is answered, so an event published after a channel is created reaches it; unbinding
reads the table again afterwards and binds back anything wanted meanwhile, so a replica with
an older view never removes what a newer channel needs for long.
"""

import asyncio
import logging
from collections.abc import Iterable

from aio_pika.abc import AbstractExchange, AbstractQueue
from sqlalchemy import select
from sqlmodel import col

from versioner.common.notifications import EVENT_NAMES
from versioner.notifier.db import Database
from versioner.notifier.tables import Channel

log = logging.getLogger(__name__)

# What the notifier does whatever the channels: fire deployment buttons, answer Slack clicks.
ALWAYS: tuple[str, ...] = ("button.fire_requested", "slack.action_handled")
# Keys a notifier may have bound before: every channel event, and the catch-all of old versions.
_KNOWN: tuple[str, ...] = (*EVENT_NAMES, "#")
RECONCILE_S = 60.0


async def wanted(db: Database) -> set[str]:
    """The routing keys the notifier must hear: what enabled channels subscribe to, and its own."""
    async with db.session() as session:
        rows = await session.execute(select(col(Channel.events)).where(col(Channel.enabled)))
        subscribed = [name for (events,) in rows.all() for name in events]
    return {*ALWAYS, *subscribed}


class Bindings:
    """The notifier queue's bindings to the events exchange, kept in line with the channels."""

    def __init__(self, db: Database, queue: AbstractQueue, exchange: AbstractExchange) -> None:
        self.db = db
        self.queue = queue
        self.exchange = exchange
        self._lock = asyncio.Lock()

    async def _bind(self, keys: Iterable[str]) -> None:
        for key in sorted(keys):
            await self.queue.bind(self.exchange, routing_key=key)

    async def sync(self) -> set[str]:
        """Bind what is wanted, unbind the rest; the keys bound."""
        async with self._lock:
            keys = await wanted(self.db)
            await self._bind(keys)
            dropped = [key for key in _KNOWN if key not in keys]
            for key in dropped:
                # Unbinding what is not bound is a no-op for RabbitMQ.
                await self.queue.unbind(self.exchange, routing_key=key)
            # A channel committed meanwhile (by another replica) may want one of those again.
            again = await wanted(self.db)
            await self._bind(again.intersection(dropped))
            return keys | again

    async def run(self) -> None:
        """Reconcile every `RECONCILE_S` seconds until cancelled."""
        while True:
            await asyncio.sleep(RECONCILE_S)
            try:
                await self.sync()
            except Exception:
                log.exception("could not bring the notifier's bindings in line; trying again")
