"""The ingest gateway: the only HTTP face of Versioner."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI

from versioner.common.metrics import announce
from versioner.ingest.auth import Authenticator, CredentialCache
from versioner.ingest.gateway import PolicyGateway
from versioner.ingest.intake import EventIntake
from versioner.ingest.metrics import prepare as prepare_metrics
from versioner.ingest.openapi import describe_errors
from versioner.ingest.routes import (
    accounts,
    approvals,
    audit,
    buttons,
    catalog,
    channels,
    events,
    health,
    incidents,
    insights,
    metrics,
    requests,
    rules,
    slack,
)
from versioner.ingest.rpc import AmqpPolicyClient, PolicyClient
from versioner.ingest.settings import IngestSettings
from versioner.ingest.ui import mount as ui
from versioner.ingest.ui.session import SessionCodec
from versioner.ingest.web import install

log = logging.getLogger("versioner.ingest")

# While policy is silent, how often to ask again; while it answers, how often to check.
_PING_DOWN_S = 1.0
_PING_UP_S = 5.0

# Given the credential cache, returns a policy client ready to use and a way to close it.
ClientFactory = Callable[
    [IngestSettings, CredentialCache], Awaitable[tuple[PolicyClient, Callable[[], Awaitable[None]]]]
]


async def amqp_client(
    settings: IngestSettings, cache: CredentialCache
) -> tuple[PolicyClient, Callable[[], Awaitable[None]]]:
    """The real client: aio-pika on `VERSIONER_AMQP_URL`, hearing credential broadcasts."""
    client = AmqpPolicyClient(settings.amqp_url, settings.names)
    await client.connect()

    async def on_broadcast(body: bytes) -> None:
        cache.on_broadcast(body)

    await client.listen_for_credentials(on_broadcast)
    # A broadcast missed while disconnected would leave a revoked token cached: forget all.
    client.connection.reconnect_callbacks.add(lambda *_: cache.clear())
    return client, client.close


async def _watch_policy(gateway: PolicyGateway) -> None:
    while True:
        await gateway.ping(1.0)
        await gateway.resend_abandoned()
        await asyncio.sleep(_PING_DOWN_S if gateway.health.down else _PING_UP_S)


def create_app(
    settings: IngestSettings | None = None, *, client_factory: ClientFactory = amqp_client
) -> FastAPI:
    """The FastAPI app; `client_factory` binds it to policy (in tests, in memory)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Read when the app starts (see `bind`), as every handler reads them: from app.state.
        settings: IngestSettings = app.state.settings
        factory: ClientFactory = app.state.client_factory
        announce("ingest")
        prepare_metrics()
        cache = CredentialCache(ttl=settings.credential_cache_s)
        client, close = await factory(settings, cache)
        gateway = PolicyGateway(client, settings.names, settings.rpc_timeout_s)
        app.state.gateway = gateway
        app.state.authenticator = Authenticator(gateway, cache)
        secret = settings.session_secret.get_secret_value() if settings.session_secret else None
        app.state.session_codec = SessionCodec(secret)
        # Slack clicks being handed to policy after their 200 (kept so none is collected).
        app.state.slack_tasks = set()
        watcher = asyncio.create_task(_watch_policy(gateway), name="policy-watch")
        log.info("ingest ready on %s", settings.base_url)
        try:
            yield
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
            await close()

    app = FastAPI(
        title="Versioner",
        summary="Deployment tracking and policy gate, compatible with Versioner's event API.",
        version="0.1.0",
        lifespan=lifespan,
        redirect_slashes=False,
        # FastAPI's built-in OpenTelemetry hooks look for a configured provider on every
        # request (2–3 % of the gateway's CPU on the gate's path, issue 8); none is configured.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    # Innermost of the middleware: the event endpoints' short way in, once the body is read.
    app.add_middleware(EventIntake)
    install(app)
    # Approvals before the catalog: `/versions/{id}/approvals` must not read as a version id.
    for module in (
        events,
        rules,
        requests,
        approvals,
        catalog,
        accounts,
        audit,
        insights,
        incidents,
        channels,
        buttons,
        slack,
        health,
        metrics,
    ):
        app.include_router(module.router)
    ui.install(app)
    describe_errors(app)
    bind(app, settings or IngestSettings(), client_factory)
    return app


def bind(app: FastAPI, settings: IngestSettings, client_factory: ClientFactory) -> None:
    """What the app serves with, taken when it next starts: its settings and how it reaches
    policy. Building the app is most of its start-up cost (FastAPI prepares every route's
    fields for each app), so a process that serves one installation after another — the
    test suite — binds one built app again rather than building a new one."""
    app.state.settings = settings
    app.state.client_factory = client_factory
