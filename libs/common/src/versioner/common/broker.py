"""A robust aio-pika connection for a hot path: frames never wait for a turn of the event loop.

aiormq hands frames between tasks through queues of ten: the connection's reader puts each
frame it reads into its channel's queue, the channel's reader takes them out, and every
publish, ack and reply goes into the connection's write queue for its writer. When a queue
holds ten, the task putting the eleventh waits for the other task's next turn; on a loop that
is busy with a few hundred messages a turn takes milliseconds, so under load a lane's
deliveries and ingest's replies trickled through ten frames (three messages) per two turns
and waited 50–80 ms in the socket for a verdict that took three (issue 8: 480–810 →
840–1,000 requests/s at 32 connections with the lanes' and ingest's publishes not waiting
for the socket's drain either).

Nothing grows without bound here: a channel receives no more than its prefetch (the lanes)
or the replies to the requests this process sent, and the write queue holds what this
process's own bounded work (its in-flight requests and lane messages) published.
"""

import asyncio
from typing import Any, cast

import aio_pika
import aiormq
from aio_pika.abc import AbstractChannel, AbstractRobustConnection
from aiormq.abc import ConfirmationFrameType
from pamqp.commands import Basic

# Seconds between attempts to reconnect to a broker that went away, for every connection of
# every service (aio-pika's and faststream's default is 5): the gate answers again within a
# couple of seconds of the broker accepting connections (issue 9).
RECONNECT_INTERVAL_S = 1.0


def _unbounded(queue: "asyncio.Queue[Any]") -> None:
    # asyncio.Queue takes its bound at construction only; aiormq builds these queues itself.
    queue._maxsize = 0  # type: ignore[attr-defined]


class HotChannel(aio_pika.RobustChannel):
    """A robust channel whose frames never wait for its reader (after every reopen too)."""

    async def _on_open(self) -> None:
        underlay = await self.get_underlay_channel()
        _unbounded(underlay.frames)
        await super()._on_open()


class HotConnection(aio_pika.RobustConnection):
    """A robust connection of `HotChannel`s whose writes never wait for its writer."""

    CHANNEL_CLASS = HotChannel

    async def _on_connected(self) -> None:
        if self.transport is not None:
            _unbounded(self.transport.connection.write_queue)
        await super()._on_connected()


async def connect_hot(url: str, name: str) -> AbstractRobustConnection:
    """A `HotConnection` to `url`, named `name` in RabbitMQ's management views."""
    return await aio_pika.connect_robust(
        url,
        connection_class=HotConnection,
        client_properties={"connection_name": name},
        reconnect_interval=RECONNECT_INTERVAL_S,
    )


async def publish(
    channel: AbstractChannel,
    body: bytes,
    *,
    routing_key: str,
    properties: Basic.Properties,
    exchange: str = "",
    mandatory: bool = False,
) -> ConfirmationFrameType | None:
    """Publish on the driver's channel (no aio-pika `Message` per publish), without waiting
    for the socket's drain, which aiormq does holding the channel's lock: one publish per two
    turns of the loop under load (issue 8). On a confirming channel the confirm is awaited
    (outside the lock) and returned: it, not the drain, says the broker has the message.
    """
    underlay = cast("aiormq.Channel", await channel.get_underlay_channel())
    return await underlay.basic_publish(
        body,
        exchange=exchange,
        routing_key=routing_key,
        properties=properties,
        mandatory=mandatory,
        wait=False,
    )
