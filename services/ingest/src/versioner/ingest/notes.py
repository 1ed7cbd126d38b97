"""Events answered 202 are noted to policy together: one message for all of a moment's.

`GET /events/{id}` shows an event answered 202 as `queued` until its lane records it, so
policy must hear of it before the 202 goes out. Under load most facts are answered 202
(`gateway.FACT_WAITERS`): a message and a transaction in policy for each would cost more
than the fact itself (issue 8). Notes made while the previous batch is on its way wait for
it and go together, as a database's group commit does; each caller returns once `send` is
done with its batch (the broker has it). Waiting for policy to have written the notes made
each 202 wait behind the lanes' backlog (facts 700 → 340/s), so until policy has, the
gateway that answered 202 remembers the event itself (`AcceptedEvents`).
"""

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from uuid import UUID

from versioner.common.messages.actor import SYSTEM, Actor
from versioner.common.messages.management import (
    MAX_QUEUED_NOTES,
    NoteEventsQueued,
    QueuedEvent,
)
from versioner.common.resources import EventStatus

log = logging.getLogger(__name__)


class QueuedNotes:
    """Batches `QueuedEvent`s into `NoteEventsQueued` messages handed to `send`."""

    def __init__(self, send: Callable[[NoteEventsQueued], Awaitable[None]]) -> None:
        self._send = send
        self._batch: list[QueuedEvent] = []
        self._sent: asyncio.Future[None] | None = None
        self._publisher: asyncio.Task[None] | None = None

    async def note(self, event: QueuedEvent) -> None:
        """Return once the note's batch is sent (or could not be: notes are best effort, the
        event itself is safe in its lane either way)."""
        loop = asyncio.get_running_loop()
        self._batch.append(event)
        if self._sent is None:
            self._sent = loop.create_future()
        sent = self._sent
        if self._publisher is None or self._publisher.done():
            self._publisher = loop.create_task(self._publish(), name="queued-notes")
        await asyncio.shield(sent)

    async def _publish(self) -> None:
        while self._batch:
            # One loop turn: the requests answered in this one join the batch.
            await asyncio.sleep(0)
            batch, sent = self._batch, self._sent
            self._batch, self._sent = [], None
            try:
                for start in range(0, len(batch), MAX_QUEUED_NOTES):
                    chunk = batch[start : start + MAX_QUEUED_NOTES]
                    await self._send(NoteEventsQueued(actor=SYSTEM, events=chunk))
            except Exception:
                log.exception("could not note %d events as queued", len(batch))
            finally:
                assert sent is not None
                sent.set_result(None)


# How long a gateway remembers an event it answered 202 (policy has its note long before).
REMEMBERED_S = 60.0
MAX_REMEMBERED = 100_000


class AcceptedEvents:
    """Events this gateway answered 202 lately, for a `GET /events/{id}` that reaches policy
    before their note does."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._events: OrderedDict[UUID, tuple[float, QueuedEvent]] = OrderedDict()

    def remember(self, event: QueuedEvent) -> None:
        """An event was answered 202."""
        now = self.clock()
        while self._events and (
            len(self._events) >= MAX_REMEMBERED or next(iter(self._events.values()))[0] <= now
        ):
            self._events.popitem(last=False)
        self._events[event.event_id] = (now + REMEMBERED_S, event)

    def queued(self, event_id: UUID, actor: Actor) -> EventStatus | None:
        """The event as `queued`, if it was answered 202 here lately and `actor` may see it
        (as in policy: an API key sees only the events it sent)."""
        entry = self._events.get(event_id)
        if entry is None or entry[0] <= self.clock():
            return None
        event = entry[1]
        if actor.kind == "api_key" and event.sender_id != actor.id:
            return None
        return EventStatus(event_id=event_id, status="queued", event_kind=event.event_kind)
