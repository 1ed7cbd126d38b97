"""Fixtures for the whole suite: a database on each engine, the stack on each broker."""

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.databases import drop_pooled, postgres_database, sqlite_url
from tests.support.services import AMQP_URL, postgres_answers, rabbit_answers, require
from tests.support.stack import Stack, memory_stack, real_stack


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh, empty policy database on SQLite and again on PostgreSQL."""
    if request.param == "sqlite":
        yield sqlite_url(tmp_path)
        return
    require(postgres_answers(), "PostgreSQL")
    async with postgres_database() as url:
        yield url


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Leave no test database behind."""
    if postgres_answers():
        asyncio.run(drop_pooled())


@pytest.fixture
def amqp_url() -> str:
    """The real RabbitMQ (each test isolates itself with its own broker prefix)."""
    require(rabbit_answers(), "RabbitMQ")
    return AMQP_URL


@pytest.fixture
async def stack(database_url: str) -> AsyncIterator[Stack]:
    """The whole stack in memory, on each database engine."""
    async with memory_stack(database_url) as running:
        yield running


@pytest.fixture
async def rabbit_stack(database_url: str, amqp_url: str) -> AsyncIterator[Stack]:
    """The whole stack on the real RabbitMQ, on each database engine."""
    async with real_stack(database_url, amqp_url) as running:
        yield running
