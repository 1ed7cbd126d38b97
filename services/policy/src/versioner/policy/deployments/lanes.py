"""The ordered lanes, consumed with aio-pika directly: the hot path of every pipeline.

Every `deployment started` and every fact passes here, so a message costs only what it must:
one decode of the body (pydantic, from bytes), the transaction, one encode of the reply, one
publish and one ack. faststream's subscriber added 0.25–0.6 ms of CPU per message on top
(its middlewares, and fast_depends resolving a `RabbitMessage` parameter in a worker thread);
faststream keeps the management RPCs, which are not hot (issue 8).

Each lane is a queue with a single active consumer, so one process sees a lane's messages in
the order they were published. It takes up to `IN_FLIGHT` of them at once and keeps the order
where it matters: one product's messages run one after the other (a chain per product name,
joined in delivery order), different products' side by side. With one message at a time per
lane, eight lanes left the machine a third idle at 32 connections (each message waiting for
its batch's commit); now what many products commit meanwhile goes to SQLite in one batch
(`Database.run`).

A message is acked once its transaction committed, even when its reply could not be sent (the
caller then answers by its deadline, and a redelivery would find the event recorded anyway).
A start's verdict is published confirmed: one the broker did not take never reached the
gateway, which answered 503, so the start is closed here as abandoned without waiting for
the gateway's `DeploymentStartAbandoned` (which dies with the gateway if it is killed too).
A body that is not a lane message is dead-lettered at once. A handler that fails (the
database busy, say) is tried again here after a pause that doubles each time, holding its
product's chain so that nothing of that product overtakes it, and dead-lettered after
`DELIVERY_LIMIT` tries (a quorum lane's own delivery limit is a backstop). A process that
dies meanwhile leaves its messages unacked: the broker gives them, in order, to the next.
"""

import asyncio
import logging
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from aio_pika.abc import (
    AbstractChannel,
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustConnection,
)
from pamqp.commands import Basic
from pydantic import BaseModel, TypeAdapter, ValidationError

from versioner.common import logs, tracing
from versioner.common.broker import connect_hot, publish
from versioner.common.declare import declare_queues
from versioner.common.messages.lanes import (
    BuildEventReceived,
    DeploymentEventReceived,
    DeploymentStartAbandoned,
    EvaluateDeployment,
    LaneMessage,
)
from versioner.common.metrics import Consumption
from versioner.common.names import DEADLINE_HEADER, BrokerNames
from versioner.common.topology import DELIVERY_LIMIT, Topology
from versioner.policy.catalog import builds
from versioner.policy.context import PolicyContext
from versioner.policy.deployments.closing import handle_abandoned
from versioner.policy.deployments.outcomes import handle_deployment_event
from versioner.policy.deployments.start import handle_start
from versioner.policy.store.deadline import Deadline

log = logging.getLogger(__name__)

_LANE_MESSAGE: TypeAdapter[LaneMessage] = TypeAdapter(LaneMessage)
_LANES = Consumption("policy", "lanes")
# Messages of one lane taken at once (different products in parallel, each product in order).
IN_FLIGHT = 32
# Announcements: JSON, persistent (delivery mode 2).
_ANNOUNCED = Basic.Properties(content_type="application/json", delivery_mode=2)


def _consumer_span(
    message: AbstractIncomingMessage, decoded: LaneMessage
) -> AbstractContextManager[Any]:
    # Its name and attributes are built only while tracing is on: this is the gate's path.
    if not tracing.enabled():
        return nullcontext()
    attributes = {"messaging.system": "rabbitmq", "versioner.event_id": str(decoded.event_id)}
    name = f"{message.routing_key} process {type(decoded).__name__}"
    return tracing.span(name, "consumer", attributes, parent=message.headers or {})


def _announced(headers: dict[str, Any]) -> Basic.Properties:
    return Basic.Properties(content_type="application/json", delivery_mode=2, headers=headers)


# A failed message waits this long before its next try, doubling up to the maximum.
_BACKOFF_S = 0.1
_BACKOFF_MAX_S = 2.0


def decode(body: bytes) -> LaneMessage:
    """A lane message from its body (raises `ValidationError`)."""
    return _LANE_MESSAGE.validate_json(body)


async def handle(
    ctx: PolicyContext,
    message: LaneMessage,
    deadline: Deadline,
    later: list[Callable[[], None]] | None = None,
) -> BaseModel | None:
    """Record a fact, answer a start request, or close an abandoned start; the reply, if any.
    `later`: what may wait until the reply is sent (see `handle_start`)."""
    match message:
        case EvaluateDeployment() as start:
            return await handle_start(ctx, start, deadline, later)
        case BuildEventReceived() as build:
            return await builds.handle_build_event(ctx, build, deadline)
        case DeploymentEventReceived() as event:
            return await handle_deployment_event(ctx, event)
        case DeploymentStartAbandoned() as abandoned:
            await handle_abandoned(ctx, abandoned)
    return None


