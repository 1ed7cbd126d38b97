"""The fault tests' load and what must hold after it, whatever the fault.

A `Pipeline` is one product's CI: for each version a completed build, then the deployment
started and completed, one version after the other, retrying what Versioner's CLI retries
(5xx; connection errors where processes die) and keeping every answer. Pipelines talk to a
`Gateway`: one client (`One`, in memory or a real port) or several ingest replicas tried in
turn (`Ingests`). The checks read the API afterwards, as a user would:

- `recorded_once`: every accepted (2xx) event recorded exactly once, nothing left `started`,
  no block (pipelines deploy alone: any 409/428 is false); the figures it counted;
- `delivered_once_each`: every domain event the API shows reached the webhook at least once,
  re-sent only under its first `X-Versioner-Delivery`; `delivery_log_agrees`: the notifier's
  log has one row per event, each `sent`.
"""

import asyncio
import hashlib
import itertools
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import httpx

from tests.support.receiver import Receiver

# What a pipeline asks again, as the CLI does (network errors, 5xx): a gateway killed or
# restarted answers nothing (`NO_ANSWER`), a proxy in front of it 502/504, policy away 503.
NO_ANSWER = 0
RETRIED = frozenset({NO_ANSWER, 502, 503, 504})
BLOCKS = frozenset({409, 423, 428})
GIVE_UP_S = 60.0
PAUSE_S = 0.2
ENVIRONMENT = "production"
# What the webhook channel of a burst subscribes to: every event the burst makes.
WEBHOOK_EVENTS = (
    "build.completed",
    "deployment.started",
    "deployment.completed",
    "deployment.aborted",
)
# How long records of facts answered 202 may take to appear; deliveries, one event at a time
# through the notifier, take longer on a loaded CI host.
RECORDS_S = 60.0
DELIVERY_S = 90.0

Kind = Literal["build", "deployment"]


class Gateway(Protocol):
    """Where a pipeline sends its requests."""

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Send one request; raises `httpx.TransportError` when nobody answered."""
        ...


@dataclass
class One:
    """One gateway: an httpx client with its base URL (an ASGI app, or a real port)."""

    http: httpx.AsyncClient

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Send one request to the gateway."""
        return await self.http.request(method, path, json=json, params=params, headers=headers)


@dataclass
class Ingests:
    """Several ingest replicas tried in turn: one that does not answer (connection refused
    or dropped) hands the request to the next, which is kept for the requests after it."""

    clients: Sequence[httpx.AsyncClient]
    current: int = 0
    failovers: int = 0

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Send one request to the current replica, or the next ones while it fails."""
        failure: httpx.TransportError | None = None
        for _ in self.clients:
            client = self.clients[self.current % len(self.clients)]
            try:
                return await client.request(method, path, json=json, params=params, headers=headers)
            except httpx.TransportError as exc:
                failure = exc
                self.failovers += 1
                self.current = (self.current + 1) % len(self.clients)
        assert failure is not None
        raise failure


def gateway_client(url: str) -> httpx.AsyncClient:
    """A client of one real gateway: a deadline well beyond ingest's own (5 s) answer."""
    return httpx.AsyncClient(base_url=url, timeout=30.0, trust_env=False)


@dataclass(frozen=True)
class Answer:
    """One answer a pipeline got (`code` NO_ANSWER: the connection failed)."""

    kind: Kind
    version: str
    status: str
    code: int
    body: Any
    sent_at: float
    at: float


def sha_of(product: str, version: str) -> str:
    """The commit a version is built from (the same every time it is sent)."""
    return hashlib.sha1(f"{product} {version}".encode()).hexdigest()[:12]


