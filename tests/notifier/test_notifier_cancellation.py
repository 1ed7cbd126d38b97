"""A consumer cancelled mid-message (the broker closed the connection) lets its work finish:
its transaction commits and the notifier's one SQLite connection comes back for the next."""

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import text

from versioner.common import tasks
from versioner.notifier.db import Database


async def test_cancelled_work_runs_to_its_end_and_frees_the_connection(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'notifier.db'}")
    async with db.session() as session:
        await session.execute(text("CREATE TABLE scratch (x INTEGER)"))
    inside, release = asyncio.Event(), asyncio.Event()

    async def work() -> str:
        async with db.session() as session:
            await session.execute(text("INSERT INTO scratch VALUES (1)"))
            inside.set()
            await release.wait()
            await session.execute(text("INSERT INTO scratch VALUES (2)"))
        return "done"

    consumer = asyncio.create_task(tasks.to_the_end(work()))
    await inside.wait()
    consumer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await consumer
    [finishing] = tasks.FINISHING
    release.set()
    assert await asyncio.wait_for(finishing, timeout=5) == "done"
    async with asyncio.timeout(5), db.session() as session:
        rows = (await session.execute(text("SELECT x FROM scratch ORDER BY x"))).scalars()
        assert list(rows) == [1, 2]
    assert not tasks.FINISHING
    await db.dispose()


async def test_work_not_cancelled_answers_as_it_would() -> None:
    async def work() -> int:
        return 42

    assert await tasks.to_the_end(work()) == 42
