"""Operating Versioner as `make run` starts it, on the real RabbitMQ: one `grep <event_id>` over
the three services' JSON logs tells a deployment's story, no line carries a secret, every
service serves its metrics, and a real Prometheus scrapes them."""

import asyncio
import json
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.make_run import Running, make_run
from tests.support.receiver import Receiver
from tests.support.services import free_port

SERVICES = ("ingest", "policy", "notifier")
SECRET = "whsec-operating-test"


@pytest.fixture
def ports() -> dict[str, int]:
    """Policy's and the notifier's metrics ports."""
    return {"policy": free_port(), "notifier": free_port()}


@pytest.fixture
def running(tmp_path: Path, amqp_url: str, ports: dict[str, int]) -> Iterator[Running]:
    """`make run` with JSON logs, its own metrics ports and webhooks allowed to 127.0.0.1."""
    extra = {
        "VERSIONER_LOG_FORMAT": "json",
        "VERSIONER_POLICY_METRICS_PORT": str(ports["policy"]),
        "VERSIONER_NOTIFIER_METRICS_PORT": str(ports["notifier"]),
        "VERSIONER_WEBHOOK_ALLOW_HOSTS": "127.0.0.1",
    }
    with make_run(tmp_path, amqp_url, extra) as started:
        yield started