class Pipeline:
    """One CI pipeline of one product, shipping `versions` versions one after the other.

    Events carry the run's `invoke_id` as the CLI's do in CI (`invoke_ids=False`: as from a
    terminal; a start whose answer was lost is then refused 409 when sent again, API.md).
    """

    def __init__(
        self,
        gateway: Gateway,
        headers: dict[str, str],
        product: str,
        *,
        versions: int = 40,
        builds: bool = True,
        invoke_ids: bool = True,
        pause_s: float = PAUSE_S,
    ) -> None:
        self.gateway = gateway
        self.headers = headers
        self.product = product
        self.versions = [f"1.{n}" for n in range(versions)]
        self.builds = builds
        self.invoke_ids = invoke_ids
        self.pause_s = pause_s
        self.answers: list[Answer] = []
        self.shipped: list[str] = []
        # The deployment each version's start was answered with (200).
        self.started: dict[str, str] = {}

    def _body(self, kind: Kind, version: str, status: str) -> dict[str, Any]:
        body = {
            "product_name": self.product,
            "version": version,
            "status": status,
            "scm_sha": sha_of(self.product, version),
        }
        if self.invoke_ids:
            # A CI run's id, as the CLI sends it in CI: a start whose answer was lost is
            # answered again (a replay), not refused as a deployment in progress.
            body["invoke_id"] = f"run-{self.product}-{version}"
        if kind == "deployment":
            body["environment_name"] = ENVIRONMENT
        return body

    async def send(self, kind: Kind, version: str, status: str) -> Answer:
        """Send one event until it gets an answer the CLI does not retry."""
        path = "/build-events/" if kind == "build" else "/deployment-events/"
        body = self._body(kind, version, status)
        deadline = time.monotonic() + GIVE_UP_S
        while True:
            sent_at = time.monotonic()
            try:
                response = await self.gateway.request("POST", path, json=body, headers=self.headers)
                code, content = response.status_code, _json(response)
            except httpx.TransportError:
                code, content = NO_ANSWER, None
            answer = Answer(kind, version, status, code, content, sent_at, time.monotonic())
            self.answers.append(answer)
            if code not in RETRIED:
                return answer
            assert time.monotonic() < deadline, f"{self.product} {version}: {code} for a minute"
            await asyncio.sleep(self.pause_s)

    async def run(self) -> None:
        """Ship every version: build, start, complete (a version blocked is left there)."""
        for version in self.versions:
            if self.builds and not _ok((await self.send("build", version, "completed")).code):
                continue
            start = await self.send("deployment", version, "started")
            if start.code != 200:
                continue
            self.started[version] = start.body["id"]
            if _ok((await self.send("deployment", version, "completed")).code):
                self.shipped.append(version)


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _ok(code: int) -> bool:
    return 200 <= code < 300


def shipped(pipelines: Iterable[Pipeline]) -> int:
    """Versions shipped so far, over every pipeline."""
    return sum(len(p.shipped) for p in pipelines)


async def until_shipped(
    pipelines: Sequence[Pipeline], count: int, burst: asyncio.Future[Any]
) -> None:
    """Wait until `count` versions shipped (mid-burst: where a fault is injected)."""
    while shipped(pipelines) < count:
        if burst.done():
            burst.result()  # a pipeline's failure, raised here
            raise AssertionError("the burst ended before the fault")
        await asyncio.sleep(0.02)


def first_start_after(pipelines: Iterable[Pipeline], moment: float) -> float | None:
    """When a start sent after `moment` was first let through (200), if one was."""
    times = [
        a.at
        for p in pipelines
        for a in p.answers
        if a.status == "started" and a.sent_at >= moment and a.code == 200
    ]
    return min(times, default=None)


def in_flight(pipelines: Iterable[Pipeline], moment: float) -> int:
    """Requests sent before `moment` and answered after it: what a fault then cut into."""
    return sum(a.sent_at <= moment <= a.at for p in pipelines for a in p.answers)


@dataclass
class Figures:
    """What the clients were answered and what the API shows afterwards."""

    accepted: int = 0
    lost: int = 0
    doubled: int = 0
    false_blocks: int = 0
    left_started: int = 0
    unavailable: int = 0
    no_answer: int = 0
    problems: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return (
            f"accepted {self.accepted}, lost {self.lost}, doubled {self.doubled}, "
            f"false blocks {self.false_blocks}, left started {self.left_started}, "
            f"503/502/504 {self.unavailable}, no answer {self.no_answer}"
        )

    def problem(self, text: str) -> None:
        """Note one thing that should not be (the first ones are shown by the assertion)."""
        self.problems.append(text)


@dataclass
class Reader:
    """Reads the API as a client does: asked again while the gateway cannot answer."""

    gateway: Gateway
    headers: dict[str, str]

    async def get(self, path: str, params: Mapping[str, Any] | None = None) -> httpx.Response:
        """One GET; retried on what the CLI retries, for up to a minute."""
        deadline = time.monotonic() + GIVE_UP_S
        while True:
            try:
                response = await self.gateway.request(
                    "GET", path, params=params, headers=self.headers
                )
                if response.status_code not in RETRIED:
                    return response
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"GET {path}: no answer for a minute"
            await asyncio.sleep(PAUSE_S)

    async def listed(self, path: str, **params: Any) -> list[dict[str, Any]]:
        """A list endpoint's items (one page of up to 1,000)."""
        response = await self.get(path, {**params, "limit": 1000})
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()
        assert len(items) < 1000, f"{path} {params}: more than one page"
        return items


