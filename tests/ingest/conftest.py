"""Fixtures of the gateway's HTTP tests.

`stack` runs every test on SQLite and again on PostgreSQL; what cannot depend on the engine
(the HTTP layer, the gateway's cache, the broker's behaviour) runs on SQLite only, through
the `sqlite_…` fixtures (`stack` itself is tests/conftest.py's).
"""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.databases import sqlite_url
from tests.support.stack import Stack, memory_stack, real_stack

# Short enough that waiting out a paused lane costs little, long enough for management RPCs.
IMPATIENT_RPC_TIMEOUT_S = 1.0


@pytest.fixture
async def sqlite_stack(tmp_path: Path) -> AsyncIterator[Stack]:
    """The whole stack in memory, on SQLite only."""
    async with memory_stack(sqlite_url(tmp_path)) as running:
        yield running


@pytest.fixture
async def sqlite_rabbit_stack(tmp_path: Path, amqp_url: str) -> AsyncIterator[Stack]:
    """The stack on the real RabbitMQ, on SQLite only."""
    async with real_stack(sqlite_url(tmp_path), amqp_url) as running:
        yield running


@pytest.fixture
async def impatient_rabbit_stack(database_url: str, amqp_url: str) -> AsyncIterator[Stack]:
    """The stack on the real RabbitMQ, each engine, ingest waiting only briefly for policy."""
    async with real_stack(database_url, amqp_url, rpc_timeout_s=IMPATIENT_RPC_TIMEOUT_S) as running:
        yield running


@pytest.fixture
async def impatient_sqlite_rabbit_stack(tmp_path: Path, amqp_url: str) -> AsyncIterator[Stack]:
    """`impatient_rabbit_stack` on SQLite only."""
    async with real_stack(
        sqlite_url(tmp_path), amqp_url, rpc_timeout_s=IMPATIENT_RPC_TIMEOUT_S
    ) as running:
        yield running


@pytest.fixture
async def ci(stack: Stack) -> dict[str, str]:
    """Headers of a new API key, as CI sends them."""
    return stack.auth(await stack.api_key())


@pytest.fixture
async def sqlite_ci(sqlite_stack: Stack) -> dict[str, str]:
    """Headers of a new API key on `sqlite_stack`."""
    return sqlite_stack.auth(await sqlite_stack.api_key())
