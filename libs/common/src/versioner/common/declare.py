"""The topology (`versioner.common.topology`) declared with aio-pika: ingest's queues and
exchanges, and policy's lanes (policy's and the notifier's subscribers render theirs with
faststream)."""

from typing import cast

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractExchange, AbstractQueue
from aio_pika.exceptions import ChannelNotFoundEntity
from pamqp.common import FieldTable

from versioner.common.topology import Exchange, Queue


async def declare_exchange(channel: AbstractChannel, exchange: Exchange) -> AbstractExchange:
    """Declare an exchange (idempotent)."""
    return await channel.declare_exchange(
        exchange.name, aio_pika.ExchangeType(exchange.kind), durable=True
    )


async def declare_queue(
    connection: AbstractConnection, channel: AbstractChannel, queue: Queue
) -> AbstractQueue:
    """Declare a queue with its arguments and bindings (idempotent); a queue that keeps its
    type, and exists, as it is (asked on a channel of its own: a passive declaration of a
    queue that is not there closes the channel)."""
    declared: AbstractQueue | None = None
    if queue.keeps_its_type:
        probe = await connection.channel()
        try:
            await probe.declare_queue(queue.name, passive=True)
        except ChannelNotFoundEntity:
            pass
        else:
            await probe.close()
            declared = await channel.declare_queue(queue.name, passive=True)
    if declared is None:
        arguments = cast("FieldTable", dict(queue.arguments))
        declared = await channel.declare_queue(queue.name, durable=True, arguments=arguments)
    for binding in queue.bindings:
        exchange = await declare_exchange(channel, binding.exchange)
        matching = cast("FieldTable", dict(binding.arguments)) if binding.arguments else None
        await declared.bind(exchange, routing_key=binding.routing_key, arguments=matching)
    return declared
