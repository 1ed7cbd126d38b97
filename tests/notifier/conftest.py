"""Fixtures of the notifier's tests: a fake Slack and a webhook receiver, both on 127.0.0.1."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.databases import sqlite_url
from tests.support.fake_slack import FakeSlack
from tests.support.notifier import (
    SIGNING_SECRET,
    Waits,
    notifier_setup,
)
from tests.support.receiver import Receiver
from tests.support.stack import Stack, memory_stack, real_stack


@pytest.fixture
async def fake_slack(no_proxies: None) -> AsyncIterator[FakeSlack]:
    """A fake Slack accepting `VALID_TOKEN` and any channel."""
    async with FakeSlack() as fake:
        yield fake


@pytest.fixture
def waits() -> Waits:
    """What the notifier would have waited."""
    return Waits()


@pytest.fixture
async def notified(
    tmp_path: Path, database_url: str, fake_slack: FakeSlack, receiver: Receiver, waits: Waits
) -> AsyncIterator[Stack]:
    """The stack in memory with the notifier, on SQLite and on PostgreSQL; Slack and webhooks
    on 127.0.0.1, no waiting."""
    setup = notifier_setup(tmp_path, fake_slack, waits, database_url)
    async with memory_stack(
        database_url, notifier=setup, slack_signing_secret=SIGNING_SECRET
    ) as running:
        yield running


@pytest.fixture
async def notified_rabbit(
    tmp_path: Path, amqp_url: str, fake_slack: FakeSlack, receiver: Receiver, waits: Waits
) -> AsyncIterator[Stack]:
    """The stack on the real RabbitMQ with the notifier."""
    setup = notifier_setup(tmp_path, fake_slack, waits)
    async with real_stack(
        sqlite_url(tmp_path), amqp_url, notifier=setup, slack_signing_secret=SIGNING_SECRET
    ) as running:
        yield running
