"""What only the real RabbitMQ can show: RPCs in flight, deadlines, 202s, broadcasts, DLQ."""

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aio_pika
import pytest
from aio_pika import DeliveryMode
from aio_pika.abc import AbstractIncomingMessage
from pamqp.common import FieldTable

from tests.support.stack import Stack, _http, delete_installation, real_stack
from versioner.common.names import BrokerNames, LaneQueueType
from versioner.ingest.app import create_app
from versioner.ingest.gateway import PolicyGateway
from versioner.ingest.rpc import AmqpPolicyClient, BrokerUnavailable
from versioner.policy.deployments import lanes

START = {"version": "1.0.0", "environment_name": "production", "status": "started"}


async def cached_key(stack: Stack) -> dict[str, str]:
    """Headers of an API key that ingest has verified (and cached) while policy was up."""
    headers = stack.auth(await stack.api_key())
    assert (await stack.http.get("/products/", headers=headers)).status_code == 200
    return headers


def started(product: str, **extra: str) -> dict[str, str]:
    return {"product_name": product, **START, **extra}


SLOW_DEADLINE_S = 0.6


@pytest.fixture
async def slow_stack(database_url: str, amqp_url: str) -> AsyncIterator[Stack]:
    """The real stack with a short RPC deadline, so waiting for a stopped policy is quick."""
    async with real_stack(database_url, amqp_url, rpc_timeout_s=SLOW_DEADLINE_S) as running:
        yield running


async def gathering_responder(
    amqp_url: str, names: BrokerNames, hold: int
) -> aio_pika.abc.AbstractConnection:
    """Answer lane 0's requests only once `hold` of them are waiting at the same time.

    A client that sent one request at a time would never get an answer.
    """
    connection = await aio_pika.connect(amqp_url)
    channel = await connection.channel()
    await channel.set_qos(prefetch_count=hold)
    queue = await channel.get_queue(names.lane_queue(0))
    waiting: list[AbstractIncomingMessage] = []

    async def answer(message: AbstractIncomingMessage) -> None:
        waiting.append(message)
        if len(waiting) < hold:
            return
        batch = waiting[:]
        waiting.clear()
        for held in batch:
            await channel.default_exchange.publish(
                aio_pika.Message(held.body, correlation_id=held.correlation_id),
                routing_key=held.reply_to or "",
                mandatory=False,
            )
            await held.ack()

    await queue.consume(answer)
    return connection


# Replies come by direct reply-to on one node, through a queue of the client's own on a
# cluster (quorum lanes): both ways keep many requests in flight and recover.
LANE_TYPES = pytest.mark.parametrize("lane_type", ["classic", "quorum"])


@LANE_TYPES
async def test_rpc_client_keeps_many_requests_in_flight(
    amqp_url: str, lane_type: LaneQueueType
) -> None:
    names = BrokerNames(prefix=f"vt-rpc-{uuid.uuid4().hex[:8]}", lanes=1, lane_type=lane_type)
    client = AmqpPolicyClient(amqp_url, names)
    await client.connect()
    responder = await gathering_responder(amqp_url, names, hold=100)
    try:
        bodies = [f'{{"n": {n}}}'.encode() for n in range(100)]
        replies = await asyncio.gather(
            *(client.call(names.lane_key(0), body, timeout=10, expires=True) for body in bodies)
        )
    finally:
        await responder.close()
        await client.close()
        await delete_installation(amqp_url, names)
    assert replies == bodies, "all hundred were in flight at once, and each got its own reply"


async def drop_connections(name: str) -> int:
    """Have RabbitMQ close every connection whose client named it `name` (as a broker restart
    or a network fault would end it for the client); how many it closed."""

    async def rabbitmqctl(*args: str) -> str:
        process = await asyncio.create_subprocess_exec(
            "rabbitmqctl", "-q", *args, stdout=asyncio.subprocess.PIPE
        )
        out, _ = await process.communicate()
        return out.decode()

    listed = await rabbitmqctl("list_connections", "pid", "client_properties")
    pids = [line.split("\t")[0] for line in listed.splitlines() if f'"{name}"' in line]
    for pid in pids:
        await rabbitmqctl("close_connection", pid, "test: connection dropped")
    return len(pids)


