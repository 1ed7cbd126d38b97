"""FastStream subscribers: thin adapters from management messages to policy's operations."""

from faststream.middlewares import AckPolicy
from faststream.rabbit import (
    Channel,
    RabbitBroker,
    RabbitResponse,
)
from faststream.rabbit.annotations import RabbitMessage

from versioner.common import logs, tracing
from versioner.common.errors import policy_unavailable
from versioner.common.messages.management import ManagementRequest
from versioner.common.metrics import Consumption
from versioner.common.names import DEADLINE_HEADER
from versioner.common.tasks import to_the_end
from versioner.common.topology import Topology
from versioner.policy import commands
from versioner.policy.context import PolicyContext
from versioner.policy.store.deadline import Deadline
from versioner.policy.store.topology import rabbit_exchange, rabbit_queue

_MANAGEMENT = Consumption("policy", "management")


def _reply(body: object) -> RabbitResponse:
    # Direct reply-to on RabbitMQ 3.10 returns mandatory replies although it delivers them.
    return RabbitResponse(body, mandatory=False, content_type="application/json")


def register(broker: RabbitBroker, ctx: PolicyContext) -> None:
    """Subscribe policy's management RPCs (the lanes are consumed by `lanes.LaneConsumer`)."""
    topology = Topology(ctx.settings.names)

    @broker.subscriber(
        rabbit_queue(topology.management),
        rabbit_exchange(topology.policy),
        channel=Channel(prefetch_count=ctx.settings.management_concurrency),
        ack_policy=AckPolicy.NACK_ON_ERROR,
        title="policy management",
    )
    async def on_management(body: ManagementRequest, message: RabbitMessage) -> RabbitResponse:
        """Answer a management command or query, unless its caller has stopped waiting."""
        if Deadline.from_header(message.headers.get(DEADLINE_HEADER)).remaining_s() <= 0:
            return _reply(policy_unavailable())
        with (
            logs.bound_from(message.headers),
            _MANAGEMENT.handling(),
            tracing.span(
                f"management process {type(body).__name__}", "consumer", parent=message.headers
            ),
        ):
            return _reply(await to_the_end(commands.handle(ctx, body)))
