"""The topology (`versioner.common.topology`) rendered for faststream: the notifier's
queues and the exchanges it subscribes to or publishes to."""

from typing import cast

from faststream.rabbit import ExchangeType, QueueType, RabbitExchange, RabbitQueue
from faststream.rabbit.schemas.queue import QuorumQueueArgs

from versioner.common.topology import Exchange, Queue


def rabbit_exchange(exchange: Exchange) -> RabbitExchange:
    """An exchange as faststream declares it."""
    return RabbitExchange(exchange.name, type=ExchangeType(exchange.kind), durable=True)


def rabbit_queue(queue: Queue) -> RabbitQueue:
    """A quorum queue as faststream declares it, with its first binding's routing key."""
    assert queue.queue_type == "quorum", f"{queue.name} is not one of the notifier's queues"
    return RabbitQueue(
        queue.name,
        queue_type=QueueType.QUORUM,
        routing_key=queue.routing_key,
        arguments=cast("QuorumQueueArgs", dict(queue.arguments)),
    )