@LANE_TYPES
async def test_rpc_client_recovers_when_the_broker_drops_its_connection(
    amqp_url: str, lane_type: LaneQueueType
) -> None:
    """Calls in flight fail at once (a fact already confirmed is safe in its lane: no error),
    and once the connection is restored the replies come again, with nobody restarting it."""
    names = BrokerNames(prefix=f"vt-rpc-{uuid.uuid4().hex[:8]}", lanes=1, lane_type=lane_type)
    client = AmqpPolicyClient(amqp_url, names)
    await client.connect()
    responder: aio_pika.abc.AbstractConnection | None = None
    try:
        # Nobody consumes the lane yet: both wait for a reply that will not come.
        request = asyncio.create_task(
            client.call(names.lane_key(0), b"request", timeout=30, expires=True)
        )
        fact = asyncio.create_task(
            client.call(names.lane_key(0), b"fact", timeout=30, expires=False)
        )
        await asyncio.sleep(0.2)  # both published and confirmed
        dropped_at = time.monotonic()
        assert await drop_connections(f"versioner-ingest {names.prefix}") == 1
        with pytest.raises(BrokerUnavailable):
            await request
        assert await fact is None
        assert time.monotonic() - dropped_at < 10, "answered at once, not at the deadline"
        responder = await gathering_responder(amqp_url, names, hold=1)
        for _ in range(200):  # reconnecting: aio-pika's robust connection retries every 5 s
            try:
                reply = await client.call(names.lane_key(0), b"again", timeout=1, expires=True)
            except BrokerUnavailable:
                reply = None
            if reply == b"again":
                break
            await asyncio.sleep(0.1)
        assert reply == b"again"
        assert client.connected
    finally:
        if responder is not None:
            await responder.close()
        await client.close()
        await delete_installation(amqp_url, names)


async def test_requests_are_kept_in_memory_and_facts_on_disk(amqp_url: str) -> None:
    """A request (a start, a query) outlives neither its deadline nor its caller, so the broker
    need not write it down; a fact and a message needing no reply must survive a restart."""
    names = BrokerNames(prefix=f"vt-rpc-{uuid.uuid4().hex[:8]}", lanes=1)
    client = AmqpPolicyClient(amqp_url, names)
    await client.connect()
    connection = await aio_pika.connect(amqp_url)
    waiting = [
        asyncio.create_task(client.call(names.lane_key(0), b"request", timeout=5, expires=True)),
        asyncio.create_task(client.call(names.lane_key(0), b"fact", timeout=5, expires=False)),
    ]
    try:
        await client.send(names.lane_key(0), b"sent")
        channel = await connection.channel()
        lane = await channel.get_queue(names.lane_queue(0))
        persistent: dict[bytes, bool] = {}
        while len(persistent) < 3:
            message = await lane.get(fail=False)
            if message is None:
                await asyncio.sleep(0.01)  # not routed yet: the calls publish in their tasks
                continue
            persistent[message.body] = message.delivery_mode == DeliveryMode.PERSISTENT
            await message.ack()
    finally:
        for call in waiting:
            call.cancel()
        await connection.close()
        await client.close()
        await delete_installation(amqp_url, names)
    assert persistent == {b"request": False, b"fact": True, b"sent": True}


async def test_start_without_a_verdict_in_time_is_503_and_leaves_no_ghost(
    slow_stack: Stack,
) -> None:
    headers = await cached_key(slow_stack)
    await slow_stack.stop_policy()

    refused = await slow_stack.http.post(
        "/deployment-events/", json=started("api"), headers=headers
    )

    assert refused.status_code == 503
    assert refused.headers["Retry-After"] == "5"
    assert refused.json()["detail"]["code"] == "POLICY_UNAVAILABLE"
    assert refused.json()["detail"]["retry_after"] is None
    await slow_stack.start_policy()

    # The expired start request was dropped by the broker; the abandonment reached policy, so
    # nothing blocks the next start (a first try may still meet a policy warming up: 503).
    async def allowed() -> bool:
        answer = await slow_stack.http.post(
            "/deployment-events/", json=started("api"), headers=headers
        )
        return answer.status_code == 200

    await slow_stack.wait_for(allowed, timeout=10)
    listed = await slow_stack.http.get("/deployments/", params={"product": "api"}, headers=headers)
    assert [d["status"] for d in listed.json()].count("started") == 1
    assert {d["abort_reason"] for d in listed.json() if d["status"] == "aborted"} <= {"abandoned"}


async def test_fact_without_policy_is_accepted_then_recorded(slow_stack: Stack) -> None:
    headers = await cached_key(slow_stack)
    await slow_stack.stop_policy()

    accepted = await slow_stack.http.post(
        "/build-events/",
        json={"product_name": "api", "version": "2.0.0", "status": "completed", "scm_sha": "abc"},
        headers=headers,
    )

    assert accepted.status_code == 202
    body = accepted.json()
    assert body == {"id": body["event_id"], "event_id": body["event_id"], "status": "accepted"}
    await slow_stack.start_policy()

    async def recorded() -> bool:
        answer = await slow_stack.http.get(f"/events/{body['event_id']}", headers=headers)
        return answer.status_code == 200 and answer.json()["status"] == "recorded"

    await slow_stack.wait_for(recorded, timeout=10)
    versions = await slow_stack.http.get("/versions/", params={"product": "api"}, headers=headers)
    assert versions.json()[0]["registered"] is True


