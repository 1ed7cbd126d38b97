"""The hot path's connection on the real RabbitMQ: frames never wait for a turn of the loop."""

import asyncio
import uuid

from pamqp.commands import Basic

from versioner.common.broker import connect_hot, publish


async def test_a_hot_connection_buffers_frames_without_bound_and_publishes_confirmed(
    amqp_url: str,
) -> None:
    connection = await connect_hot(amqp_url, "versioner-test")
    try:
        confirmed = await connection.channel(publisher_confirms=True)
        underlay = await confirmed.get_underlay_channel()
        assert underlay.frames.maxsize == 0
        assert connection.transport is not None
        assert connection.transport.connection.write_queue.maxsize == 0
        queue = await confirmed.declare_queue(f"vt-hot-{uuid.uuid4().hex[:8]}", exclusive=True)
        bodies = [f"m{n}".encode() for n in range(200)]
        # Many more publishes at once than aiormq's queues of ten hold: each confirmed, in order.
        confirms = await asyncio.gather(
            *(
                publish(
                    confirmed,
                    body,
                    routing_key=queue.name,
                    properties=Basic.Properties(delivery_mode=2),
                )
                for body in bodies
            )
        )
        assert all(isinstance(confirm, Basic.Ack) for confirm in confirms)
        received: list[bytes] = []
        async with queue.iterator(no_ack=True) as messages:
            async for message in messages:
                received.append(message.body)
                if len(received) == len(bodies):
                    break
        assert received == bodies
    finally:
        await connection.close()
