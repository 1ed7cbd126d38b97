"""Policy's outbox relay stops when cancelled, even as it is being woken."""

import asyncio
from pathlib import Path
from typing import Any

from tests.support.databases import sqlite_url
from versioner.policy.store.clock import SystemClock
from versioner.policy.store.db import Database
from versioner.policy.store.migrate import migrate
from versioner.policy.store.outbox import Exchange, OutboxRelay


async def test_the_relay_stops_when_cancelled_as_it_is_woken(tmp_path: Path) -> None:
    db = Database(sqlite_url(tmp_path))
    await migrate(db)

    async def publish(
        _exchange: Exchange, _routing_key: str, _body: str, _headers: dict[str, Any]
    ) -> None:
        return None

    relay = OutboxRelay(db, publish, SystemClock(), poll_s=60.0)
    task = asyncio.create_task(relay.run())
    try:
        deadline = asyncio.get_running_loop().time() + 5.0
        while not relay._wake._waiters:
            # Until the relay, its first round done, waits for its next wake-up.
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.01)
        relay.wake()
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=1.0)
        assert task in done
    finally:
        while not task.done():
            task.cancel()
            await asyncio.wait({task}, timeout=0.5)
        await db.dispose()