async def test_unknown_token_while_policy_is_down_is_refused_without_queueing(
    slow_stack: Stack,
) -> None:
    key = await slow_stack.api_key()
    await slow_stack.stop_policy()
    first = await slow_stack.http.get("/products/", headers=slow_stack.auth("pat_" + "u" * 40))
    assert first.status_code == 503

    began = time.perf_counter()
    second = await slow_stack.http.get("/products/", headers=slow_stack.auth("pat_" + "v" * 40))
    assert second.status_code == 503
    # Waiting for policy would take the whole deadline: anything less is "at once".
    assert time.perf_counter() - began < SLOW_DEADLINE_S, "refused at once, not after a deadline"
    # A credential verified before policy went down still works for what needs no policy.
    assert (
        await slow_stack.http.get("/health/live", headers=slow_stack.auth(key))
    ).status_code == 200


async def test_revoked_key_is_refused_at_once_by_another_gateway(
    database_url: str, amqp_url: str
) -> None:
    async with real_stack(database_url, amqp_url) as first:
        # A second ingest replica on the same installation, with its own credential cache.
        second_app = create_app(first.ingest_settings)
        async with _http(second_app) as second:
            key = await first.api_key()
            created = await first.http.get("/api-keys/", headers=first.admin)
            key_id = created.json()[0]["id"]
            assert (await second.get("/products/", headers=first.auth(key))).status_code == 200

            assert (
                await first.http.delete(f"/api-keys/{key_id}", headers=first.admin)
            ).status_code == 204

            async def refused() -> bool:
                response = await second.get("/products/", headers=first.auth(key))
                return response.status_code == 401

            # The cache keeps a credential up to 60 s; the broadcast must beat that by far.
            await first.wait_for(refused, timeout=3)


@pytest.mark.transports("rabbit")
async def test_poison_message_is_dead_lettered_and_expired_requests_are_not(
    stack: Stack, amqp_url: str
) -> None:
    names = stack.policy.settings.names
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        exchange = await channel.get_exchange(names.policy_exchange)
        await exchange.publish(
            aio_pika.Message(b'{"kind": "nonsense"}', content_type="application/json"),
            routing_key=names.lane_key(0),
        )

        async def dead_lettered() -> bool:
            queue = await channel.declare_queue(names.dead_letter_queue, passive=True)
            return (queue.declaration_result.message_count or 0) >= 1

        await stack.wait_for(dead_lettered, timeout=15)
        queue = await channel.declare_queue(names.dead_letter_queue, passive=True)
        assert queue.declaration_result.message_count == 1
        unreadable = await queue.get()
        assert unreadable is not None
        assert (unreadable.headers or {})["versioner-dead-reason"] == "lane-unreadable"
        assert unreadable.body == b'{"kind": "nonsense"}'
        await unreadable.nack(requeue=True)  # left for the count below

        # A start request nobody waits for any more expires in its lane and is simply dropped.
        await stack.stop_policy()
        await exchange.publish(
            aio_pika.Message(b"{}", expiration=0.05, content_type="application/json"),
            routing_key=names.lane_key(1),
        )

        async def lane_empty() -> bool:
            lane = await channel.declare_queue(names.lane_queue(1), passive=True)
            return lane.declaration_result.message_count == 0

        await stack.wait_for(lane_empty, timeout=5)
        queue = await channel.declare_queue(names.dead_letter_queue, passive=True)
        assert queue.declaration_result.message_count == 1


async def test_a_lane_created_as_quorum_is_kept_with_the_classic_default(amqp_url: str) -> None:
    names = BrokerNames(prefix=f"vt-type-{uuid.uuid4().hex[:8]}", lanes=2)
    assert names.lane_type == "classic"
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        quorum: FieldTable = {"x-queue-type": "quorum", "x-single-active-consumer": True}
        await channel.declare_queue(names.lane_queue(0), durable=True, arguments=quorum)
    client = AmqpPolicyClient(amqp_url, names)
    try:
        await client.connect()  # declares both lanes: lane 0 as it is, lane 1 as classic
        await client.send(names.lane_key(0), b"{}")
        await client.send(names.lane_key(1), b"{}")
        channel = await client.connection.channel()
        for lane in range(2):
            queue = await channel.declare_queue(names.lane_queue(lane), passive=True)
            assert queue.declaration_result.message_count == 1
    finally:
        await client.close()
        await delete_installation(amqp_url, names)


