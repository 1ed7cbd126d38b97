"""The outbox relay: committed rows published in order, marked sent, one relay at a time."""

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar, cast

import pytest
from pydantic import BaseModel
from sqlalchemy import Connection

from tests.support.policy import Policy, outbox, recorded_build
from versioner.common import logs
from versioner.common.names import EVENT_ID_HEADER, REQUEST_ID_HEADER
from versioner.policy.store.clock import FrozenClock
from versioner.policy.store.db import Database
from versioner.policy.store.outbox import Exchange, OutboxRelay, backlog, enqueue_in

Published = tuple[Exchange, str, str]
T = TypeVar("T")


class _Broker:
    """A publish function that records what it was given, failing when told to."""

    def __init__(self, *, fail_on: str | None = None) -> None:
        self.published: list[Published] = []
        self.headers: list[dict[str, Any]] = []
        self.fail_on = fail_on
        self.arrived = asyncio.Event()
        self.after_publish: list[Callable[[], None]] = []

    async def __call__(
        self, exchange: Exchange, routing_key: str, body: str, headers: dict[str, Any]
    ) -> None:
        if routing_key == self.fail_on:
            self.fail_on = None
            raise ConnectionError("broker went away")
        self.published.append((exchange, routing_key, body))
        self.headers.append(headers)
        for hook in self.after_publish:
            hook()
        self.arrived.set()


class _CrashesBeforeMarking(Database):
    """A database whose first transaction after a publish fails: the relay crashed before
    it could mark the published rows sent."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.armed = False
        self.crashed = False

    def arm(self) -> None:
        """A row went out: the next transaction is the one that marks it sent."""
        if not self.crashed:
            self.armed = True

    async def run(self, work: Callable[[Connection], T], *, urgent: bool = False) -> T:
        """Fail once when armed, then behave."""
        if self.armed:
            self.armed = False
            self.crashed = True
            raise ConnectionError("crashed before marking the rows sent")
        return await super().run(work, urgent=urgent)


async def _three_rows(policy: Policy) -> list[Published]:
    recorded_build(await policy.build("api", "1.0.0", "started", invoke_id="r"))
    recorded_build(await policy.build("api", "1.0.0", "completed", invoke_id="r"))
    recorded_build(await policy.build("web", "1.0.0", "failed"))
    return [
        (cast("Exchange", row.exchange), row.routing_key, row.body)
        for row in await outbox(policy.ctx)
    ]


async def test_drain_publishes_rows_in_id_order_and_marks_them_sent(policy: Policy) -> None:
    expected = await _three_rows(policy)
    assert [key for _, key, _ in expected] == ["build.started", "build.completed", "build.failed"]
    broker = _Broker()
    relay = OutboxRelay(policy.ctx.db, broker, policy.clock)
    policy.clock.advance(seconds=1)
    assert await relay.drain() == 3
    assert broker.published == expected
    assert {row.sent_at for row in await outbox(policy.ctx)} == {policy.clock.now()}


async def test_a_second_drain_publishes_nothing_again(policy: Policy) -> None:
    await _three_rows(policy)
    broker = _Broker()
    relay = OutboxRelay(policy.ctx.db, broker, policy.clock)
    await relay.drain()
    assert await relay.drain() == 0
    assert len(broker.published) == 3


async def test_a_failed_publish_leaves_the_rows_for_a_later_drain(policy: Policy) -> None:
    expected = await _three_rows(policy)
    broker = _Broker(fail_on="build.completed")
    relay = OutboxRelay(policy.ctx.db, broker, policy.clock)
    with pytest.raises(ConnectionError):
        await relay.drain()
    assert all(row.sent_at is None for row in await outbox(policy.ctx))
    before = len(broker.published)
    assert await relay.drain() == 3
    # At least once: what went out before the failure goes out again, in order.
    assert broker.published[before:] == expected
    assert all(row.sent_at is not None for row in await outbox(policy.ctx))


async def test_a_crash_between_publish_and_mark_publishes_again(
    policy: Policy, database_url: str
) -> None:
    expected = await _three_rows(policy)
    broker = _Broker()
    crashing = _CrashesBeforeMarking(database_url)
    broker.after_publish.append(crashing.arm)
    try:
        relay = OutboxRelay(crashing, broker, policy.clock)
        with pytest.raises(ConnectionError):
            await relay.drain()
        assert broker.published == expected
        assert all(row.sent_at is None for row in await outbox(policy.ctx))
        assert await relay.drain() == 3
    finally:
        await crashing.dispose()
    assert broker.published == expected + expected
    assert all(row.sent_at is not None for row in await outbox(policy.ctx))


async def test_one_relay_holds_the_lease_until_it_expires(policy: Policy) -> None:
    clock = policy.clock
    first = OutboxRelay(policy.ctx.db, _Broker(), clock, lease_s=15)
    second = OutboxRelay(policy.ctx.db, _Broker(), clock, lease_s=15)
    assert await first.hold_lease()
    assert not await second.hold_lease()
    clock.advance(seconds=10)
    assert await first.hold_lease()  # renewed: 15 s from now
    clock.advance(seconds=10)
    assert not await second.hold_lease()
    clock.advance(seconds=6)
    assert await second.hold_lease()
    assert not await first.hold_lease()


async def test_a_woken_relay_publishes_what_was_just_committed(
    policy: Policy, clock: FrozenClock
) -> None:
    broker = _Broker()
    relay = OutboxRelay(policy.ctx.db, broker, clock, poll_s=60)
    policy.ctx.wake_relay = relay.wake
    task = asyncio.create_task(relay.run())
    try:
        recorded_build(await policy.build("api", "1.0.0", "completed"))
        await asyncio.wait_for(broker.arrived.wait(), timeout=5)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert [key for _, key, _ in broker.published] == ["build.completed"]


class _Note(BaseModel):
    """A message written for one event."""

    written_for: str


async def test_each_row_goes_out_with_the_ids_of_the_event_it_was_written_for(
    policy: Policy,
) -> None:
    """Works queued at once commit in one batch written by one task (SQLite's group commit);
    each row still carries its own event's and request's ids."""

    async def write(n: int) -> None:
        with logs.bound(event_id=f"e-{n}", request_id=f"r-{n}"):
            note = _Note(written_for=f"e-{n}")
            await policy.ctx.db.run(lambda conn: enqueue_in(conn, note, "note"))

    await asyncio.gather(*(write(n) for n in range(6)))
    broker = _Broker()
    await OutboxRelay(policy.ctx.db, broker, policy.clock).drain()
    assert len(broker.published) == 6
    for (_, _, body), headers in zip(broker.published, broker.headers, strict=True):
        event_id = _Note.model_validate_json(body).written_for
        assert headers == {EVENT_ID_HEADER: event_id, REQUEST_ID_HEADER: "r-" + event_id[2:]}


async def test_the_backlog_counts_unsent_rows_and_dates_the_oldest(policy: Policy) -> None:
    assert await policy.ctx.db.run(backlog) == (0, None)
    await _three_rows(policy)
    count, oldest = await policy.ctx.db.run(backlog)
    assert count == 3
    assert oldest is not None
    assert oldest.tzinfo is not None
    await OutboxRelay(policy.ctx.db, _Broker(), policy.clock).drain()
    assert await policy.ctx.db.run(backlog) == (0, None)
