"""The gateway's RPC client: many requests in flight on one AMQP connection.

Two channels, each consuming replies from RabbitMQ's direct reply-to pseudo-queue (a reply
comes back on the channel that published the request), or on a cluster from a queue of its
own (see `AmqpPolicyClient`); replies are matched to waiting callers by correlation id.
Facts go on a channel with publisher confirms: a 202 promises the fact is safe in the
broker. Requests (a start, a query) go on one without, and transient: a lost request is
answered by its deadline anyway, a confirm or a disk write would only add latency
(persistent starts cost the broker 1.5–2 ms more CPU per deployment at one connection, issue
8), and a start that survived a broker restart could only be decided after its caller was
told 503. On a cluster requests are confirmed too (see `connect`): there a refused request
must be told from a slow one.
faststream's `request` is not used here: it holds a lock per broker and opens a consumer per
call, which capped the gateway near 400 requests/s (docs/adr/0001-hand-written-rpc-client.md).
"""

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Protocol

from aio_pika.abc import (
    AbstractChannel,
    AbstractIncomingMessage,
    AbstractRobustChannel,
    AbstractRobustConnection,
)
from aio_pika.exceptions import AMQPError, DeliveryError
from aiormq.abc import DeliveredMessage
from pamqp.commands import Basic

from versioner.common import logs
from versioner.common.broker import connect_hot, publish
from versioner.common.declare import declare_exchange, declare_queues
from versioner.common.names import DEADLINE_HEADER, DIRECT_REPLY_TO, BrokerNames
from versioner.common.topology import Topology

log = logging.getLogger(__name__)

# AMQP delivery mode 2: the broker writes the message to disk.
PERSISTENT = 2
# A reply to a message sent `answered` that has not come in this long is not waited for (nor
# counted) any more: policy is down or restarted (the message waits in its lane, or was
# recorded and its reply went to an earlier connection).
UNANSWERED_FORGET_S = 30.0


class BrokerUnavailable(Exception):  # noqa: N818 - reads as what happened
    """The message could not be handed to the broker (not connected, or refused)."""


class PolicyClient(Protocol):
    """How ingest talks to policy (in tests, bound to policy's handlers in memory)."""

    async def call(
        self, routing_key: str, body: bytes, *, timeout: float, expires: bool
    ) -> bytes | None:
        """Publish a message and wait for its reply; None if none came in time.

        `expires`: a request (a start, a query) that the broker drops once the caller has
        stopped waiting; otherwise a fact, published with a confirm and never expiring.
        Raises `BrokerUnavailable`.
        """
        ...

    async def send(self, routing_key: str, body: bytes, *, answered: bool = False) -> None:
        """Publish a durable message without waiting for a reply (confirmed). `answered`: ask
        for one anyway and count the message in `unanswered` until it comes. Raises
        `BrokerUnavailable`."""
        ...

    @property
    def unanswered(self) -> int:
        """Messages sent `answered` whose reply has not come yet (nor been given up on)."""
        ...

    @property
    def connected(self) -> bool:
        """Whether the broker connection is up."""
        ...


CredentialsListener = Callable[[bytes], Awaitable[None]]


