"""FastStream subscribers: domain events in, notifications out (for now: a log line each)."""

import logging
from typing import cast

from faststream.middlewares import AckPolicy
from faststream.rabbit import (
    Channel,
    ExchangeType,
    QueueType,
    RabbitBroker,
    RabbitExchange,
    RabbitQueue,
)
from faststream.rabbit.schemas.queue import QuorumQueueArgs

from versioner.common.messages.domain import DomainEvent
from versioner.common.names import BrokerNames, work_queue_arguments
from versioner.notifier.announce import describe

log = logging.getLogger("versioner.notifier")


def events_queue(names: BrokerNames) -> RabbitQueue:
    """The notifier's queue, bound to every domain event."""
    return RabbitQueue(
        names.notifier_queue,
        queue_type=QueueType.QUORUM,
        routing_key="#",
        arguments=cast("QuorumQueueArgs", work_queue_arguments(names)),
    )


def register(broker: RabbitBroker, names: BrokerNames) -> None:
    """Subscribe the notifier to the events exchange."""

    @broker.subscriber(
        events_queue(names),
        RabbitExchange(names.events_exchange, type=ExchangeType.TOPIC, durable=True),
        channel=Channel(prefetch_count=16),
        ack_policy=AckPolicy.NACK_ON_ERROR,
        title="notifier events",
    )
    async def on_event(event: DomainEvent) -> None:
        """Log what happened (Slack messages and webhooks come with the notifier's channels)."""
        log.info(
            "%s",
            describe(event),
            extra={"event_type": event.event_type, "event_id": str(event.event_id)},
        )
