"""The hot path's connection on the real RabbitMQ: frames never wait for a turn of the loop."""

import asyncio
import uuid

import pytest
from aiormq.exceptions import ChannelClosed, DeliveryError
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


async def test_a_nacked_publish_renews_its_channel_once_and_the_new_one_publishes(
    amqp_url: str,
) -> None:
    connection = await connect_hot(amqp_url, "versioner-test")
    try:
        confirmed = await connection.channel(publisher_confirms=True)
        reopened = asyncio.Event()
        confirmed.reopen_callbacks.add(lambda _channel: reopened.set())
        # A queue that refuses every message: RabbitMQ nacks what is published to it.
        full = await confirmed.declare_queue(
            f"vt-full-{uuid.uuid4().hex[:8]}",
            exclusive=True,
            arguments={"x-max-length": 0, "x-overflow": "reject-publish"},
        )
        first = await confirmed.get_underlay_channel()
        properties = Basic.Properties(delivery_mode=2)
        nacked = await asyncio.gather(
            *(publish(confirmed, b"x", routing_key=full.name, properties=properties) for _ in "ab"),
            return_exceptions=True,
        )
        # Neither was taken: nacked, or (nacked one by one) still waiting for its nack when the
        # first one's renewal closed the channel under it.
        refused = [_nacked(result) or isinstance(result, ChannelClosed) for result in nacked]
        assert all(refused), nacked
        assert any(_nacked(result) for result in nacked), nacked
        await reopened.wait()
        second = await confirmed.get_underlay_channel()
        assert second is not first
        assert first.is_closed
        # Renewed once for both nacks, and what was declared through it is declared again.
        assert not second.is_closed
        queue = await confirmed.declare_queue(f"vt-ok-{uuid.uuid4().hex[:8]}", exclusive=True)
        confirm = await publish(confirmed, b"y", routing_key=queue.name, properties=properties)
        assert isinstance(confirm, Basic.Ack)
        # A nack right after the renewal does not renew it again.
        with pytest.raises(DeliveryError):
            await publish(confirmed, b"x", routing_key=full.name, properties=properties)
        assert await confirmed.get_underlay_channel() is second
    finally:
        await connection.close()


def _nacked(result: object) -> bool:
    return isinstance(result, DeliveryError) and isinstance(result.frame, Basic.Nack)
