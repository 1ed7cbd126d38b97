"""Policy started again with start requests waiting in its lanes: each gets its verdict.

A lane with a backlog delivers the moment policy consumes it; replies need the lane
consumer's channels then, not once every lane is consumed (the kill -9 fault test found every
verdict of a restarted policy's first fraction of a second lost, the starts closed, 503).
"""

import asyncio
import time
from collections.abc import AsyncIterator

import aio_pika
import pytest

from tests.support.stack import Stack, real_stack

PRODUCTS = 8
# Long enough for policy to start on a loaded CI host: the verdicts must come, not a 503.
DEADLINE_S = 30.0


@pytest.fixture
async def patient_stack(database_url: str, amqp_url: str) -> AsyncIterator[Stack]:
    """The real stack with a long RPC deadline."""
    async with real_stack(database_url, amqp_url, rpc_timeout_s=DEADLINE_S) as running:
        yield running


async def _waiting(stack: Stack, amqp_url: str) -> int:
    """Messages waiting in the lanes."""
    names = stack.ingest_settings.names
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        total = 0
        for lane in range(names.lanes):
            queue = await channel.declare_queue(names.lane_queue(lane), passive=True)
            total += queue.declaration_result.message_count or 0
        return total


async def test_starts_waiting_in_the_lanes_get_their_verdicts_when_policy_starts(
    patient_stack: Stack, amqp_url: str
) -> None:
    stack = patient_stack
    headers = stack.auth(await stack.api_key())
    assert (await stack.http.get("/products/", headers=headers)).status_code == 200  # cached
    await stack.stop_policy()
    starts = [
        asyncio.create_task(
            stack.http.post(
                "/deployment-events/",
                json={
                    "product_name": f"svc-{n}",
                    "version": "1.0",
                    "environment_name": "production",
                    "status": "started",
                },
                headers=headers,
                timeout=DEADLINE_S + 10,
            )
        )
        for n in range(PRODUCTS)
    ]
    deadline = time.monotonic() + DEADLINE_S / 2
    while await _waiting(stack, amqp_url) < PRODUCTS:
        assert time.monotonic() < deadline, "the starts never reached the lanes"
        await asyncio.sleep(0.02)

    await stack.start_policy()

    answers = await asyncio.gather(*starts)
    assert [a.status_code for a in answers] == [200] * PRODUCTS, [a.text for a in answers]
    for n in range(PRODUCTS):
        product = {"product": f"svc-{n}"}
        listed = await stack.http.get("/deployments/", params=product, headers=headers)
        assert [d["status"] for d in listed.json()] == ["started"]
