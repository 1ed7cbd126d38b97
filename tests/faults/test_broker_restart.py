"""A RabbitMQ restart, on a node of the test's own: every service comes back by itself."""

import asyncio
import time
from pathlib import Path

import pytest

from tests.faults import burst
from tests.support.brokers import own_broker
from tests.support.databases import sqlite_url
from tests.support.receiver import Receiver
from tests.support.stack import NotifierSetup, real_stack

# Issue 9: ingest answers 200 again within this long of the broker accepting connections.
RECOVERY_S = 5.0


def started(version: str) -> dict[str, str]:
    return {
        "product_name": "api",
        "version": version,
        "environment_name": "production",
        "status": "started",
    }


async def test_after_a_broker_restart_the_gate_answers_again_by_itself(tmp_path: Path) -> None:
    async with own_broker() as broker, real_stack(sqlite_url(tmp_path), broker.url) as stack:
        ci = stack.auth(await stack.api_key())
        first = await stack.http.post("/deployment-events/", json=started("1.0"), headers=ci)
        assert first.status_code == 200, first.text
        done = await stack.http.post(
            "/deployment-events/", json={**started("1.0"), "status": "completed"}, headers=ci
        )
        assert done.status_code in (200, 202)

        await broker.stop()
        stopped_at = time.monotonic()
        down = await stack.http.post("/deployment-events/", json=started("2.0"), headers=ci)
        assert down.status_code == 503
        assert time.monotonic() - stopped_at < 2, "refused at once while the broker is away"
        health = await stack.http.get("/health")
        assert health.status_code == 503
        assert health.json()["broker"] != "up"

        accepting_at = await broker.start()
        while True:
            answer = await stack.http.post("/deployment-events/", json=started("2.0"), headers=ci)
            if answer.status_code == 200:
                break
            assert answer.status_code == 503, answer.text
            assert time.monotonic() - accepting_at < RECOVERY_S, "not back in time"
            await asyncio.sleep(0.1)
        recovered_s = time.monotonic() - accepting_at
        print(f"ingest answered 200 {recovered_s:.2f} s after the broker accepted connections")
        assert answer.json()["status"] == "started"
        health = await stack.http.get("/health")
        assert health.status_code == 200, health.text
        # The fact accepted before the restart was kept by the broker and recorded once.
        listed = await stack.http.get(
            "/deployments/", params={"product": "api", "environment": "production"}, headers=ci
        )
        by_version = {d["version"]: d["status"] for d in listed.json()}
        assert by_version == {"1.0": "completed", "2.0": "started"}


WORKERS = 8
DEPLOYMENTS_EACH = 40


@pytest.mark.timeout(300)
async def test_a_broker_restart_under_load_loses_nothing_and_blocks_nothing(
    tmp_path: Path, receiver: Receiver, notifier: NotifierSetup
) -> None:
    async with (
        own_broker() as broker,
        real_stack(sqlite_url(tmp_path), broker.url, notifier=notifier) as stack,
    ):
        gateway = burst.One(stack.http)
        channel_id = await burst.webhook_channel(gateway, stack.admin, receiver.url("/hook"))
        ci = stack.auth(await stack.api_key())
        pipelines = [
            burst.Pipeline(gateway, ci, f"svc-{n}", versions=DEPLOYMENTS_EACH)
            for n in range(WORKERS)
        ]
        running = asyncio.gather(*(pipeline.run() for pipeline in pipelines))
        await burst.until_shipped(pipelines, WORKERS * 2, running)
        await broker.stop()
        await asyncio.sleep(1.0)
        accepting_at = await broker.start()
        await running
        print(f"burst done {time.monotonic() - accepting_at:.1f} s after the broker came back")

        figures = await burst.recorded_once(burst.Reader(gateway, ci), pipelines)
        print(figures)
        assert figures.unavailable, "the broker went away while the pipelines ran"
        assert figures.no_answer == 0, "in process, every request is answered"
        burst.assert_clean(figures)
        assert all(len(p.shipped) == DEPLOYMENTS_EACH for p in pipelines)

        # Every event reached the webhook at least once; a re-send kept its delivery id.
        expected = await burst.announced(burst.Reader(gateway, ci), [p.product for p in pipelines])
        deliveries = await burst.delivered_once_each(receiver, "/hook", expected)
        print(deliveries)
        admin = burst.Reader(gateway, stack.admin)
        await burst.delivery_log_agrees(admin, channel_id, deliveries)
