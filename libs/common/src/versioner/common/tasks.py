"""Work that must not be cut halfway by a cancelled consumer."""

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")
# Work still finishing after its consumer was cancelled, kept referenced until it ends.
FINISHING: set[asyncio.Task[Any]] = set()


async def to_the_end(work: Coroutine[Any, Any, T]) -> T:
    """Run a message's work to its end even if its consumer is cancelled meanwhile (faststream
    cancels a handler when the broker closes the connection mid-message). Cut halfway, a
    transaction kept the notifier's one SQLite connection checked out with its write lock
    held, and every later event failed with `database is locked` until a restart
    (tests/faults/test_broker_restart.py). The cancelled message is not acked: it comes again
    after the reconnect, and its handling is idempotent (an event's deliveries, a command's
    event log)."""
    task = asyncio.ensure_future(work)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        if not task.done():
            FINISHING.add(task)
            task.add_done_callback(FINISHING.discard)
        raise
