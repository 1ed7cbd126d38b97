"""Write transactions: each piece of work commits or rolls back alone, batched or not."""

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Connection, insert, select

from versioner.policy.store.db import Database
from versioner.policy.store.migrate import migrate
from versioner.policy.store.sql import table
from versioner.policy.store.tables import Lease

LEASES = table(Lease)
_T0 = datetime(2026, 1, 1, tzinfo=UTC)


class Refused(Exception):
    """Raised by a piece of work that changes its mind."""


def _add(name: str, *, then_fail: bool = False) -> Callable[[Connection], str]:
    def work(conn: Connection) -> str:
        conn.execute(insert(LEASES).values(name=name, holder="test", expires_at=_T0))
        if then_fail:
            raise Refused(name)
        return name

    return work


async def _names(db: Database) -> list[str]:
    return sorted(await db.run(lambda conn: [r[0] for r in conn.execute(select(LEASES.c.name))]))


async def test_work_that_fails_rolls_back_alone_among_many_at_once(database_url: str) -> None:
    db = Database(database_url)
    await migrate(db)
    try:
        outcomes = await asyncio.gather(
            *(db.run(_add(f"w{n}", then_fail=n % 3 == 0)) for n in range(12)),
            return_exceptions=True,
        )
        assert [type(o).__name__ for o in outcomes] == [
            "Refused" if n % 3 == 0 else "str" for n in range(12)
        ]
        assert outcomes[1] == "w1", "each caller gets its own work's value"
        assert await _names(db) == sorted(f"w{n}" for n in range(12) if n % 3)
    finally:
        await db.dispose()


async def test_a_unique_key_clash_fails_only_the_work_that_caused_it(database_url: str) -> None:
    db = Database(database_url)
    await migrate(db)
    try:
        outcomes = await asyncio.gather(
            db.run(_add("same")),
            db.run(_add("same")),
            db.run(_add("other")),
            return_exceptions=True,
        )
        assert sum(isinstance(o, Exception) for o in outcomes) == 1
        assert await _names(db) == ["other", "same"]
    finally:
        await db.dispose()


@pytest.mark.databases("sqlite")
async def test_sqlite_commits_what_is_queued_together(database_url: str) -> None:
    db = Database(database_url)
    await migrate(db)
    batches: list[int] = []
    original = db._write_batch

    def counting(works: list[Callable[[Connection], Any]]) -> list[tuple[bool, Any]]:
        batches.append(len(works))
        return original(works)

    db._write_batch = counting  # type: ignore[method-assign]
    try:
        await asyncio.gather(*(db.run(_add(f"b{n}")) for n in range(10)))
        assert sum(batches) == 10
        assert len(batches) < 10, "work queued while a batch ran goes in the next one together"
    finally:
        await db.dispose()


@pytest.mark.databases("sqlite")
async def test_sqlite_runs_urgent_work_in_the_next_batch_ahead_of_a_backlog(
    database_url: str,
) -> None:
    db = Database(database_url)
    await migrate(db)
    order: list[str] = []

    def noted(name: str) -> Callable[[Connection], str]:
        def work(conn: Connection) -> str:
            order.append(name)
            return _add(name)(conn)

        return work

    try:
        first = asyncio.create_task(db.run(noted("first")))
        await asyncio.sleep(0)  # the writer has taken the first batch
        backlog = [asyncio.create_task(db.run(noted(f"lane{n}"))) for n in range(100)]
        urgent = asyncio.create_task(db.run(noted("note"), urgent=True))
        await asyncio.gather(first, *backlog, urgent)

        assert order[0] == "first"
        assert order[1] == "note", "ahead of the 100 queued before it"
        assert order[2:] == [f"lane{n}" for n in range(100)]
    finally:
        await db.dispose()
