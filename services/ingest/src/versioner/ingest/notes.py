"""Events answered 202 are noted to policy together: one message for all of a moment's.

`GET /events/{id}` shows an event answered 202 as `queued` until its lane records it, so
policy must have written that down before the 202 goes out. Under load most facts are
answered 202 (`gateway.FACT_WAITERS`): a message and a transaction in policy for each would
cost more than the fact itself (issue 8). Notes made while the previous batch is on its way
wait for it and go together, as a database's group commit does; each caller returns once
`send` is done with its batch.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable

from versioner.common.messages.actor import SYSTEM
from versioner.common.messages.management import (
    MAX_QUEUED_NOTES,
    NoteEventsQueued,
    QueuedEvent,
)

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