@pytest.mark.transports("rabbit")
async def test_a_lane_message_that_fails_is_tried_again_after_a_pause(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    handle = lanes.handle
    failures = [RuntimeError("the database is busy")]

    async def flaky(*args: Any) -> Any:
        if failures:
            raise failures.pop()
        return await handle(*args)

    monkeypatch.setattr(lanes, "handle", flaky)
    ci = stack.auth(await stack.api_key())
    started_at = time.monotonic()
    response = await stack.http.post("/deployment-events/", json=started("retried"), headers=ci)
    assert response.status_code == 200, response.text
    assert not failures
    assert time.monotonic() - started_at >= 0.1  # the pause before the second try


@pytest.mark.transports("rabbit")
async def test_a_lane_message_that_keeps_failing_is_dead_lettered(
    stack: Stack, amqp_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*_args: Any) -> Any:
        raise RuntimeError("always")

    monkeypatch.setattr(lanes, "handle", broken)
    names = stack.policy.settings.names
    ci = stack.auth(await stack.api_key())
    build = {"product_name": "poison", "version": "1.0.0", "status": "completed"}
    response = await stack.http.post("/build-events/", json=build, headers=ci)
    assert response.status_code == 202, response.text  # safe in the broker, not recorded
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()

        async def dead_lettered() -> bool:
            queue = await channel.declare_queue(names.dead_letter_queue, passive=True)
            return (queue.declaration_result.message_count or 0) >= 1

        # Five tries, 0.1 + 0.2 + 0.4 + 0.8 s apart.
        await stack.wait_for(dead_lettered, timeout=15)
        dead = await (await channel.declare_queue(names.dead_letter_queue, passive=True)).get()
        assert dead is not None
        await dead.ack()
    # The operator sees why, where from and after how many tries; the body is the message.
    headers = dead.headers or {}
    assert headers["versioner-dead-reason"] == "lane-failed"
    assert headers["versioner-dead-error"] == "RuntimeError: always"
    assert headers["versioner-dead-tries"] == 5
    assert headers["versioner-dead-routing-key"] == names.lane_key(names.lane_for("poison"))
    assert b'"product_name":"poison"' in dead.body


async def test_a_verdict_the_broker_did_not_take_blocks_nothing_even_without_the_gateway(
    slow_stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The broker went away between policy's verdict and its reply, and the gateway, which
    answered 503, died before it could say so: policy closes the start by itself."""
    reply = lanes.LaneConsumer._reply
    lost: list[bytes] = []

    async def broker_gone(
        self: lanes.LaneConsumer, channel: Any, message: Any, body: bytes
    ) -> None:
        if b'"version":"1.0.0"' in message.body and not lost:
            lost.append(body)
            raise ConnectionError("the broker went away")
        await reply(self, channel, message, body)

    async def gateway_dead(*_args: Any) -> None:
        return None

    monkeypatch.setattr(lanes.LaneConsumer, "_reply", broker_gone)
    monkeypatch.setattr(PolicyGateway, "abandon", gateway_dead)
    ci = await cached_key(slow_stack)
    first = await slow_stack.http.post("/deployment-events/", json=started("lost"), headers=ci)
    assert first.status_code == 503, first.text
    assert lost, "the verdict was given, and lost"

    async def closed() -> bool:
        listed = await slow_stack.http.get("/deployments/", params={"product": "lost"}, headers=ci)
        return [d["status"] for d in listed.json()] == ["aborted"]

    await slow_stack.wait_for(closed, timeout=10)
    second = await slow_stack.http.post(
        "/deployment-events/", json=started("lost", version="2.0.0"), headers=ci
    )
    assert second.status_code == 200, second.text


@pytest.mark.transports("rabbit")
async def test_a_verdict_goes_out_while_the_confirming_channel_is_reopening(
    stack: Stack,
) -> None:
    """After a reconnect the consuming channel may deliver before the confirming one is back:
    the verdict goes on the channel that delivered its request, and the start is let through
    (it was closed as if the broker had gone away, and answered 503 at the deadline)."""
    consumer = stack.policy.lanes
    assert consumer._confirmed is not None
    await consumer._confirmed.close()
    ci = await cached_key(stack)
    answer = await stack.http.post("/deployment-events/", json=started("reopening"), headers=ci)
    assert answer.status_code == 200, answer.text
    listed = await stack.http.get("/deployments/", params={"product": "reopening"}, headers=ci)
    assert [d["status"] for d in listed.json()] == ["started"]