async def _settled(reader: Reader, pipeline: Pipeline, deadline: float) -> list[dict[str, Any]]:
    """The product's deployments once every shipped version shows completed (facts answered
    202 are recorded a little later)."""
    while True:
        deployments = await reader.listed("/deployments/", product=pipeline.product)
        completed = {d["version"] for d in deployments if d["status"] == "completed"}
        if completed >= set(pipeline.shipped) or time.monotonic() > deadline:
            return deployments
        await asyncio.sleep(PAUSE_S)


async def _event_recorded(reader: Reader, event_id: str, deadline: float) -> dict[str, Any] | None:
    """What became of an event answered 202: its status once not `queued` (None: unknown)."""
    while True:
        response = await reader.get(f"/events/{event_id}")
        status: dict[str, Any] | None = response.json() if response.status_code == 200 else None
        if status is not None and status["status"] != "queued":
            return status
        if time.monotonic() > deadline:
            return status
        await asyncio.sleep(PAUSE_S)


async def recorded_once(reader: Reader, pipelines: Sequence[Pipeline]) -> Figures:
    """Count, from the answers and the API: every accepted event recorded exactly once, no
    deployment left started, no block. Assert on the figures (`assert_clean`)."""
    figures = Figures()
    answers = [a for p in pipelines for a in p.answers]
    figures.accepted = sum(_ok(a.code) for a in answers)
    figures.unavailable = sum(a.code in (502, 503, 504) for a in answers)
    figures.no_answer = sum(a.code == NO_ANSWER for a in answers)
    for answer in answers:
        if answer.code in BLOCKS:
            figures.false_blocks += 1
            figures.problem(f"blocked: {answer.kind} {answer.version} {answer.code} {answer.body}")
        elif not _ok(answer.code) and answer.code not in RETRIED:
            figures.problem(
                f"unexpected: {answer.kind} {answer.version} {answer.code} {answer.body}"
            )
    deadline = time.monotonic() + RECORDS_S
    for pipeline in pipelines:
        deployments = await _settled(reader, pipeline, deadline)
        versions = await reader.listed("/versions/", product=pipeline.product)
        _check_pipeline(figures, pipeline, deployments, versions)
        for answer in pipeline.answers:
            if answer.code != 202:
                continue
            status = await _event_recorded(reader, answer.body["event_id"], deadline)
            if status is None or status["status"] != "recorded":
                figures.lost += 1
                figures.problem(
                    f"{pipeline.product} {answer.version} {answer.status}: 202, then {status}"
                )
            elif answer.kind == "deployment" and status["record_id"] != pipeline.started.get(
                answer.version
            ):
                figures.doubled += 1
                figures.problem(
                    f"{pipeline.product} {answer.version}: recorded as {status['record_id']}"
                )
    return figures


def _check_pipeline(
    figures: Figures,
    pipeline: Pipeline,
    deployments: list[dict[str, Any]],
    versions: list[dict[str, Any]],
) -> None:
    product = pipeline.product
    by_version: dict[str, list[dict[str, Any]]] = {}
    for d in deployments:
        by_version.setdefault(d["version"], []).append(d)
        if d["status"] == "started":
            figures.left_started += 1
            figures.problem(f"{product} {d['version']}: deployment {d['id']} left started")
    listed = Counter(v["version"] for v in versions)
    registered = {v["version"] for v in versions if v["registered"]}
    built = {a.version for a in pipeline.answers if a.kind == "build" and _ok(a.code)}
    for version in sorted(built - registered):
        figures.lost += 1
        figures.problem(f"{product} {version}: build accepted, version not registered")
    for version, count in listed.items():
        if count > 1:
            figures.doubled += count - 1
            figures.problem(f"{product} {version}: listed {count} times")
    for version in pipeline.versions:
        mine = by_version.get(version, [])
        completed = [d for d in mine if d["status"] == "completed"]
        started = pipeline.started.get(version)
        if started is not None and started not in {d["id"] for d in mine}:
            figures.lost += 1
            figures.problem(f"{product} {version}: start {started} answered 200, not recorded")
        if version in pipeline.shipped and not completed:
            figures.lost += 1
            figures.problem(f"{product} {version}: completion accepted, not recorded")
        if len(completed) > 1:
            figures.doubled += len(completed) - 1
            figures.problem(f"{product} {version}: completed {len(completed)} times")
        # The completion closed the deployment its start was answered with, nothing else:
        # any other deployment of the version is an attempt answered 503 and aborted.
        for d in mine:
            if d["id"] != started and d["status"] != "aborted":
                figures.doubled += 1
                figures.problem(f"{product} {version}: a second deployment {d['id']} {d['status']}")


def assert_clean(figures: Figures) -> None:
    """Nothing lost, doubled, blocked or left started."""
    assert not figures.problems, f"{figures}: {figures.problems[:10]}"
    assert (figures.lost, figures.doubled, figures.false_blocks, figures.left_started) == (
        0,
        0,
        0,
        0,
    )


