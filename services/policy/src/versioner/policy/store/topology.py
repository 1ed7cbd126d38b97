"""Exchanges and queues policy publishes to, declared at start (all idempotent)."""

import aio_pika
from faststream.rabbit import ExchangeType, QueueType, RabbitBroker, RabbitExchange, RabbitQueue

from versioner.common.names import DEAD_LETTER_BINDINGS, BrokerNames


def events_exchange(names: BrokerNames) -> RabbitExchange:
    """Topic exchange of domain events."""
    return RabbitExchange(names.events_exchange, type=ExchangeType.TOPIC, durable=True)


def credentials_exchange(names: BrokerNames) -> RabbitExchange:
    """Fanout exchange telling ingest replicas to forget credentials."""
    return RabbitExchange(names.credentials_exchange, type=ExchangeType.FANOUT, durable=True)


async def declare(broker: RabbitBroker, names: BrokerNames) -> None:
    """Declare the exchanges policy publishes to and the dead-letter queue."""
    await broker.declare_exchange(events_exchange(names))
    await broker.declare_exchange(credentials_exchange(names))
    dead = await broker.declare_exchange(
        RabbitExchange(names.dead_letter_exchange, type=ExchangeType.HEADERS, durable=True)
    )
    queue: aio_pika.abc.AbstractQueue = await broker.declare_queue(
        RabbitQueue(names.dead_letter_queue, queue_type=QueueType.QUORUM)
    )
    for binding in DEAD_LETTER_BINDINGS:
        await queue.bind(dead, routing_key="", arguments=binding)  # type: ignore[arg-type]
