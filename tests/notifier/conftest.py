"""Fixtures of the notifier's tests: a fake Slack and a webhook receiver, both on 127.0.0.1."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.databases import sqlite_url
from tests.support.fake_slack import FakeSlack
from tests.support.receiver import Receiver
from tests.support.stack import NotifierSetup, Stack, memory_stack, real_stack


@pytest.fixture
async def fake_slack(no_proxies: None) -> AsyncIterator[FakeSlack]:
    """A fake Slack accepting `VALID_TOKEN` and any channel."""
    async with FakeSlack() as fake:
        yield fake


SIGNING_SECRET = "slack-signing-secret-for-tests"


class Waits(list[float]):
    """Backoff and `Retry-After` in tests: noted, not waited."""

    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def waits() -> Waits:
    """What the notifier would have waited."""
    return Waits()


def _setup(
    tmp_path: Path, fake_slack: FakeSlack, waits: Waits, policy_database_url: str = ""
) -> NotifierSetup:
    # On PostgreSQL the notifier shares policy's database (its own tables and version table);
    # on SQLite it has a file of its own, as `make run` gives it.
    shared = policy_database_url.startswith("postgresql")
    return NotifierSetup(
        database_url=(
            policy_database_url if shared else f"sqlite+aiosqlite:///{tmp_path / 'notifier.db'}"
        ),
        slack_api_url=fake_slack.url,
        sleep=waits,
    )


@pytest.fixture
async def notified(
    tmp_path: Path, database_url: str, fake_slack: FakeSlack, receiver: Receiver, waits: Waits
) -> AsyncIterator[Stack]:
    """The stack in memory with the notifier, on SQLite and on PostgreSQL; Slack and webhooks
    on 127.0.0.1, no waiting."""
    setup = _setup(tmp_path, fake_slack, waits, database_url)
    async with memory_stack(
        database_url, notifier=setup, slack_signing_secret=SIGNING_SECRET
    ) as running:
        yield running


@pytest.fixture
async def notified_rabbit(
    tmp_path: Path, amqp_url: str, fake_slack: FakeSlack, receiver: Receiver, waits: Waits
) -> AsyncIterator[Stack]:
    """The stack on the real RabbitMQ with the notifier."""
    setup = _setup(tmp_path, fake_slack, waits)
    async with real_stack(
        sqlite_url(tmp_path), amqp_url, notifier=setup, slack_signing_secret=SIGNING_SECRET
    ) as running:
        yield running
