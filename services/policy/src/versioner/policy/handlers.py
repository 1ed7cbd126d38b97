"""FastStream subscribers: thin adapters from messages to policy's operations."""

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
from versioner.common.messages.lanes import (
    BuildEventReceived,
    DeploymentEventReceived,
    DeploymentStartAbandoned,
    EvaluateDeployment,
    LaneMessage,
)
from versioner.common.messages.management import ManagementRequest
from versioner.common.names import (
    DEADLINE_HEADER,
    BrokerNames,
    lane_queue_arguments,
    work_queue_arguments,
)
from versioner.policy import builds, commands, deployments
from versioner.policy.context import PolicyContext
from versioner.policy.deadline import Deadline


def policy_exchange(names: BrokerNames) -> RabbitExchange:
    """The direct exchange in front of policy's queues."""
    return RabbitExchange(names.policy_exchange, type=ExchangeType.DIRECT, durable=True)


def lane_queue(names: BrokerNames, lane: int) -> RabbitQueue:
    """One ordered lane."""
    return RabbitQueue(
        names.lane_queue(lane),
        queue_type=QueueType.QUORUM,
        routing_key=names.lane_key(lane),
        arguments=cast("QuorumQueueArgs", lane_queue_arguments(names)),
    )


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
    """Subscribe policy's handlers: one per lane, one for management RPCs."""
    names = ctx.settings.names
    exchange = policy_exchange(names)

    async def on_lane(body: LaneMessage, message: RabbitMessage) -> RabbitResponse | None:
        """Record a fact, answer a start request, or close an abandoned start: in lane order."""
        match body:
            case EvaluateDeployment():
                deadline = Deadline.from_header(message.headers.get(DEADLINE_HEADER))
                return _reply(await deployments.handle_start(ctx, body, deadline))
            case BuildEventReceived():
                deadline = Deadline.from_header(message.headers.get(DEADLINE_HEADER))
                return _reply(await builds.handle_build_event(ctx, body, deadline))
            case DeploymentEventReceived():
                return _reply(await deployments.handle_deployment_event(ctx, body))
            case DeploymentStartAbandoned():
                await deployments.handle_abandoned(ctx, body)
        return None

    for lane in range(names.lanes):
        broker.subscriber(
            lane_queue(names, lane),
            exchange,
            channel=Channel(prefetch_count=1),
            ack_policy=AckPolicy.NACK_ON_ERROR,
            title=f"policy lane {lane}",
        )(on_lane)

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
