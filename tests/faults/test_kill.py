"""Services killed with -9 in the middle of a burst, then started again after a second (as
compose or Kubernetes would): nothing accepted is lost or doubled, nothing is left started or
falsely blocked, every domain event reaches the webhook (a re-send under its first delivery
id), a deployment button fires at most once, and each service serves again by itself.

Each test runs the real processes (`tests/support/processes.py`) on a RabbitMQ node of its
own; the pipelines are the fault tests' (`burst.py`), over many products at once.
"""

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.faults import burst
from tests.support.brokers import own_broker
from tests.support.databases import postgres_database, sqlite_url
from tests.support.processes import Installation, installation
from tests.support.receiver import Receiver, Reply
from tests.support.services import postgres_answers, require
from tests.support.stack import BOOTSTRAP_TOKEN

PRODUCTS = 12
VERSIONS = 32
# The supervisor's pause before starting a killed process again.
RESTART_AFTER_S = 1.0
HOOK = "/hook"
ADMIN = {"Authorization": f"Bearer {BOOTSTRAP_TOKEN}"}


@dataclass
class Scene:
    """A running installation, the webhook receiver and the burst's pipelines."""

    services: Installation
    receiver: Receiver
    clients: list[httpx.AsyncClient]
    ci: dict[str, str]
    channel_id: str
    routes: list[burst.Ingests]
    pipelines: list[burst.Pipeline]

    def gateway(self, first: int = 0) -> burst.Ingests:
        """The ingests, tried in turn from the `first`."""
        return burst.Ingests(self.clients, current=first % len(self.clients))

    @property
    def reader(self) -> burst.Reader:
        """Reads the API with the pipelines' key."""
        return burst.Reader(self.gateway(), self.ci)

    @property
    def total(self) -> int:
        """Versions the burst ships when all goes well."""
        return sum(len(p.versions) for p in self.pipelines)

    def run(self) -> "asyncio.Future[list[None]]":
        """Start the burst: every pipeline at once."""
        started_at = time.monotonic()
        load = asyncio.gather(*(p.run() for p in self.pipelines))
        load.add_done_callback(lambda _: print(f"burst: {time.monotonic() - started_at:.1f} s"))
        return load

    async def supervise(self, name: str, killed_at: float) -> float:
        """Start a killed process again after the supervisor's pause; when it was ready."""
        await asyncio.sleep(max(0.0, killed_at + RESTART_AFTER_S - time.monotonic()))
        return await self.services.start(name)

    async def check(self) -> tuple[burst.Figures, burst.Deliveries]:
        """Everything the issue asks after a burst: records, then webhook deliveries."""
        figures = await burst.recorded_once(self.reader, self.pipelines)
        print(figures)
        burst.assert_clean(figures)
        assert all(p.shipped == p.versions for p in self.pipelines)
        expected = await burst.announced(self.reader, [p.product for p in self.pipelines])
        deliveries = await burst.delivered_once_each(self.receiver, HOOK, expected)
        print(deliveries)
        await burst.delivery_log_agrees(
            burst.Reader(self.gateway(), ADMIN), self.channel_id, deliveries
        )
        return figures, deliveries


async def _api_key(gateway: burst.Gateway) -> str:
    deadline = time.monotonic() + burst.GIVE_UP_S
    while True:
        made = await gateway.request("POST", "/api-keys/", json={"name": "ci"}, headers=ADMIN)
        if made.status_code != 503 or time.monotonic() > deadline:
            break
        await asyncio.sleep(burst.PAUSE_S)
    assert made.status_code == 201, made.text
    key: str = made.json()["key"]
    return key


@asynccontextmanager
async def scene(
    tmp_path: Path,
    *,
    postgres: bool = False,
    policies: int = 1,
    ingests: int = 1,
    versions: int = VERSIONS,
) -> AsyncIterator[Scene]:
    """The services as processes (SQLite, or PostgreSQL for both databases), a webhook
    channel for every event of the burst, and its pipelines (spread over the ingests)."""
    if postgres:
        require(postgres_answers(), "PostgreSQL")
    async with AsyncExitStack() as stack:
        receiver = await stack.enter_async_context(Receiver())
        broker = await stack.enter_async_context(own_broker())
        if postgres:
            database = await stack.enter_async_context(postgres_database())
            notifier_database = await stack.enter_async_context(postgres_database())
        else:
            database = sqlite_url(tmp_path)
            notifier_database = f"sqlite+aiosqlite:///{tmp_path / 'notifier.db'}"
        services = await stack.enter_async_context(
            installation(
                tmp_path / "services",
                broker.url,
                database,
                notifier_database,
                policies=policies,
                ingests=ingests,
            )
        )
        clients = [burst.gateway_client(url) for url in services.ingest_urls]
        for client in clients:
            stack.push_async_callback(client.aclose)
        gateway = burst.Ingests(clients)
        channel_id = await burst.webhook_channel(gateway, ADMIN, receiver.url(HOOK))
        ci = {"Authorization": f"Bearer {await _api_key(gateway)}"}
        # Each pipeline starts on an ingest of its own and moves on when that one fails.
        routes = [burst.Ingests(clients, current=n % len(clients)) for n in range(PRODUCTS)]
        pipelines = [
            burst.Pipeline(route, ci, f"svc-{n}", versions=versions)
            for n, route in enumerate(routes)
        ]
        yield Scene(services, receiver, clients, ci, channel_id, routes, pipelines)