class AmqpPolicyClient:
    """`PolicyClient` over aio-pika."""

    def __init__(self, url: str, names: BrokerNames) -> None:
        self.url = url
        self.names = names
        self._connection: AbstractRobustConnection | None = None
        # [facts: confirmed, requests: unconfirmed]; each consumes its own replies.
        self._channels: list[AbstractChannel] = []
        # Where each channel's replies go: RabbitMQ's direct reply-to on one node; on a
        # cluster (quorum lanes) a queue of the channel's own. RabbitMQ 3.10 closes the whole
        # connection of anyone replying to a direct reply-to address of a node that stopped
        # (INTERNAL_ERROR): after a node stop, every reply to a request sent before it took
        # policy's lanes down again, for 9-18 s. A reply to a queue that is gone is dropped.
        # docs/adr/0006-replies-and-cluster-failover.md.
        self._reply_queues = names.lane_type == "quorum"
        self._reply_to: list[str] = []
        # Whether each channel consumes its replies now: a request published on a channel
        # reopened before its consumer is back is refused by RabbitMQ with a channel error
        # (PRECONDITION_FAILED "fast reply consumer does not exist"); when that closed the
        # channel during aio-pika's own restore, nothing reopened it and ingest answered 503
        # until restarted (broker-restart fault test, one CI run).
        self._consuming: list[bool] = []
        self._pending: dict[str, asyncio.Future[bytes]] = {}
        # Sent `answered`, by correlation id: when each was sent (in send order).
        self._unanswered: dict[str, float] = {}

    async def connect(self) -> None:
        """Connect, declare policy's queues (so facts are kept even before policy first runs)
        and start the reply consumer."""
        self._connection = await connect_hot(self.url, f"versioner-ingest {self.names.prefix}")
        # Facts on the first channel (confirmed, returned when unroutable), requests on the
        # other: unconfirmed on one node; confirmed on a cluster, where a channel opened while
        # a lane's leader was being elected may have every publish to that lane refused (a
        # nack) for minutes: silently dropped, unconfirmed, so starts timed out for a minute
        # (`versioner.common.broker.renew`, which the nack triggers, opens a new channel).
        for index, confirms in enumerate((True, self._reply_queues)):
            channel = await self._connection.channel(
                publisher_confirms=confirms, on_return_raises=index == 0
            )
            self._reply_to.append(DIRECT_REPLY_TO)
            self._consuming.append(False)
            channel.close_callbacks.add(partial(self._stopped_consuming, index))
            await self._consume_replies(channel, index)
            # aio-pika restores what was declared through it, not a consumer on the driver's
            # channel: without this, every request after a reconnect was refused ("fast reply
            # consumer does not exist") until ingest restarted (issue 9).
            channel.reopen_callbacks.add(partial(self._on_reopen, index))
            self._channels.append(channel)
        # Requests in flight when the connection drops get no reply on the next one.
        self._connection.close_callbacks.add(self._connection_lost)
        # Declared once, on a channel closed afterwards: not declared again by aio-pika on
        # every reconnect (on a cluster, a lane whose leader is being elected cannot answer).
        async with self._connection.channel() as setup:
            await declare_queues(self._connection, setup, Topology(self.names).policy_queues)

    async def _consume_replies(self, channel: AbstractRobustChannel, index: int) -> None:
        """Consume this channel's replies, on the driver's channel: aio-pika's consumer wraps
        every reply in an `IncomingMessage` and a task of its own, a tenth of the gateway's
        CPU (issue 8)."""
        underlay = await channel.get_underlay_channel()
        if self._reply_queues:
            declared = await underlay.queue_declare("", exclusive=True, auto_delete=True)
            assert declared.queue is not None
            self._reply_to[index] = declared.queue
        await underlay.basic_consume(self._reply_to[index], self._on_reply, no_ack=True)
        self._consuming[index] = True

    def _stopped_consuming(self, index: int, *_args: object) -> None:
        self._consuming[index] = False

    async def _on_reopen(self, index: int, channel: AbstractRobustChannel | None) -> None:
        if channel is not None:
            await self._consume_replies(channel, index)

    def _connection_lost(self, _connection: object, _exc: BaseException | None = None) -> None:
        """Fail every call waiting for a reply at once (not at its deadline)."""
        for future in self._pending.values():
            if not future.done():
                future.set_exception(BrokerUnavailable("the broker connection was lost"))
        # Their replies are lost with the connection; policy records them all the same.
        self._unanswered.clear()

    async def close(self) -> None:
        """Fail every waiting call and close the connection."""
        for future in self._pending.values():
            future.cancel()
        if self._connection is not None:
            await self._connection.close()

    @property
    def connected(self) -> bool:
        """Whether the broker connection is up (not closed, nor being re-established: a robust
        connection is not closed while it reconnects, and a publish then waits for it) and
        each channel consumes its replies again."""
        return (
            self._connection is not None
            and not self._connection.is_closed
            and self._connection.connected.is_set()
            and bool(self._channels)
            and not any(channel.is_closed for channel in self._channels)
            and all(self._consuming)
        )

    @property
    def connection(self) -> AbstractRobustConnection:
        """The underlying connection (for other consumers on the same broker)."""
        assert self._connection is not None, "connect() first"
        return self._connection

    async def _on_reply(self, message: DeliveredMessage) -> None:
        correlation_id = message.header.properties.correlation_id or ""
        future = self._pending.get(correlation_id)
        if future is not None and not future.done():
            future.set_result(message.body)
        else:
            self._unanswered.pop(correlation_id, None)

    @property
    def unanswered(self) -> int:
        """Messages sent `answered` whose reply has not come; one that waited
        `UNANSWERED_FORGET_S` is no longer counted (policy is down or lost it: it is in the
        broker anyway, or was recorded)."""
        horizon = time.monotonic() - UNANSWERED_FORGET_S
        while self._unanswered:
            oldest = next(iter(self._unanswered))
            if self._unanswered[oldest] > horizon:
                break
            del self._unanswered[oldest]
        return len(self._unanswered)

    async def _publish(
        self, body: bytes, properties: Basic.Properties, routing_key: str, *, fact: bool
    ) -> None:
        """On the driver's channel, as the replies are consumed (and without building an
        aio-pika `Message` per request)."""
        if not self.connected:
            # Not waiting for a reconnect: the caller answers 503 now, its client retries.
            raise BrokerUnavailable("not connected")
        channel = self._channels[0 if fact else 1]
        try:
            await publish(
                channel,
                body,
                exchange=self.names.policy_exchange,
                routing_key=routing_key,
                properties=properties,
                mandatory=fact,
            )
        except DeliveryError as exc:
            raise BrokerUnavailable(f"the broker refused the message: {exc}") from exc
        except (AMQPError, ConnectionError, RuntimeError) as exc:
            raise BrokerUnavailable(str(exc)) from exc

    async def call(
        self, routing_key: str, body: bytes, *, timeout: float, expires: bool
    ) -> bytes | None:
        """Publish a request and wait for its reply (None: no reply in time)."""
        correlation_id = uuid.uuid4().hex
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._pending[correlation_id] = future
        started = time.monotonic()
        try:
            properties = Basic.Properties(
                content_type="application/json",
                # A request outlives neither its deadline nor its caller: kept in memory only.
                delivery_mode=None if expires else PERSISTENT,
                correlation_id=correlation_id,
                reply_to=self._reply_to[0 if not expires else 1],
                # AMQP's expiration: milliseconds, as a string.
                expiration=str(int(timeout * 1000)) if expires else None,
                headers={DEADLINE_HEADER: int((time.time() + timeout) * 1000), **logs.headers()},
            )
            await self._publish(body, properties, routing_key, fact=not expires)
            remaining = timeout - (time.monotonic() - started)
            try:
                return await asyncio.wait_for(future, max(remaining, 0.001))
            except BrokerUnavailable:
                if expires:
                    raise
                return None  # a fact confirmed before the connection dropped: in its lane
        except TimeoutError:
            return None
        finally:
            self._pending.pop(correlation_id, None)

    async def send(self, routing_key: str, body: bytes, *, answered: bool = False) -> None:
        """Publish a durable message without waiting for its reply (`answered`: counted in
        `unanswered` until its reply comes)."""
        if not answered:
            properties = Basic.Properties(
                content_type="application/json", delivery_mode=PERSISTENT, headers=logs.headers()
            )
            await self._publish(body, properties, routing_key, fact=True)
            return
        correlation_id = uuid.uuid4().hex
        properties = Basic.Properties(
            content_type="application/json",
            delivery_mode=PERSISTENT,
            correlation_id=correlation_id,
            reply_to=self._reply_to[0],
            headers=logs.headers(),
        )
        self._unanswered[correlation_id] = time.monotonic()
        try:
            await self._publish(body, properties, routing_key, fact=True)
        except BrokerUnavailable:
            self._unanswered.pop(correlation_id, None)
            raise

    async def listen_for_credentials(self, on_message: CredentialsListener) -> None:
        """Hear policy's credential broadcasts on a queue of this replica's own."""
        channel = await self.connection.channel()
        exchange = await declare_exchange(channel, Topology(self.names).credentials)
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        await queue.bind(exchange)

        async def handle(message: AbstractIncomingMessage) -> None:
            with contextlib.suppress(Exception):
                await on_message(message.body)

        await queue.consume(handle, no_ack=True)
