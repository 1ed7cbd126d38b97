"""The policy service: a FastStream app owning the domain database."""

import asyncio
import contextlib
import logging
import secrets

from faststream import FastStream
from faststream.rabbit import RabbitBroker
from pydantic import SecretStr
from sqlalchemy import func
from sqlmodel import col, select

from versioner.common.roles import Role
from versioner.policy.clock import Clock, SystemClock
from versioner.policy.context import PolicyContext
from versioner.policy.db import Database
from versioner.policy.handlers import register
from versioner.policy.migrate import migrate
from versioner.policy.outbox import Exchange, OutboxRelay
from versioner.policy.settings import PolicySettings
from versioner.policy.tables import User
from versioner.policy.topology import credentials_exchange, declare, events_exchange

log = logging.getLogger("versioner.policy")


def build_broker(settings: PolicySettings) -> RabbitBroker:
    """The broker connection, with per-message logs at DEBUG (they cost throughput)."""
    return RabbitBroker(
        str(settings.amqp_url),
        log_level=logging.DEBUG,
        graceful_timeout=10.0,
        app_id="versioner-policy",
    )


def build_context(settings: PolicySettings, clock: Clock | None = None) -> PolicyContext:
    """Policy's resources."""
    return PolicyContext(
        settings=settings, db=Database(settings.database_url), clock=clock or SystemClock()
    )


async def ensure_bootstrap_token(ctx: PolicyContext) -> str | None:
    """While no admin exists, make sure a bootstrap token is set; a generated one is returned."""
    async with ctx.db.read() as session:
        admins = (
            await session.execute(
                select(func.count()).select_from(User).where(col(User.role) == Role.ADMIN)
            )
        ).scalar_one()
    if admins or ctx.settings.bootstrap_token is not None:
        return None
    token = f"pat_{secrets.token_urlsafe(30)}"
    ctx.settings.bootstrap_token = SecretStr(token)
    return token


def make_relay(ctx: PolicyContext, broker: RabbitBroker) -> OutboxRelay:
    """The outbox relay publishing through this broker connection."""
    names = ctx.settings.names
    exchanges = {"events": events_exchange(names), "credentials": credentials_exchange(names)}

    async def publish(exchange: Exchange, routing_key: str, body: str) -> None:
        await broker.publish(
            body.encode(),
            exchange=exchanges[exchange],
            routing_key=routing_key,
            persist=True,
            mandatory=False,
            content_type="application/json",
        )

    return OutboxRelay(ctx.db, publish, ctx.clock, poll_s=ctx.settings.relay_poll_s)


def create_app(settings: PolicySettings | None = None, *, clock: Clock | None = None) -> FastStream:
    """The policy service, ready to `run()`."""
    settings = settings or PolicySettings()
    broker = build_broker(settings)
    ctx = build_context(settings, clock)
    register(broker, ctx)
    relay = make_relay(ctx, broker)
    ctx.wake_relay = relay.wake
    tasks: list[asyncio.Task[None]] = []
    app = FastStream(broker, logger=log)

    @app.on_startup
    async def prepare() -> None:
        await migrate(ctx.db)
        if token := await ensure_bootstrap_token(ctx):
            # Printed, not logged: the operator needs it once, and logs get shipped elsewhere.
            print(f"Bootstrap admin token (until the first admin exists): {token}", flush=True)  # noqa: T201

    @app.after_startup
    async def start_relay() -> None:
        await declare(broker, settings.names)
        tasks.append(asyncio.create_task(relay.run(), name="outbox-relay"))
        log.info("policy ready: %d lanes, database %s", settings.policy_lanes, ctx.db.dialect)

    @app.after_shutdown
    async def close() -> None:
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await ctx.db.dispose()

    return app
