"""Fixtures of policy's own tests: a migrated database per test, a frozen clock, `policy`.

Policy's operations are called directly (no broker, no HTTP); `test_handlers.py` shows the same
operations answering through faststream's `TestRabbitBroker`. Builders and readers are in
`tests/support/policy.py`."""

from collections.abc import AsyncIterator
from pathlib import Path
from uuid import uuid4

import asyncpg
import pytest

from tests.support.databases import empty_sqlite_url
from tests.support.policy import (
    T0,
    Policy,
    is_postgres,
    policy_settings,
)
from tests.support.services import POSTGRES_ADMIN_URL
from versioner.policy.context import PolicyContext
from versioner.policy.store.clock import FrozenClock
from versioner.policy.store.db import Database
from versioner.policy.store.migrate import migrate


@pytest.fixture
def clock() -> FrozenClock:
    """Policy's clock, moved only by the test."""
    return FrozenClock(T0)


@pytest.fixture
async def ctx(database_url: str, clock: FrozenClock) -> AsyncIterator[PolicyContext]:
    """Policy's context on a fresh, migrated database (each engine in turn)."""
    db = Database(database_url)
    await migrate(db)
    try:
        yield PolicyContext(settings=policy_settings(database_url), db=db, clock=clock)
    finally:
        await db.dispose()


@pytest.fixture
async def empty_database_url(database_url: str, tmp_path: Path) -> AsyncIterator[str]:
    """A database with no schema at all (SQLite: a new file; PostgreSQL: a new database).

    The suite's PostgreSQL databases are cloned from a migrated template, so the migration
    tests make their own empty one.
    """
    if not is_postgres(database_url):
        yield empty_sqlite_url(tmp_path)
        return
    name = f"versioner_empty_{uuid4().hex[:12]}"
    admin = await asyncpg.connect(POSTGRES_ADMIN_URL)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield database_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        admin = await asyncpg.connect(POSTGRES_ADMIN_URL)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@pytest.fixture
def policy(ctx: PolicyContext, clock: FrozenClock) -> Policy:
    """Policy's operations on the test's database, stamped with the test's clock."""
    return Policy(ctx, clock)