@pytest.fixture
async def client(running: Running, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client to the running gateway, signed in as the first admin."""
    admin = (tmp_path / "var" / "bootstrap-token").read_text().strip()
    async with httpx.AsyncClient(
        base_url=running.url, headers={"Authorization": f"Bearer {admin}"}, timeout=10
    ) as http:
        # `make run` is ready when ingest and policy are (`/health`); the notifier may still be
        # starting on a loaded machine, and the story begins with a channel it keeps.
        deadline = time.monotonic() + 60
        while (await http.get("/notification-channels/")).status_code == 503:
            assert time.monotonic() < deadline, "the notifier did not answer in 60 s"
            await asyncio.sleep(0.2)
        yield http


def service_lines(running: Running) -> list[tuple[str, dict[str, Any]]]:
    """Each JSON line a service logged, with the service `make run` says wrote it."""
    found = []
    for line in list(running.lines):
        name, bar, rest = line.partition(" | ")
        if bar and name.strip() in SERVICES and rest.startswith("{"):
            found.append((name.strip(), json.loads(rest)))
    return found


async def api_key(client: httpx.AsyncClient) -> str:
    """A new API key for CI."""
    created = await client.post("/api-keys/", json={"name": "ci"})
    assert created.status_code == 201, created.text
    key: str = created.json()["key"]
    return key


def deployment(version: str, status: str = "started") -> dict[str, str]:
    """A deployment event of `api` to production."""
    return {
        "product_name": "api",
        "version": version,
        "environment_name": "production",
        "status": status,
    }


async def test_one_grep_of_the_event_id_tells_a_deployments_story(
    running: Running, client: httpx.AsyncClient, receiver: Receiver
) -> None:
    channel = await client.post(
        "/notification-channels/",
        json={
            "name": "ci-hook",
            "kind": "webhook",
            "config": {"url": receiver.url("/hook"), "secret": SECRET},
            "events": ["deployment.started"],
        },
    )
    assert channel.status_code == 201, channel.text
    key = await api_key(client)
    started = await client.post(
        "/deployment-events/",
        json=deployment("1.0.0"),
        headers={"Authorization": f"Bearer {key}", "X-Request-ID": "story-1"},
    )
    assert started.status_code == 200, started.text
    assert started.headers["x-request-id"] == "story-1"
    deadline = time.monotonic() + 15
    while not receiver.requests_to("/hook"):
        assert time.monotonic() < deadline, "the webhook never arrived"
        await asyncio.sleep(0.1)

    deadline = time.monotonic() + 10
    while not (
        verdicts := [
            line
            for service, line in service_lines(running)
            if service == "policy" and line.get("request_id") == "story-1"
        ]
    ):
        assert time.monotonic() < deadline, "no verdict logged"
        await asyncio.sleep(0.1)
    [verdict] = verdicts
    event_id = verdict["event_id"]
    assert verdict["message"] == "verdict: api 1.0.0 to production may start"

    def story() -> list[tuple[str, dict[str, Any]]]:
        return [(s, line) for s, line in service_lines(running) if line.get("event_id") == event_id]

    deadline = time.monotonic() + 10
    while not any(s == "notifier" and "delivered" in line["message"] for s, line in story()):
        assert time.monotonic() < deadline, story()
        await asyncio.sleep(0.1)
    told = story()
    # Ingest's "received" line is at DEBUG (a line per request costs the gate's path).
    assert {service for service, _ in told} == {"policy", "notifier"}
    assert all(line["request_id"] == "story-1" for _, line in told), told
    assert verdict["outcome"] == "allowed"
    assert any(s == "notifier" and line.get("channel") == "ci-hook" for s, line in told)
    for service, line in told:
        assert {"time", "level", "service", "logger", "message"} <= set(line)
        assert line["service"] == service

    blocked = await client.post(
        "/deployment-events/",
        json=deployment("1.0.1"),
        headers={"Authorization": f"Bearer {key}"},
    )
    assert blocked.status_code == 409, blocked.text
    request_id = blocked.headers["x-request-id"]
    deadline = time.monotonic() + 10
    while not any(
        line.get("outcome") == "blocked" and line.get("request_id") == request_id
        for _, line in service_lines(running)
    ):
        assert time.monotonic() < deadline, "no blocked verdict logged"
        await asyncio.sleep(0.1)
    refusal = next(line for _, line in service_lines(running) if line.get("outcome") == "blocked")
    assert [v["code"] for v in refusal["violations"]] == ["DEPLOYMENT_IN_PROGRESS"]

    admin = client.headers["Authorization"].removeprefix("Bearer ")
    for _, line in service_lines(running):
        text = json.dumps(line)
        for secret in (admin, key, SECRET):
            assert secret not in text, line


def _metrics(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return str(response.read().decode())


def _value(text: str, series: str) -> float:
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{series} not found")


def _prometheus(base: str, query: str) -> list[dict[str, Any]]:
    url = f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": query})
    with urllib.request.urlopen(url, timeout=5) as response:
        answer = json.load(response)
    assert answer["status"] == "success", answer
    result: list[dict[str, Any]] = answer["data"]["result"]
    return result


@pytest.fixture
def prometheus_binary() -> str:
    """Debian's Prometheus (`make test` installs it)."""
    found = shutil.which("prometheus")
    assert found, "Prometheus is not installed: apt-get install -y prometheus"
    return found


async def test_a_real_prometheus_scrapes_the_three_services_during_a_burst(
    running: Running,
    client: httpx.AsyncClient,
    ports: dict[str, int],
    tmp_path: Path,
    prometheus_binary: str,
) -> None:
    key = await api_key(client)
    ingest = running.url.removeprefix("http://")
    targets = {
        "versioner-ingest": ingest,
        "versioner-policy": f"127.0.0.1:{ports['policy']}",
        "versioner-notifier": f"127.0.0.1:{ports['notifier']}",
    }
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        "scrape_configs:\n"
        + "".join(
            f"  - job_name: {job}\n    static_configs: [{{targets: ['{target}']}}]\n"
            for job, target in targets.items()
        )
    )
    web = free_port()
    prometheus = subprocess.Popen(
        [
            prometheus_binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{web}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{web}"
    try:
        headers = {"Authorization": f"Bearer {key}"}
        allowed = 0
        for n in range(20):
            product = f"burst-{n}"
            for status in ("started", "completed"):
                answer = await client.post(
                    "/deployment-events/",
                    json={**deployment("1.0.0", status), "product_name": product},
                    headers=headers,
                )
                assert answer.status_code == 200, answer.text
            allowed += 1
        blocked = 0
        await client.post("/deployment-events/", json=deployment("2.0.0"), headers=headers)
        allowed += 1
        for _ in range(5):
            answer = await client.post(
                "/deployment-events/", json=deployment("2.0.1"), headers=headers
            )
            assert answer.status_code == 409
            blocked += 1

        policy = _metrics(f"http://127.0.0.1:{ports['policy']}/metrics")
        assert _value(policy, 'versioner_verdicts_total{outcome="allowed"}') == allowed
        assert _value(policy, 'versioner_verdicts_total{outcome="blocked"}') == blocked

        expected = {
            'sum(versioner_verdicts_total{outcome="allowed"})': allowed,
            'sum(versioner_verdicts_total{outcome="blocked"})': blocked,
            "sum(versioner_verdict_duration_seconds_count)": allowed + blocked,
            'sum(versioner_violations_total{code="DEPLOYMENT_IN_PROGRESS"})': blocked,
            'sum(versioner_http_requests_total{route="/deployment-events",status="200"})': (
                2 * allowed - 1
            ),
            'sum(versioner_http_requests_total{route="/deployment-events",status="409"})': (
                blocked
            ),
            'sum(versioner_http_request_duration_seconds_count{route="/deployment-events"})': (
                2 * allowed - 1 + blocked
            ),
            'sum(versioner_rpc_requests_total{kind="EvaluateDeployment",outcome="answer"})': (
                allowed + blocked
            ),
            'count(up{job=~"versioner-.*"} == 1)': 3,
            'count(versioner_build_info{service=~"ingest|policy|notifier"})': 3,
        }
        deadline = time.monotonic() + 30
        seen: dict[str, float | None] = {}
        while True:
            for query in expected:
                result = _prometheus(base, query) if _up(base) else []
                seen[query] = float(result[0]["value"][1]) if result else None
            if all(seen[q] == v for q, v in expected.items()):
                break
            assert time.monotonic() < deadline, {q: (seen[q], v) for q, v in expected.items()}
            await asyncio.sleep(0.5)
        p95 = _prometheus(
            base,
            "histogram_quantile(0.95, sum by (le) "
            '(versioner_http_request_duration_seconds_bucket{route="/deployment-events"}))',
        )
        assert 0 < float(p95[0]["value"][1]) < 5
    finally:
        prometheus.terminate()
        prometheus.wait(timeout=10)


def _up(base: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base}/-/ready", timeout=1) as response:
            return bool(response.status == 200)
    except OSError:
        return False