def _product_of(message: LaneMessage) -> str:
    if isinstance(message, DeploymentStartAbandoned):
        return message.product_name
    return message.event.product_name


def encode(reply: BaseModel) -> bytes:
    """A reply as it travels: compact JSON, every field."""
    return reply.model_dump_json().encode()


class LaneConsumer:
    """Policy's lanes on one aio-pika connection of their own."""

    def __init__(self, ctx: PolicyContext, url: str, names: BrokerNames) -> None:
        self.ctx = ctx
        self.url = url
        self.names = names
        self._connection: AbstractRobustConnection | None = None
        self._channel: AbstractChannel | None = None
        self._confirmed: AbstractChannel | None = None
        # The outbox's exchanges by the names its rows carry.
        self._announce_to = {
            "events": names.events_exchange,
            "credentials": names.credentials_exchange,
        }
        self._consumers: list[tuple[AbstractQueue, str]] = []
        self._paused: list[AbstractQueue] = []
        # The last message of each product in progress: the next one waits for it.
        self._chains: dict[str, asyncio.Future[None]] = {}

    async def start(self) -> None:
        """Connect, declare the lanes (as ingest does) and consume each of them."""
        self._connection = await connect_hot(
            self.url, f"versioner-policy-lanes {self.names.prefix}"
        )
        channel = await self._connection.channel(publisher_confirms=False)
        # Per consumer (not per channel): so many messages of each lane at once.
        await channel.set_qos(prefetch_count=IN_FLIGHT)
        # The outbox relay's announcements and the verdicts: persistent, each confirmed.
        confirmed = await self._connection.channel(publisher_confirms=True)
        # Both channels before the first consume: a lane with a backlog (a replica started
        # again, say) delivers at once, and a reply found no channel then (kill -9 fault
        # test: every verdict of the first 0.2 s lost, the starts closed, the gateway 503).
        self._channel, self._confirmed = channel, confirmed
        for queue in await declare_queues(self._connection, channel, Topology(self.names).lanes):
            self._consumers.append((queue, await queue.consume(self._on_message)))

    async def pause(self) -> None:
        """Stop taking lane messages (they wait in their lanes) until `resume`."""
        paused, self._consumers = self._consumers, []
        for queue, tag in paused:
            await queue.cancel(tag)
        self._paused = [queue for queue, _ in paused]

    async def resume(self) -> None:
        """Take lane messages again after `pause`."""
        for queue in self._paused:
            self._consumers.append((queue, await queue.consume(self._on_message)))
        self._paused = []

    @property
    def started(self) -> bool:
        """Whether `start` connected."""
        return self._channel is not None

    async def announce(
        self, exchange: str, routing_key: str, body: bytes, headers: dict[str, Any]
    ) -> None:
        """Publish a domain event or broadcast from the outbox, confirmed (on this connection:
        one publish here costs a fraction of one through faststream), with the headers of the
        event it was written for."""
        assert self._confirmed is not None
        await publish(
            self._confirmed,
            body,
            exchange=self._announce_to[exchange],
            routing_key=routing_key,
            properties=_announced(headers) if headers else _ANNOUNCED,
        )

    async def depths(self) -> tuple[int, int] | None:
        """Messages ready in the lanes and in the dead-letter queue, asked of the broker
        (passive declarations); None when not connected."""
        channel = self._channel
        if channel is None or channel.is_closed:
            return None
        names = self.names
        lanes = 0
        for lane in range(names.lanes):
            declared = await channel.declare_queue(names.lane_queue(lane), passive=True)
            lanes += declared.declaration_result.message_count or 0
        dead = await channel.declare_queue(names.dead_letter_queue, passive=True)
        return lanes, dead.declaration_result.message_count or 0

    async def close(self) -> None:
        """Stop consuming and close the connection (unacked messages go back to their lane)."""
        if self._connection is not None:
            await self._connection.close()
            self._connection = None
            self._channel = self._confirmed = None

    async def _reply(
        self, channel: AbstractChannel | None, message: AbstractIncomingMessage, body: bytes
    ) -> None:
        """Not mandatory: direct reply-to on RabbitMQ 3.10 returns mandatory replies it also
        delivers. On the confirming channel, returns once the broker took the reply."""
        assert channel is not None
        assert message.reply_to
        properties = Basic.Properties(
            content_type="application/json", correlation_id=message.correlation_id
        )
        confirm = await publish(channel, body, routing_key=message.reply_to, properties=properties)
        if confirm is not None and not isinstance(confirm, Basic.Ack):
            raise RuntimeError(f"the broker refused the reply: {confirm!r}")

    async def _dead_letter(
        self, message: AbstractIncomingMessage, reason: str, error: Exception, *, tries: int
    ) -> None:
        """Give up on a message: a copy to the dead-letter exchange saying why (the error, the
        lane, the tries), then the ack; if the copy cannot be published, the broker's own
        dead-lettering (reason `rejected`, no error)."""
        assert self._confirmed is not None
        properties = Basic.Properties(
            content_type=message.content_type,
            delivery_mode=2,
            correlation_id=message.correlation_id,
            message_id=message.message_id,
            headers={
                **(message.headers or {}),
                "versioner-dead-reason": reason,
                "versioner-dead-error": f"{type(error).__name__}: {error}"[:1000],
                "versioner-dead-routing-key": message.routing_key or "",
                "versioner-dead-tries": tries,
            },
        )
        try:
            await publish(
                self._confirmed,
                message.body,
                exchange=self.names.dead_letter_exchange,
                routing_key=reason,
                properties=properties,
            )
        except Exception:
            log.exception("could not publish the dead letter; rejecting it instead")
            await message.reject(requeue=False)
            return
        await message.ack()

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        try:
            decoded = decode(message.body)
        except ValidationError as exc:
            log.error("a lane message that is none (dead-lettered): %.200r", message.body)
            await self._dead_letter(message, "lane-unreadable", exc, tries=1)
            return
        # Joined before the first await: callbacks start in delivery order.
        product = _product_of(decoded)
        before = self._chains.get(product)
        mine: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._chains[product] = mine
        try:
            if before is not None:
                await before
            with (
                logs.bound_from(message.headers, event_id=decoded.event_id),
                _LANES.handling(redelivered=bool(message.redelivered)),
                _consumer_span(message, decoded),
            ):
                await self._process(message, decoded)
        finally:
            # Cancelled already when the next message of the product was cancelled (at
            # shutdown) while awaiting it.
            if not mine.done():
                mine.set_result(None)
            if self._chains.get(product) is mine:
                del self._chains[product]

    async def _process(self, message: AbstractIncomingMessage, decoded: LaneMessage) -> None:
        deadline = Deadline.from_header((message.headers or {}).get(DEADLINE_HEADER))
        later: list[Callable[[], None]] = []
        for tries in range(1, DELIVERY_LIMIT + 1):
            try:
                reply = await handle(self.ctx, decoded, deadline, later)
                break
            except Exception as exc:
                if tries == DELIVERY_LIMIT:
                    log.error(
                        "lane message %s failed %d times: dead-lettered",
                        decoded.event_id,
                        tries,
                        exc_info=exc,
                    )
                    await self._dead_letter(message, "lane-failed", exc, tries=tries)
                    return
                log.error(
                    "lane message %s failed (try %d); trying again",
                    decoded.event_id,
                    tries,
                    exc_info=exc,
                )
                await asyncio.sleep(min(_BACKOFF_S * 2 ** (tries - 1), _BACKOFF_MAX_S))
        if reply is not None and message.reply_to:
            if isinstance(decoded, EvaluateDeployment):
                await self._answer_start(message, decoded, encode(reply))
            else:
                try:
                    await self._reply(self._channel, message, encode(reply))
                except Exception:  # committed: the caller answers by its deadline (202)
                    log.warning("could not send the reply to %s", message.correlation_id)
        await message.ack()
        for done in later:
            done()

    async def _answer_start(
        self, message: AbstractIncomingMessage, start: EvaluateDeployment, body: bytes
    ) -> None:
        """Send a verdict, confirmed by the broker; a verdict the broker did not take never
        reached the gateway, which answered 503: the deployment it let start is closed here
        (as the gateway's own `DeploymentStartAbandoned` would), so it blocks nothing even
        when the gateway dies before it can say so (issue 9)."""
        confirmed = self._confirmed
        # After a reconnect aio-pika reopens the channels one by one, and the consuming one
        # may deliver before the confirming one is back: the verdict then goes on the channel
        # that just delivered its request (open; a publish there that fails was not sent).
        # A broker that went away closes both.
        channel = self._channel if confirmed is None or confirmed.is_closed else confirmed
        try:
            await self._reply(channel, message, body)
            return
        except Exception as exc:
            log.warning(
                "the verdict on %s did not reach the broker (%s): closing the start",
                start.event_id,
                exc,
            )
        abandoned = DeploymentStartAbandoned(
            event_id=start.event_id,
            product_name=start.event.product_name,
            abandoned_at=self.ctx.clock.now(),
        )
        await handle_abandoned(self.ctx, abandoned)
