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
import logging
import time
import weakref
from dataclasses import dataclass
from typing import Any, cast

import aio_pika
import aiormq
from aio_pika.abc import AbstractChannel, AbstractRobustConnection
from aiormq.abc import ConfirmationFrameType
from aiormq.exceptions import DeliveryError
from pamqp.commands import Basic
from yarl import URL

log = logging.getLogger(__name__)

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


def broker_addresses(url: str) -> tuple[str, ...]:
    """The broker addresses `VERSIONER_AMQP_URL` lists, each as a whole URL.

    One URL, or several separated by commas for the nodes of a cluster: each a whole URL
    (`amqp://u:p@10.0.0.1:5672/,amqp://u:p@10.0.0.2:5672/`) or, after the first, only
    `host[:port]`, which takes the scheme, credentials, virtual host and options of the first
    (`amqp://u:p@rabbit-0:5672/,rabbit-1,rabbit-2:5673`). A comma inside a password is
    written `%2C`, as in any URL.
    """
    parts = [part.strip() for part in url.split(",")]
    if not parts or not all(parts):
        raise ValueError("an empty broker address")
    first = URL(parts[0])
    if first.scheme not in ("amqp", "amqps") or not first.host:
        # Not echoed: it may hold a password.
        raise ValueError("the first broker address is not an amqp:// or amqps:// URL with a host")
    addresses = [str(first)]
    for part in parts[1:]:
        if "://" in part:
            addresses.append(str(URL(part)))
            continue
        host, _, port = part.partition(":")
        if not host or (port and not port.isdigit()):
            raise ValueError(f"not a broker address (host[:port]): {part}")
        addresses.append(str(first.with_host(host).with_port(int(port) if port else first.port)))
    return tuple(addresses)


class FailoverConnection(HotConnection):
    """A `HotConnection` that tries the next of its addresses after every failed attempt or
    lost connection: the nodes of a cluster in turn, every `RECONNECT_INTERVAL_S`.

    aio-pika reconnects to the URL it was given; the address is rotated where every
    failure passes (an attempt that failed or a connection that closed), so the next
    attempt goes to the next node. Subclassed per address list by `failover`, since aio-pika
    builds the connection itself from its class (docs/adr/0006-replies-and-cluster-failover.md).
    """

    ADDRESSES: tuple[URL, ...] = ()

    def __init__(self, url: URL, *args: Any, **kwargs: Any) -> None:
        super().__init__(url, *args, **kwargs)
        self._address = 0
        # aio-pika adds its keyword options to the URL's query and reads them from there:
        # every address keeps them.
        given = self.ADDRESSES[0].query if self.ADDRESSES else {}
        self._options = {k: v for k, v in self.url.query.items() if k not in given}

    async def _on_connection_close(self, closing: "asyncio.Future[Any]") -> None:
        if len(self.ADDRESSES) > 1 and not self._close_called:
            self._address = (self._address + 1) % len(self.ADDRESSES)
            self.url = self.ADDRESSES[self._address].update_query(self._options)
        await super()._on_connection_close(closing)

    async def _on_connected(self) -> None:
        await super()._on_connected()
        if len(self.ADDRESSES) > 1:
            log.info("connected to the broker at %s", self)


@dataclass(frozen=True)
class Failover:
    """How to connect to `VERSIONER_AMQP_URL` with aio-pika's `connect_robust` (or a
    faststream broker, which hands its keywords to it)."""

    first: str
    connection_class: type[FailoverConnection]
    # One address: a service that cannot reach it at start exits (its supervisor starts it
    # again). Several: it waits for any node, trying them in turn (a cluster being restarted
    # node by node, or a node not up yet, is no reason to stop).
    fail_fast: bool
    reconnect_interval: float = RECONNECT_INTERVAL_S


def failover(url: str) -> Failover:
    """The connection plan for `url`: one broker address or several (`broker_addresses`)."""
    addresses = broker_addresses(url)
    connection_class = type(
        "FailoverConnection",
        (FailoverConnection,),
        {"ADDRESSES": tuple(URL(address) for address in addresses)},
    )
    return Failover(
        first=addresses[0], connection_class=connection_class, fail_fast=len(addresses) == 1
    )


async def connect_hot(url: str, name: str) -> AbstractRobustConnection:
    """A `HotConnection` to `url` (one broker address or several, failing over between them),
    named `name` in RabbitMQ's management views."""
    plan = failover(url)
    return await aio_pika.connect_robust(
        plan.first,
        connection_class=plan.connection_class,
        client_properties={"connection_name": name},
        reconnect_interval=plan.reconnect_interval,
        fail_fast=plan.fail_fast,
    )


# When each channel was last renewed after a nack: a nack of many publishes at once (`multiple`)
# renews it once.
_RENEWED: "weakref.WeakKeyDictionary[AbstractChannel, float]" = weakref.WeakKeyDictionary()


async def renew(channel: AbstractChannel) -> None:
    """Close the channel's AMQP channel, so that aio-pika opens a new one in its place (and
    restores what was declared through it, and runs its reopen callbacks); once per
    `RECONNECT_INTERVAL_S` at most.

    Done after the broker nacked a publish. On a RabbitMQ 3.10 cluster, after the node leading
    a quorum queue stopped, a channel that had published to that queue went on nacking every
    publish routed there, for minutes (900 in a row in one run), while the queue had a new
    leader on a running node and took publishes from any other channel: the facts ingest
    accepted were answered 503 until the test gave up, and the outbox relay stalled behind
    its first nacked row (tests/faults/test_cluster.py, one run in three). A new channel
    publishes again (docs/adr/0006-replies-and-cluster-failover.md).
    """
    now = time.monotonic()
    if now - _RENEWED.get(channel, -RECONNECT_INTERVAL_S) < RECONNECT_INTERVAL_S:
        return
    _RENEWED[channel] = now
    if channel.is_closed:
        return
    log.warning("the broker nacked a publish: opening a new channel in place of %s", channel)
    underlay = await channel.get_underlay_channel()
    await underlay.close()


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
    A nack raises `DeliveryError` and renews the channel (`renew`).
    """
    underlay = cast("aiormq.Channel", await channel.get_underlay_channel())
    try:
        return await underlay.basic_publish(
            body,
            exchange=exchange,
            routing_key=routing_key,
            properties=properties,
            mandatory=mandatory,
            wait=False,
        )
    except DeliveryError as exc:
        if isinstance(exc.frame, Basic.Nack):
            await renew(channel)
        raise
