"""FastStream subscribers: thin adapters from management messages to policy's operations."""

from typing import cast

from faststream.middlewares import AckPolicy
from faststream.rabbit import (
    Channel,
    ExchangeType,
    QueueType,
    RabbitBroker,
    RabbitExchange,
    RabbitQueue,
    RabbitResponse,
)
from faststream.rabbit.annotations import RabbitMessage
from faststream.rabbit.schemas.queue import QuorumQueueArgs

from versioner.common.errors import policy_unavailable
from versioner.common.messages.management import ManagementRequest
from versioner.common.names import DEADLINE_HEADER, BrokerNames, work_queue_arguments
from versioner.policy import commands
from versioner.policy.context import PolicyContext
from versioner.policy.store.deadline import Deadline


def policy_exchange(names: BrokerNames) -> RabbitExchange:
    """The direct exchange in front of policy's queues."""
    return RabbitExchange(names.policy_exchange, type=ExchangeType.DIRECT, durable=True)


def management_queue(names: BrokerNames) -> RabbitQueue:
    """The management RPC queue."""
    return RabbitQueue(
        names.management_queue,
        queue_type=QueueType.QUORUM,
        routing_key=names.management_key,
        arguments=cast("QuorumQueueArgs", work_queue_arguments(names)),
    )


def _reply(body: object) -> RabbitResponse:
    # Direct reply-to on RabbitMQ 3.10 returns mandatory replies although it delivers them.
    return RabbitResponse(body, mandatory=False, content_type="application/json")


def register(broker: RabbitBroker, ctx: PolicyContext) -> None:
    """Subscribe policy's management RPCs (the lanes are consumed by `lanes.LaneConsumer`)."""
    names = ctx.settings.names
    exchange = policy_exchange(names)

    @broker.subscriber(
        management_queue(names),
        exchange,
        channel=Channel(prefetch_count=ctx.settings.management_concurrency),
        ack_policy=AckPolicy.NACK_ON_ERROR,
        title="policy management",
    )
    async def on_management(body: ManagementRequest, message: RabbitMessage) -> RabbitResponse:
        """Answer a management command or query, unless its caller has stopped waiting."""
        if Deadline.from_header(message.headers.get(DEADLINE_HEADER)).remaining_s() <= 0:
            return _reply(policy_unavailable())
        return _reply(await commands.handle(ctx, body))
