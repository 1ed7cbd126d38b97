"""The topology (`versioner.common.topology`) rendered for faststream: the exchanges policy
publishes to and the queues it subscribes to, declared at start (all idempotent)."""

from typing import cast

import aio_pika
from faststream.rabbit import ExchangeType, QueueType, RabbitBroker, RabbitExchange, RabbitQueue
from faststream.rabbit.schemas.queue import QuorumQueueArgs

from versioner.common.names import BrokerNames
from versioner.common.topology import Exchange, Queue, Topology


def rabbit_exchange(exchange: Exchange) -> RabbitExchange:
    """An exchange as faststream declares it."""
    return RabbitExchange(exchange.name, type=ExchangeType(exchange.kind), durable=True)


def rabbit_queue(queue: Queue) -> RabbitQueue:
    """A quorum queue as faststream declares it, with its first binding's routing key (the
    lanes, classic by default, are consumed and declared with aio-pika)."""
    assert queue.queue_type == "quorum", f"{queue.name} is declared with aio-pika"
    return RabbitQueue(
        queue.name,
        queue_type=QueueType.QUORUM,
        routing_key=queue.routing_key,
        arguments=cast("QuorumQueueArgs", dict(queue.arguments)),
    )


def events_exchange(names: BrokerNames) -> RabbitExchange:
    """Topic exchange of domain events."""
    return rabbit_exchange(Topology(names).events)


def credentials_exchange(names: BrokerNames) -> RabbitExchange:
    """Fanout exchange telling ingest replicas to forget credentials."""
    return rabbit_exchange(Topology(names).credentials)


async def declare(broker: RabbitBroker, names: BrokerNames) -> None:
    """Declare the exchanges policy publishes to and the dead-letter queue."""
    topology = Topology(names)
    await broker.declare_exchange(rabbit_exchange(topology.events))
    await broker.declare_exchange(rabbit_exchange(topology.credentials))
    dead = await broker.declare_exchange(rabbit_exchange(topology.dead_letters))
    queue: aio_pika.abc.AbstractQueue = await broker.declare_queue(
        rabbit_queue(topology.dead_letter)
    )
    for binding in topology.dead_letter.bindings:
        await queue.bind(dead, routing_key="", arguments=binding.arguments)  # type: ignore[arg-type]
