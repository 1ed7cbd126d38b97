"""The policy service: a FastStream app owning the domain database."""

import asyncio
import contextlib
import logging
import secrets
from typing import Any

from faststream import FastStream
from faststream.rabbit import RabbitBroker
from pydantic import SecretStr
from sqlalchemy import func, text
from sqlmodel import col, select

from versioner.common.broker import failover
from versioner.common.metrics import DEAD_LETTERS
from versioner.common.roles import Role
from versioner.policy.context import PolicyContext
from versioner.policy.deployments.closing import sweep_timeouts
from versioner.policy.deployments.lanes import LaneConsumer
from versioner.policy.handlers import register
from versioner.policy.metrics import LANE_BACKLOG, OUTBOX_BACKLOG, OUTBOX_OLDEST_AGE
from versioner.policy.settings import PolicySettings
from versioner.policy.store import outbox
from versioner.policy.store.clock import Clock, SystemClock
from versioner.policy.store.db import Database
from versioner.policy.store.migrate import migrate
from versioner.policy.store.outbox import Exchange, OutboxRelay
from versioner.policy.store.tables import User
from versioner.policy.store.topology import credentials_exchange, declare, events_exchange

log = logging.getLogger("versioner.policy")

# How often the gauges read at the source (outbox, queue depths) are read again.
_SAMPLE_S = 5.0


def build_broker(settings: PolicySettings) -> RabbitBroker:
    """The broker connection, with per-message logs at DEBUG (they cost throughput)."""
    plan = failover(settings.amqp_url)
    broker = RabbitBroker(
        plan.first,
        log_level=logging.DEBUG,
        graceful_timeout=10.0,
        app_id="versioner-policy",
        reconnect_interval=plan.reconnect_interval,
        fail_fast=plan.fail_fast,
    )
    # faststream hands its connection keywords to aio-pika's `connect_robust` as they are,
    # and its constructor takes no connection class: the one failing over between the
    # cluster's nodes is set here.
    broker._connection_kwargs["connection_class"] = plan.connection_class
    return broker


async def ensure_bootstrap_token(ctx: PolicyContext) -> str | None:
    """While no admin exists, make sure a bootstrap token is set; a generated one is returned."""
    async with ctx.db.read() as session:
        admins = (
            await session.execute(
                select(func.count())
                .select_from(User)
                .where(col(User.role) == Role.ADMIN, col(User.active))
            )
        ).scalar_one()
    if admins or ctx.settings.bootstrap_token is not None:
        return None
    token = f"pat_{secrets.token_urlsafe(30)}"
    ctx.settings.bootstrap_token = SecretStr(token)
    return token


class PolicyService:
    """Policy's parts wired together: broker handlers, database, outbox relay."""

    def __init__(
        self,
        settings: PolicySettings,
        *,
        clock: Clock | None = None,
        broker: RabbitBroker | None = None,
    ) -> None:
        self.settings = settings
        self.broker = broker or build_broker(settings)
        self.ctx = PolicyContext(
            settings=settings, db=Database(settings.database_url), clock=clock or SystemClock()
        )
        register(self.broker, self.ctx)
        self.lanes = LaneConsumer(self.ctx, settings.amqp_url, settings.names)
        self.relay = OutboxRelay(
            self.ctx.db, self._publish, self.ctx.clock, poll_s=settings.relay_poll_s
        )
        self.ctx.wake_relay = self.relay.wake
        self._exchanges = {
            "events": events_exchange(settings.names),
            "credentials": credentials_exchange(settings.names),
        }
        self._tasks: list[asyncio.Task[None]] = []

    async def _publish(
        self, exchange: Exchange, routing_key: str, body: str, headers: dict[str, Any]
    ) -> None:
        if self.lanes.started:
            await self.lanes.announce(exchange, routing_key, body.encode(), headers)
            return
        # Not connected to a real broker (faststream's TestRabbitBroker in tests).
        await self.broker.publish(
            body.encode(),
            exchange=self._exchanges[exchange],
            routing_key=routing_key,
            persist=True,
            mandatory=False,
            content_type="application/json",
            headers=headers,
        )

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(self.settings.timeout_sweep_s)
            try:
                await sweep_timeouts(self.ctx)
            except Exception:
                log.exception("closing timed-out deployments failed; trying again later")

    async def sample(self) -> None:
        """Read the gauges Prometheus shows: the outbox's backlog and its oldest row's age,
        what waits in the lanes and in the dead-letter queue."""
        count, oldest = await self.ctx.db.run(outbox.backlog)
        OUTBOX_BACKLOG.set(count)
        age = (self.ctx.clock.now() - oldest).total_seconds() if oldest is not None else 0.0
        OUTBOX_OLDEST_AGE.set(max(age, 0.0))
        if (depths := await self.lanes.depths()) is not None:
            LANE_BACKLOG.set(depths[0])
            DEAD_LETTERS.labels(queue=self.settings.names.dead_letter_queue).set(depths[1])

    async def _sample(self) -> None:
        while True:
            try:
                await self.sample()
            except Exception:
                log.warning("reading the metrics' gauges failed; trying again", exc_info=True)
            await asyncio.sleep(_SAMPLE_S)

    async def prepare(self) -> str | None:
        """Migrate the database; a bootstrap token generated for the first admin, if one was."""
        await migrate(self.ctx.db)
        # Open the writer connection now, not inside the first verdict's deadline.
        await self.ctx.db.run(lambda conn: conn.execute(text("SELECT 1")))
        return await ensure_bootstrap_token(self.ctx)

    async def started(self) -> None:
        """After the broker started: declare what policy publishes to, consume the lanes,
        start the relay."""
        await declare(self.broker, self.settings.names)
        await self.lanes.start()
        self._tasks = [
            asyncio.create_task(self.relay.run(), name="outbox-relay"),
            asyncio.create_task(self._sweep(), name="timeout-sweep"),
        ]
        if self.settings.metrics_port:
            self._tasks.append(asyncio.create_task(self._sample(), name="metrics-sampler"))
        log.info(
            "policy ready: %d lanes, %s database", self.settings.policy_lanes, self.ctx.db.dialect
        )

    async def close(self) -> None:
        """Stop the lanes and the relay, and close the database."""
        await self.lanes.close()
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.ctx.db.dispose()


def create_app(settings: PolicySettings | None = None, *, clock: Clock | None = None) -> FastStream:
    """The policy service as a FastStream app, ready to `run()`."""
    service = PolicyService(settings or PolicySettings(), clock=clock)
    app = FastStream(service.broker, logger=log)

    @app.on_startup
    async def prepare() -> None:
        if token := await service.prepare():
            # Printed, not logged: the operator needs it once, and logs get shipped elsewhere.
            print(f"Bootstrap admin token (until the first admin exists): {token}", flush=True)  # noqa: T201

    app.after_startup(service.started)
    app.after_shutdown(service.close)
    return app
