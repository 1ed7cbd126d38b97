"""The ordered lanes, consumed with aio-pika directly: the hot path of every pipeline.

Every `deployment started` and every fact passes here, so a message costs only what it must:
one decode of the body (pydantic, from bytes), the transaction, one encode of the reply, one
publish and one ack. faststream's subscriber added 0.25–0.6 ms of CPU per message on top
(its middlewares, and fast_depends resolving a `RabbitMessage` parameter in a worker thread);
faststream keeps the management RPCs, which are not hot (issue 8).

Each lane is a queue with a single active consumer, and each consumer takes one message at a
time (`prefetch_count=1` per consumer): a product's messages are handled in order, lanes side
by side, and what they commit meanwhile goes to SQLite in one batch (`Database.run`).

A message is acked once its transaction committed, even when its reply could not be sent (the
caller then answers by its deadline, and a redelivery would find the event recorded anyway);
a handler that fails is nacked and redelivered, and the lane queue dead-letters it after
`DELIVERY_LIMIT` tries.
"""

import logging
from typing import cast

import aio_pika
from aio_pika.abc import (
    AbstractChannel,
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractRobustConnection,
)
from pamqp.common import FieldTable
from pydantic import BaseModel, TypeAdapter

from versioner.common.messages.lanes import (
    BuildEventReceived,
    DeploymentEventReceived,
    DeploymentStartAbandoned,
    EvaluateDeployment,
    LaneMessage,
)
from versioner.common.names import DEADLINE_HEADER, BrokerNames, lane_queue_arguments
from versioner.policy import builds, deployments
from versioner.policy.context import PolicyContext
from versioner.policy.deadline import Deadline

log = logging.getLogger(__name__)

_LANE_MESSAGE: TypeAdapter[LaneMessage] = TypeAdapter(LaneMessage)


async def handle(ctx: PolicyContext, body: bytes, deadline: Deadline) -> BaseModel | None:
    """Record a fact, answer a start request, or close an abandoned start; the reply, if any."""
    match _LANE_MESSAGE.validate_json(body):
        case EvaluateDeployment() as start:
            return await deployments.handle_start(ctx, start, deadline)
        case BuildEventReceived() as build:
            return await builds.handle_build_event(ctx, build, deadline)
        case DeploymentEventReceived() as event:
            return await deployments.handle_deployment_event(ctx, event)
        case DeploymentStartAbandoned() as abandoned:
            await deployments.handle_abandoned(ctx, abandoned)
    return None


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

    async def start(self) -> None:
        """Connect, declare the lanes (as ingest does) and consume each of them."""
        self._connection = await aio_pika.connect_robust(
            self.url, client_properties={"connection_name": "versioner-policy-lanes"}
        )
        channel = await self._connection.channel(publisher_confirms=False)
        # Per consumer (not per channel): one message at a time in each lane.
        await channel.set_qos(prefetch_count=1)
        exchange = await channel.declare_exchange(
            self.names.policy_exchange, aio_pika.ExchangeType.DIRECT, durable=True
        )
        arguments = cast("FieldTable", lane_queue_arguments(self.names))
        for lane in range(self.names.lanes):
            queue = await channel.declare_queue(
                self.names.lane_queue(lane), durable=True, arguments=arguments
            )
            await queue.bind(exchange, routing_key=self.names.lane_key(lane))
            await queue.consume(self._on_message)
        self._channel = channel

    async def close(self) -> None:
        """Stop consuming and close the connection (unacked messages go back to their lane)."""
        if self._connection is not None:
            await self._connection.close()
            self._connection = None

    @property
    def _replies(self) -> AbstractExchange:
        assert self._channel is not None
        return self._channel.default_exchange

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        deadline = Deadline.from_header((message.headers or {}).get(DEADLINE_HEADER))
        try:
            reply = await handle(self.ctx, message.body, deadline)
        except Exception:
            log.exception("lane message %s failed; it will be redelivered", message.message_id)
            await message.nack(requeue=True)
            return
        if reply is not None and message.reply_to:
            try:
                # Direct reply-to on RabbitMQ 3.10 returns mandatory replies it also delivers.
                await self._replies.publish(
                    aio_pika.Message(
                        encode(reply),
                        content_type="application/json",
                        correlation_id=message.correlation_id,
                    ),
                    routing_key=message.reply_to,
                    mandatory=False,
                )
            except Exception:  # committed: the caller answers by its deadline
                log.warning("could not send the reply to %s", message.correlation_id)
        await message.ack()
