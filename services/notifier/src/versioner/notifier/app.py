"""The notifier service: a FastStream app delivering domain events to its channels."""

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime

from faststream import FastStream
from faststream.rabbit import RabbitBroker

from versioner.common.broker import failover
from versioner.common.messages.notifier import DeliveryFailed
from versioner.common.topology import Topology
from versioner.common.types import utcnow
from versioner.notifier.crypto import Sealer
from versioner.notifier.db import Database
from versioner.notifier.deliveries import Deliverer
from versioner.notifier.egress import AllowList, Egress, Resolver, SystemResolver
from versioner.notifier.handlers import register
from versioner.notifier.settings import NotifierSettings
from versioner.notifier.subscriptions import Bindings
from versioner.notifier.tables import Delivery
from versioner.notifier.topology import rabbit_exchange, rabbit_queue
from versioner.notifier.transport import Sleep

log = logging.getLogger("versioner.notifier")


def build_broker(settings: NotifierSettings) -> RabbitBroker:
    """The broker connection, per-message logs at DEBUG."""
    plan = failover(settings.amqp_url)
    broker = RabbitBroker(
        plan.first,
        log_level=logging.DEBUG,
        graceful_timeout=30.0,
        app_id="versioner-notifier",
        reconnect_interval=plan.reconnect_interval,
        fail_fast=plan.fail_fast,
    )
    # faststream hands its connection keywords to aio-pika's `connect_robust` as they are,
    # and its constructor takes no connection class: the one failing over between the
    # cluster's nodes is set here.
    broker._connection_kwargs["connection_class"] = plan.connection_class
    return broker


class NotifierService:
    """The notifier's parts wired together: broker handlers, database, the ways out."""

    def __init__(
        self,
        settings: NotifierSettings,
        *,
        broker: RabbitBroker | None = None,
        resolver: Resolver | None = None,
        now: Callable[[], datetime] = utcnow,
        sleep: Sleep | None = None,
    ) -> None:
        if settings.secret_key is None:
            raise SystemExit(
                "VERSIONER_SECRET_KEY is not set: the notifier seals channel secrets with it "
                "(make run generates one into ./var/secret-key)"
            )
        self.settings = settings
        self.broker = broker or build_broker(settings)
        self.db = Database(settings.notifier_database_url)
        self.egress = Egress(
            resolver or SystemResolver(), AllowList.parse(settings.webhook_allow_hosts)
        )
        self.deliverer = Deliverer(
            db=self.db,
            sealer=Sealer(settings.secret_key.get_secret_value()),
            egress=self.egress,
            public_url=settings.base_url,
            slack_api_url=settings.slack_api_url,
            now=now,
            dead_letter=self._dead_letter,
            concurrency=settings.delivery_concurrency,
        )
        if sleep is not None:
            self.deliverer.sleep = sleep
        self._topology = Topology(settings.names)
        self._dead = rabbit_exchange(self._topology.dead_letters)
        register(self.broker, settings.names, self.deliverer)
        self.bindings: Bindings | None = None
        self._reconcile: asyncio.Task[None] | None = None

    async def _dead_letter(self, delivery: Delivery, reason: str) -> None:
        message = DeliveryFailed(
            delivery_id=delivery.id,
            channel_id=delivery.channel_id,
            event_id=delivery.event_id,
            event_type=delivery.event_type,
            attempts=delivery.attempts,
            status_code=delivery.status_code,
            error=reason,
        )
        try:
            await self.broker.publish(
                message,
                exchange=self._dead,
                headers={"versioner-dead-reason": "delivery-failed"},
                persist=True,
                mandatory=False,
            )
        except Exception:  # the delivery log has it anyway
            log.exception("could not dead-letter delivery %s", delivery.id)

    async def prepare(self) -> None:
        """Migrate the database."""
        await self.db.migrate()

    async def started(self) -> None:
        """After the broker started: declare the dead-letter exchange it publishes to, and bind
        the events queue to just the events some channel wants."""
        await self.broker.declare_exchange(self._dead)
        self.bindings = Bindings(
            self.db,
            await self.broker.declare_queue(rabbit_queue(self._topology.notifier_events)),
            await self.broker.declare_exchange(rabbit_exchange(self._topology.events)),
        )
        await self.bindings.sync()
        self.deliverer.channels_changed = self.bindings.sync
        self._reconcile = asyncio.create_task(self.bindings.run(), name="notifier-bindings")
        log.info("notifier ready, listening on %s", self.settings.names.notifier_queue)

    async def close(self) -> None:
        """Close the ways out and the database."""
        if self._reconcile is not None:
            self._reconcile.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reconcile
        await self.egress.aclose()
        await self.db.dispose()


def create_app(settings: NotifierSettings | None = None) -> FastStream:
    """The notifier as a FastStream app, ready to `run()`."""
    service = NotifierService(settings or NotifierSettings())
    app = FastStream(service.broker, logger=log)
    app.on_startup(service.prepare)
    app.after_startup(service.started)
    app.after_shutdown(service.close)
    return app
