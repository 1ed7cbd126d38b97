"""A RabbitMQ restart, on a node of the test's own: every service comes back by itself."""

import asyncio
import time
from pathlib import Path

import pytest

from tests.support.brokers import own_broker
from tests.support.databases import sqlite_url
from tests.support.receiver import Receiver
from tests.support.stack import NotifierSetup, Stack, real_stack

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
GIVE_UP_S = 60.0
DELIVERY_S = 90.0


class Pipeline:
    """One CI pipeline deploying versions of its own product, one after the other, retrying a
    503 as Versioner's CLI users do; what it was answered is kept."""

    def __init__(self, stack: Stack, headers: dict[str, str], product: str) -> None:
        self.stack = stack
        self.headers = headers
        self.product = product
        self.answers: list[tuple[str, str, int]] = []  # (version, status sent, HTTP status)
        self.shipped: list[str] = []

    async def _send(self, version: str, status: str) -> int:
        body = {**started(version), "product_name": self.product, "status": status}
        deadline = time.monotonic() + GIVE_UP_S
        while True:
            answer = await self.stack.http.post(
                "/deployment-events/", json=body, headers=self.headers
            )
            self.answers.append((version, status, answer.status_code))
            if answer.status_code != 503:
                return answer.status_code
            assert time.monotonic() < deadline, f"{self.product} {version}: 503 for a minute"
            await asyncio.sleep(0.2)

    async def run(self) -> None:
        for n in range(DEPLOYMENTS_EACH):
            version = f"1.{n}"
            if await self._send(version, "started") != 200:
                continue
            if await self._send(version, "completed") in (200, 202):
                self.shipped.append(version)


@pytest.mark.timeout(300)
async def test_a_broker_restart_under_load_loses_nothing_and_blocks_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    notifier = NotifierSetup(database_url=f"sqlite+aiosqlite:///{tmp_path / 'notifier.db'}")
    async with (
        Receiver() as receiver,
        own_broker() as broker,
        real_stack(sqlite_url(tmp_path), broker.url, notifier=notifier) as stack,
    ):
        hook = {
            "name": "releases",
            "kind": "webhook",
            "config": {"url": receiver.url("/hook")},
            "events": ["deployment.completed"],
        }
        made = await stack.http.post("/notification-channels/", json=hook, headers=stack.admin)
        assert made.status_code == 201, made.text
        ci = stack.auth(await stack.api_key())
        pipelines = [Pipeline(stack, ci, f"svc-{n}") for n in range(WORKERS)]
        burst = asyncio.gather(*(pipeline.run() for pipeline in pipelines))
        while sum(len(p.shipped) for p in pipelines) < WORKERS * 2:
            await asyncio.sleep(0.05)
        await broker.stop()
        await asyncio.sleep(1.0)
        accepting_at = await broker.start()
        await burst
        print(f"burst done {time.monotonic() - accepting_at:.1f} s after the broker came back")

        answers = [status for p in pipelines for _, _, status in p.answers]
        print(
            f"answers: {len(answers)}, 503s: {answers.count(503)},"
            f" 409s: {answers.count(409)}, shipped: {sum(len(p.shipped) for p in pipelines)}"
        )
        assert 503 in answers, "the broker went away while the pipelines ran"
        assert 409 not in answers, "a pipeline deploying alone was refused: a false block"
        assert set(answers) <= {200, 202, 503}
        assert all(len(p.shipped) == DEPLOYMENTS_EACH for p in pipelines)

        async def recorded(pipeline: Pipeline) -> dict[str, list[str]]:
            while True:  # 503 until every connection is back, as for any client
                listed = await stack.http.get(
                    "/deployments/",
                    params={"product": pipeline.product, "limit": 200},
                    headers=ci,
                )
                if listed.status_code != 503:
                    break
                await asyncio.sleep(0.2)
            assert listed.status_code == 200, listed.text
            by_version: dict[str, list[str]] = {}
            for d in listed.json():
                by_version.setdefault(d["version"], []).append(d["status"])
            return by_version

        deadline = time.monotonic() + 30
        for pipeline in pipelines:
            while True:
                by_version = await recorded(pipeline)
                done = all("completed" in by_version.get(v, []) for v in pipeline.shipped)
                if done:
                    break
                assert time.monotonic() < deadline, f"{pipeline.product}: {by_version}"
                await asyncio.sleep(0.2)
            for version, statuses in by_version.items():
                # Once completed, never twice; a start answered 503 may have left an attempt
                # that policy closed (aborted), never one still in progress.
                assert statuses.count("completed") == 1, (pipeline.product, version, statuses)
                assert "started" not in statuses, (pipeline.product, version, statuses)

        # Every completion reached the webhook at least once; a re-send kept its delivery id.
        shipped = {(p.product, v) for p in pipelines for v in p.shipped}

        def delivered() -> dict[tuple[str, str], set[str]]:
            seen: dict[tuple[str, str], set[str]] = {}
            for request in receiver.requests_to("/hook"):
                body = request.json()
                key = (body["product_name"], body["version"])
                seen.setdefault(key, set()).add(request.headers["X-Versioner-Delivery"])
            return seen

        # The notifier delivers one event at a time: on a loaded CI host that takes a while.
        deadline = time.monotonic() + DELIVERY_S
        while set(delivered()) != shipped:
            missing = shipped - set(delivered())
            assert time.monotonic() < deadline, f"never delivered: {sorted(missing)[:5]}"
            await asyncio.sleep(0.2)
        assert all(len(ids) == 1 for ids in delivered().values())
        print(f"webhook deliveries: {len(receiver.requests_to('/hook'))} for {len(shipped)}")
