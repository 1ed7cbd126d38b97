"""FastStream subscribers: domain events in, notifications out; the notifier's own RPCs."""

import logging
import time
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

from versioner.common.errors import notifier_unavailable
from versioner.common.messages.domain import (
    ButtonFireRequested,
    DomainEvent,
    SlackActionHandled,
)
from versioner.common.messages.notifier import NotifierRequest
from versioner.common.names import DEADLINE_HEADER, BrokerNames, work_queue_arguments
from versioner.notifier import buttons, commands, replies
from versioner.notifier.announce import describe
from versioner.notifier.deliveries import Deliverer

log = logging.getLogger("versioner.notifier")


def events_queue(names: BrokerNames) -> RabbitQueue:
    """The notifier's queue, bound to every domain event."""
    return RabbitQueue(
        names.notifier_queue,
        queue_type=QueueType.QUORUM,
        routing_key="#",
        arguments=cast("QuorumQueueArgs", work_queue_arguments(names)),
    )


def rpc_queue(names: BrokerNames) -> RabbitQueue:
    """The notifier's RPC queue, on the exchange in front of every request queue."""
    return RabbitQueue(
        names.notifier_rpc_queue,
        queue_type=QueueType.QUORUM,
        routing_key=names.notifier_key,
        arguments=cast("QuorumQueueArgs", work_queue_arguments(names)),
    )


def _expired(message: RabbitMessage) -> bool:
    deadline = message.headers.get(DEADLINE_HEADER)
    return isinstance(deadline, int) and deadline <= time.time() * 1000


def register(broker: RabbitBroker, names: BrokerNames, deliverer: Deliverer) -> None:
    """Subscribe the notifier to domain events and to its RPC queue."""

    @broker.subscriber(
        events_queue(names),
        RabbitExchange(names.events_exchange, type=ExchangeType.TOPIC, durable=True),
        channel=Channel(prefetch_count=1),
        ack_policy=AckPolicy.NACK_ON_ERROR,
        title="notifier events",
    )
    async def on_event(event: DomainEvent) -> None:
        """Deliver an event to every channel that wants it; acked once every delivery is final."""
        log.info(
            "%s",
            describe(event),
            extra={"event_type": event.event_type, "event_id": str(event.event_id)},
        )
        match event:
            case ButtonFireRequested():
                firing = await buttons.fire(deliverer, event)
                if firing is not None:
                    label = await buttons.label_of(deliverer, event.button_id)
                    await replies.report_firing(deliverer, event, firing, label)
            case SlackActionHandled():
                await replies.answer(deliverer, event)
            case _:
                await deliverer.handle(event)

    @broker.subscriber(
        rpc_queue(names),
        RabbitExchange(names.policy_exchange, type=ExchangeType.DIRECT, durable=True),
        channel=Channel(prefetch_count=8),
        ack_policy=AckPolicy.NACK_ON_ERROR,
        title="notifier rpc",
    )
    async def on_request(body: NotifierRequest, message: RabbitMessage) -> RabbitResponse:
        """Answer a configuration request, unless its caller has stopped waiting."""
        result = (
            notifier_unavailable() if _expired(message) else await commands.handle(deliverer, body)
        )
        # Direct reply-to on RabbitMQ 3.10 returns mandatory replies although it delivers them.
        return RabbitResponse(result, mandatory=False, content_type="application/json")