# An event as both sides see it: (type, product, version, deployment id or "" for a build).
EventKey = tuple[str, str, str, str]


async def announced(reader: Reader, products: Iterable[str]) -> set[EventKey]:
    """The domain events the burst must have announced, from what the API shows: each
    deployment's start and outcome, each registered version's completed build."""
    expected: set[EventKey] = set()
    for product in products:
        for d in await reader.listed("/deployments/", product=product):
            key = (product, d["version"], d["id"])
            preflight = d["extra_metadata"].get("preflight_status") or {}
            if preflight.get("status") == "passed":
                expected.add(("deployment.started", *key))
            if d["status"] != "started":
                expected.add((f"deployment.{d['status']}", *key))
        for v in await reader.listed("/versions/", product=product):
            if v["registered"]:
                expected.add(("build.completed", product, v["version"], ""))
    return expected


def received(receiver: Receiver, path: str) -> dict[EventKey, list[str]]:
    """Every delivery the webhook received, by event: the `X-Versioner-Delivery` of each."""
    seen: dict[EventKey, list[str]] = {}
    for request in receiver.requests_to(path):
        body = request.json()
        event_type = body["event_type"]
        subject = "" if event_type.startswith("build.") else body["id"]
        key = (event_type, body["product_name"], body["version"], subject)
        seen.setdefault(key, []).append(request.headers["X-Versioner-Delivery"])
    return seen


@dataclass
class Deliveries:
    """What the webhook got: requests, events, and events sent more than once."""

    requests: int
    events: int
    resent: int

    def __str__(self) -> str:
        return f"webhook: {self.requests} requests for {self.events} events, {self.resent} re-sent"


async def delivered_once_each(
    receiver: Receiver, path: str, expected: set[EventKey], timeout: float = DELIVERY_S
) -> Deliveries:
    """Wait until every expected event reached the webhook; assert that nothing else did and
    that each event's re-sends kept its first delivery id."""
    deadline = time.monotonic() + timeout
    while not expected <= set(received(receiver, path)):
        missing = sorted(expected - set(received(receiver, path)))
        assert time.monotonic() < deadline, f"{len(missing)} never delivered: {missing[:5]}"
        await asyncio.sleep(PAUSE_S)
    seen = received(receiver, path)
    assert set(seen) == expected, f"delivered, not announced: {sorted(set(seen) - expected)[:5]}"
    changed = {key: ids for key, ids in seen.items() if len(set(ids)) != 1}
    assert not changed, f"re-sent under another delivery id: {list(changed.items())[:5]}"
    owners = Counter(ids[0] for ids in seen.values())
    assert max(owners.values(), default=1) == 1, "one delivery id for two events"
    requests = sum(len(ids) for ids in seen.values())
    return Deliveries(requests, len(seen), sum(len(ids) > 1 for ids in seen.values()))


def longest_silence(receiver: Receiver, path: str, since: float) -> float:
    """The longest the webhook waited between two requests after `since` (monotonic): how
    long announcements stopped (policy's outbox relay, the notifier)."""
    after = sorted(r.received_at for r in receiver.requests_to(path) if r.received_at > since)
    return max((b - a for a, b in itertools.pairwise([since, *after])), default=0.0)


async def delivery_log_agrees(admin: Reader, channel_id: str, deliveries: Deliveries) -> None:
    """The notifier's delivery log: one row per event the webhook got, each finally `sent`
    (the newest thousand looked at)."""
    path = f"/notification-channels/{channel_id}/deliveries"
    deadline = time.monotonic() + RECORDS_S
    while True:
        log = await admin.get(path, {"limit": 1000})
        assert log.status_code == 200, log.text
        unsent = [d for d in log.json() if d["status"] != "sent"]
        if not unsent or time.monotonic() > deadline:
            break
        await asyncio.sleep(PAUSE_S)
    assert not unsent, unsent[:5]
    assert int(log.headers["X-Total-Count"]) == deliveries.events


async def webhook_channel(gateway: Gateway, admin: dict[str, str], url: str) -> str:
    """A webhook channel for every event a burst makes; its id."""
    hook = {
        "name": "releases",
        "kind": "webhook",
        "config": {"url": url},
        "events": list(WEBHOOK_EVENTS),
    }
    deadline = time.monotonic() + GIVE_UP_S
    while True:
        made = await gateway.request("POST", "/notification-channels/", json=hook, headers=admin)
        if made.status_code != 503 or time.monotonic() > deadline:
            break
        await asyncio.sleep(PAUSE_S)
    assert made.status_code == 201, made.text
    channel_id: str = made.json()["id"]
    return channel_id
