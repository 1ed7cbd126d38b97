"""The topology (`versioner.common.topology`) declared with aio-pika: ingest's queues and
exchanges, and policy's lanes (policy's and the notifier's subscribers render theirs with
faststream)."""

from collections.abc import Sequence
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


async def declare_queues(
    connection: AbstractConnection, channel: AbstractChannel, queues: Sequence[Queue]
) -> list[AbstractQueue]:
    """Declare queues with their arguments and bindings (idempotent), each exchange they are
    bound to once."""
    exchanges = {
        exchange: await declare_exchange(channel, exchange)
        for exchange in dict.fromkeys(b.exchange for queue in queues for b in queue.bindings)
    }
    declared = []
    for queue in queues:
        found = await _declare_queue(connection, channel, queue)
        for binding in queue.bindings:
            matching = cast("FieldTable", dict(binding.arguments)) if binding.arguments else None
            await found.bind(
                exchanges[binding.exchange], routing_key=binding.routing_key, arguments=matching
            )
        declared.append(found)
    return declared


async def _declare_queue(
    connection: AbstractConnection, channel: AbstractChannel, queue: Queue
) -> AbstractQueue:
    """A queue with its arguments; one that keeps its type, and exists, as it is (asked on a
    channel of its own: a passive declaration of a queue that is not there closes the
    channel)."""
    if queue.keeps_its_type:
        probe = await connection.channel()
        try:
            await probe.declare_queue(queue.name, passive=True)
        except ChannelNotFoundEntity:
            pass
        else:
            await probe.close()
            return await channel.declare_queue(queue.name, passive=True)
    arguments = cast("FieldTable", dict(queue.arguments))
    return await channel.declare_queue(queue.name, durable=True, arguments=arguments)
