"""Fixtures for the whole suite: a database on each engine, the stack on each broker."""

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.databases import drop_pooled, postgres_database, sqlite_url
from tests.support.receiver import Receiver
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


# Folders whose every test runs RabbitMQ nodes or real services of its own (the fault suite,
# `make run` and the end-to-end paths).
_RABBIT_FOLDERS = frozenset({"faults", "e2e"})
_TESTS = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test with what it needs besides Python (`make test-fast` leaves them out):
    `rabbit` (the real RabbitMQ: the `amqp_url` fixture, directly or through another, or a
    folder of real services), `browser` (Chromium); `postgres` comes with `database_url`'s
    PostgreSQL half."""
    for item in items:
        folder = item.path.relative_to(_TESTS).parts[0]
        if "amqp_url" in getattr(item, "fixturenames", ()) or folder in _RABBIT_FOLDERS:
            item.add_marker(pytest.mark.rabbit)
        if folder == "browser":
            item.add_marker(pytest.mark.browser)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Leave no test database behind."""
    if postgres_answers():
        asyncio.run(drop_pooled())


# The notifier's HTTP clients would take a proxy from these; every test talks to 127.0.0.1.
PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY")


@pytest.fixture
def no_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    """No proxy in the environment: local receivers and fakes are reached directly."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
async def receiver(no_proxies: None) -> AsyncIterator[Receiver]:
    """A webhook receiver on 127.0.0.1, answering 200 unless scripted otherwise."""
    async with Receiver() as running:
        yield running


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