def _gate_back(pipelines: list[burst.Pipeline], killed_at: float) -> float:
    """Seconds from the kill to the first start sent after it and let through."""
    back = burst.first_start_after(pipelines, killed_at)
    assert back is not None, "no start went through after the kill"
    return back - killed_at


@pytest.mark.timeout(300)
async def test_policy_killed_mid_burst_loses_nothing_and_comes_back(tmp_path: Path) -> None:
    async with scene(tmp_path) as running:
        load = running.run()
        await burst.until_shipped(running.pipelines, running.total // 4, load)
        killed_at = running.services.kill9("policy")
        ready_at = await running.supervise("policy", killed_at)
        healthy_at = await running.services.healthy()
        await load
        cut = burst.in_flight(running.pipelines, killed_at)
        assert cut, "the kill cut into requests in flight"
        await running.check()
        print(
            f"policy killed with {cut} requests in flight: ready {ready_at - killed_at:.1f} s "
            f"and /health 200 {healthy_at - killed_at:.1f} s after the kill (restarted after "
            f"{RESTART_AFTER_S:.0f} s); first start let through "
            f"{_gate_back(running.pipelines, killed_at):.1f} s after it; webhook silent "
            f"{burst.longest_silence(running.receiver, HOOK, killed_at):.1f} s at most"
        )


async def _button(running: Scene, product: str, path: str) -> str:
    body = {
        "product": product,
        "environments": [burst.ENVIRONMENT],
        "label": "Deploy",
        "kind": "webhook",
        "url_template": running.receiver.url(path),
        "body_template": '{"version": "{vi_version}"}',
        "secret": "button-secret-0123456789",
    }
    made = await running.gateway().request("POST", "/deployment-buttons/", json=body, headers=ADMIN)
    assert made.status_code == 201, made.text
    button_id: str = made.json()["id"]
    return button_id


async def _firings(running: Scene, button_id: str) -> list[dict[str, Any]]:
    """The button's firings once none is `firing` any more."""
    admin = burst.Reader(running.gateway(), ADMIN)
    deadline = time.monotonic() + burst.DELIVERY_S
    while True:
        listed = await admin.get(f"/deployment-buttons/{button_id}/firings")
        assert listed.status_code == 200, listed.text
        firings: list[dict[str, Any]] = listed.json()
        if all(f["status"] != "firing" for f in firings) or time.monotonic() > deadline:
            return firings
        await asyncio.sleep(burst.PAUSE_S)


@pytest.mark.timeout(300)
async def test_notifier_killed_with_a_delivery_and_a_button_in_flight(tmp_path: Path) -> None:
    # A longer burst: both kills and restarts happen while it runs.
    async with scene(tmp_path, versions=2 * VERSIONS) as running:
        receiver, services = running.receiver, running.services
        load = running.run()
        first = running.pipelines[0]
        await burst.until_shipped([first], 1, load)

        # A button fired: its call hangs at the receiver, and the notifier dies during it.
        # Deliveries queue up behind it meanwhile (the notifier takes one event at a time).
        button_path = f"/deploy/{first.product}"
        receiver.script(button_path, Reply(delay=120))
        button_id = await _button(running, first.product, button_path)
        fired = await running.gateway().request(
            "POST",
            f"/deployment-buttons/{button_id}/fire",
            json={"version": first.shipped[0], "environment": burst.ENVIRONMENT},
            headers=ADMIN,
        )
        assert fired.status_code == 202, fired.text
        await receiver.wait_for(1, timeout=burst.DELIVERY_S, path=button_path)
        button_killed_at = services.kill9("notifier")
        button_mid_burst = not load.done()

        # Started again, its first webhook delivery (of those queued) hangs: killed again.
        before = len(receiver.requests_to(HOOK))
        receiver.script(HOOK, Reply(delay=120))
        await running.supervise("notifier", button_killed_at)
        button_back = await services.notifier_answers() - button_killed_at
        await receiver.wait_for(before + 1, timeout=burst.DELIVERY_S, path=HOOK)
        in_flight = receiver.requests_to(HOOK)[before]
        hook_killed_at = services.kill9("notifier")
        hook_mid_burst = not load.done()
        await running.supervise("notifier", hook_killed_at)
        hook_back = await services.notifier_answers() - hook_killed_at

        await load
        _, deliveries = await running.check()
        # The delivery cut short was sent again, under its own id (checked for every event).
        delivery = in_flight.headers["X-Versioner-Delivery"]
        again = [
            r for r in receiver.requests_to(HOOK) if r.headers["X-Versioner-Delivery"] == delivery
        ]
        assert len(again) >= 2, in_flight.json()
        assert deliveries.resent >= 1
        # The button: called once, never again; its firing closed as the product documents.
        firings = await _firings(running, button_id)
        assert [f["id"] for f in firings] == [fired.json()["firing_id"]], firings
        assert firings[0]["status"] == "failed", firings
        assert "outcome unknown" in firings[0]["error"], firings
        assert len(receiver.requests_to(button_path)) == 1
        print(
            f"notifier killed with a button call in flight (burst running: {button_mid_burst}), "
            f"answering again {button_back:.1f} s after; killed with a delivery in flight "
            f"(burst running: {hook_mid_burst}), answering again {hook_back:.1f} s after; "
            f"the delivery re-sent {len(again) - 1} time under its id, the button called "
            f"{len(receiver.requests_to(button_path))} time, its firing "
            f"{firings[0]['status']}: {firings[0]['error']}"
        )


@pytest.mark.timeout(300)
async def test_ingest_killed_mid_burst_clients_retry_and_nothing_is_blocked(
    tmp_path: Path,
) -> None:
    async with scene(tmp_path) as running:
        load = running.run()
        await burst.until_shipped(running.pipelines, running.total // 4, load)
        killed_at = running.services.kill9("ingest")
        killed_wall = datetime.now(UTC)
        ready_at = await running.supervise("ingest", killed_at)
        healthy_at = await running.services.healthy()
        await load
        cut = burst.in_flight(running.pipelines, killed_at)
        assert cut, "the kill cut into requests in flight"
        figures, _ = await running.check()
        replayed = _replayed(running.pipelines, killed_at, killed_wall)
        print(
            f"ingest killed with {cut} requests in flight: serving {ready_at - killed_at:.1f} s "
            f"and /health 200 {healthy_at - killed_at:.1f} s after the kill (restarted after "
            f"{RESTART_AFTER_S:.0f} s); {figures.no_answer} requests unanswered, retried; "
            f"{replayed} starts whose answer the kill lost were answered by a replay of the "
            "deployment they had recorded"
        )


def _replayed(pipelines: list[burst.Pipeline], killed_at: float, killed: datetime) -> int:
    """Starts sent after the kill and let through with a deployment the killed ingest had
    received: the retry (same `invoke_id`) of a start whose answer the kill lost."""
    return sum(
        a.status == "started"
        and a.code == 200
        and a.sent_at > killed_at
        and datetime.fromisoformat(a.body["deployed_at"]) < killed
        for p in pipelines
        for a in p.answers
    )


@pytest.mark.postgres
@pytest.mark.timeout(300)
async def test_two_policies_and_two_ingests_on_postgres_one_of_each_killed(
    tmp_path: Path,
) -> None:
    async with scene(tmp_path, postgres=True, policies=2, ingests=2) as running:
        services = running.services
        load = running.run()
        await burst.until_shipped(running.pipelines, running.total // 4, load)
        # The first policy holds the lanes (single active consumer) and the relay's lease;
        # the lanes move to the second by themselves, and stay there once the first is back.
        killed_at = services.kill9("policy")
        services.kill9("ingest")
        policy_ready, ingest_ready = await asyncio.gather(
            running.supervise("policy", killed_at), running.supervise("ingest", killed_at)
        )
        healthy_at = await services.healthy()
        await load
        cut = burst.in_flight(running.pipelines, killed_at)
        assert cut, "the kills cut into requests in flight"
        moved = sum(r.failovers for r in running.routes)
        assert moved, "pipelines on the killed ingest moved to the other one"
        await running.check()
        print(
            f"policy and ingest killed with {cut} requests in flight: the survivors let a "
            f"start through {_gate_back(running.pipelines, killed_at):.1f} s after the kill, "
            f"{moved} requests moved to the other ingest; the killed ones serving again "
            f"{policy_ready - killed_at:.1f} s (policy) and {ingest_ready - killed_at:.1f} s "
            f"(ingest) after it, both ingests healthy at {healthy_at - killed_at:.1f} s; "
            f"webhook silent {burst.longest_silence(running.receiver, HOOK, killed_at):.1f} s "
            "at most"
        )
