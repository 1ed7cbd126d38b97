"""Fixtures for the whole suite: one stack over transport × database, like faststream's
test matrix.

`stack` is the whole installation (policy and ingest) on a `transport` — `memory`
(faststream's `TestRabbitBroker`) or `rabbit` (the real RabbitMQ) — and a `database_url` —
`sqlite` or `postgres`. A test runs on memory × both engines unless it says otherwise:

    @pytest.mark.transports("memory", "rabbit")   # the same flow on both transports
    @pytest.mark.databases("sqlite")              # what cannot depend on the engine
    @pytest.mark.ingest(rpc_timeout_s=1.0)        # ingest settings of this test's stack

Each combination carries the markers of what it needs (`rabbit`, `postgres`), which
`make test-fast` leaves out.

The services are imported inside the fixtures that start them: pytest-xdist's controller loads
this file too, and importing all three services before it starts its workers cost three
seconds of every run.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.support.services import AMQP_URL, postgres_answers, rabbit_answers, require

if TYPE_CHECKING:
    from tests.support.receiver import Receiver
    from tests.support.stack import Stack

TRANSPORTS = ("memory", "rabbit")
DATABASES = ("sqlite", "postgres")
# What each choice needs besides Python, as a marker.
_NEEDS = {"rabbit": pytest.mark.rabbit, "postgres": pytest.mark.postgres}


def _choices(metafunc: pytest.Metafunc, marker: str, known: tuple[str, ...]) -> list[Any]:
    found = metafunc.definition.get_closest_marker(marker)
    chosen = found.args if found else known if marker == "databases" else known[:1]
    unknown = set(chosen) - set(known)
    assert not unknown, f"@pytest.mark.{marker}: {sorted(unknown)} is none of {known}"
    return [pytest.param(name, marks=_NEEDS[name]) if name in _NEEDS else name for name in chosen]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """The matrix: each test on the transports and databases it asks for (by marker)."""
    if "transport" in metafunc.fixturenames:
        metafunc.parametrize(
            "transport", _choices(metafunc, "transports", TRANSPORTS), indirect=True
        )
    if "database_url" in metafunc.fixturenames:
        metafunc.parametrize(
            "database_url", _choices(metafunc, "databases", DATABASES), indirect=True
        )


@pytest.fixture
def transport(request: pytest.FixtureRequest) -> str:
    """How policy and ingest meet: `memory` or `rabbit` (the real RabbitMQ)."""
    name: str = request.param
    if name == "rabbit":
        require(rabbit_answers(), "RabbitMQ")
    return name


@pytest.fixture
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh, empty policy database on SQLite, or on PostgreSQL."""
    from tests.support.databases import postgres_database, sqlite_url

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
        from tests.support.databases import drop_pooled

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
    from tests.support.receiver import Receiver

    async with Receiver() as running:
        yield running


@pytest.fixture
def amqp_url() -> str:
    """The real RabbitMQ (each test isolates itself with its own broker prefix)."""
    require(rabbit_answers(), "RabbitMQ")
    return AMQP_URL


@pytest.fixture
async def stack(
    request: pytest.FixtureRequest, transport: str, database_url: str
) -> AsyncIterator[Stack]:
    """The whole stack on this test's transport and database (and its `ingest` settings)."""
    from tests.support.stack import memory_stack, real_stack

    found = request.node.get_closest_marker("ingest")
    ingest: dict[str, Any] = dict(found.kwargs) if found else {}
    if transport == "memory":
        async with memory_stack(database_url, **ingest) as running:
            yield running
    else:
        async with real_stack(database_url, AMQP_URL, **ingest) as running:
            yield running


@pytest.fixture
async def ci(stack: Stack) -> dict[str, str]:
    """Headers of a new API key, as CI sends them."""
    return stack.auth(await stack.api_key())
