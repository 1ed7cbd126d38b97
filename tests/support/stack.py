"""The whole stack for tests: policy and ingest, in memory or on the real RabbitMQ.

`memory_stack` binds ingest's `PolicyClient` port to policy's handlers in this process: its
lanes and management requests called directly, the notifier's requests and every broadcast
through faststream's `TestRabbitBroker`; `real_stack` runs policy's handlers on the real
broker and ingest's aio-pika client against them. Both give a `Stack` with the same
interface, so one flow runs on both.
"""

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI
from faststream.rabbit import RabbitBroker, RabbitQueue, TestRabbitBroker
from pydantic import BaseModel, SecretStr, TypeAdapter

from tests.support.services import free_port
from versioner.common.broker import connect_hot
from versioner.common.messages.broadcasts import CredentialsChanged
from versioner.common.messages.domain import DomainEvent
from versioner.common.messages.management import ManagementRequest
from versioner.common.names import DEADLINE_HEADER, BrokerNames
from versioner.ingest.app import ClientFactory, amqp_client, bind, create_app
from versioner.ingest.auth import CredentialCache
from versioner.ingest.rpc import PolicyClient
from versioner.ingest.settings import IngestSettings
from versioner.notifier.app import NotifierService
from versioner.notifier.settings import NotifierSettings
from versioner.policy import commands
from versioner.policy.app import PolicyService
from versioner.policy.context import PolicyContext
from versioner.policy.deployments import lanes
from versioner.policy.settings import PolicySettings
from versioner.policy.store.clock import Clock
from versioner.policy.store.deadline import Deadline
from versioner.policy.store.topology import credentials_exchange, events_exchange

BOOTSTRAP_TOKEN = "pat_bootstrap_" + "x" * 32
TEST_LANES = 2
# An ingest that waits only briefly for policy (`@pytest.mark.ingest(rpc_timeout_s=…)`): short
# enough that waiting out a paused lane costs little, long enough for management RPCs.
IMPATIENT_RPC_TIMEOUT_S = 1.0
SECRET_KEY = "test-secret-key-" + "k" * 16


@dataclass
class NotifierSetup:
    """Run the notifier in the stack too: its database, what it may reach, how it waits."""

    database_url: str
    slack_api_url: str = "http://127.0.0.1:9/api/"
    allow_hosts: str = "127.0.0.1"
    resolver: Any = None
    sleep: Any = None

    def settings(self, policy: PolicySettings) -> NotifierSettings:
        """The notifier's settings next to policy's."""
        return NotifierSettings(
            amqp_url=policy.amqp_url,
            broker_prefix=policy.broker_prefix,
            policy_lanes=policy.policy_lanes,
            notifier_database_url=self.database_url,
            public_url="http://versioner.test",
            slack_api_url=self.slack_api_url,
            secret_key=SecretStr(SECRET_KEY),
            webhook_allow_hosts=self.allow_hosts,
        )

    def service(
        self, policy: PolicySettings, broker: RabbitBroker | None = None
    ) -> NotifierService:
        """A notifier service (on `broker` when given: in memory, policy's)."""
        return NotifierService(
            self.settings(policy), broker=broker, resolver=self.resolver, sleep=self.sleep
        )


def settings_pair(
    database_url: str, prefix: str, amqp_url: str, **ingest: Any
) -> tuple[PolicySettings, IngestSettings]:
    """Policy and ingest settings for one isolated installation."""
    common: dict[str, Any] = {
        "amqp_url": amqp_url,
        "broker_prefix": prefix,
        "policy_lanes": TEST_LANES,
    }
    policy = PolicySettings(
        database_url=database_url,
        bootstrap_token=SecretStr(BOOTSTRAP_TOKEN),
        relay_poll_s=0.05,
        **common,
    )
    return policy, IngestSettings(**{"rpc_timeout_s": 5.0, **common, **ingest})


_MANAGEMENT: TypeAdapter[ManagementRequest] = TypeAdapter(ManagementRequest)


class MemoryPolicyClient:
    """`PolicyClient` bound to policy's handlers: the lanes (which policy consumes with
    aio-pika, not faststream) and management requests called directly, the way policy's
    consumers call them; the notifier's requests through `TestRabbitBroker`. faststream's
    in-memory broker built a message and its mocks for each request, a sixth of an HTTP
    test's CPU; policy's own subscriber is held to the broker by the `rabbit` transport."""

    def __init__(self, broker: RabbitBroker, names: BrokerNames, ctx: PolicyContext) -> None:
        self.broker = broker
        self.names = names
        self.ctx = ctx
        self.connected = True
        self._lanes = {names.lane_key(lane) for lane in range(names.lanes)}

    async def call(
        self, routing_key: str, body: bytes, *, timeout: float, expires: bool
    ) -> bytes | None:
        """Run the handler and return its reply; None when it took longer than `timeout`
        (as the real client: a ping from ingest's watcher on a loaded machine, say)."""
        if routing_key in self._lanes:
            deadline = Deadline(int((time.time() + timeout) * 1000))
            answer = await lanes.handle(self.ctx, lanes.decode(body), deadline)
            return None if answer is None else lanes.encode(answer)
        if routing_key == self.names.management_key:
            try:
                managed = await asyncio.wait_for(self._manage(body), timeout)
            except TimeoutError:
                return None
            return managed.model_dump_json().encode()
        try:
            reply = await self.broker.request(
                body,
                exchange=self.names.policy_exchange,
                routing_key=routing_key,
                headers={DEADLINE_HEADER: int((time.time() + timeout) * 1000)},
                content_type="application/json",
                timeout=timeout,
            )
        except TimeoutError:
            return None
        result: bytes = reply.body
        return result

    async def _manage(self, body: bytes) -> BaseModel:
        return await commands.handle(self.ctx, _MANAGEMENT.validate_json(body))

    @property
    def unanswered(self) -> int:
        """Nothing: `send` returns once the handler ran."""
        return 0

    async def send(self, routing_key: str, body: bytes, *, answered: bool = False) -> None:
        """Run the handler, no reply wanted (an `answered` one's reply is there at once)."""
        if routing_key in self._lanes:
            await lanes.handle(self.ctx, lanes.decode(body), Deadline())
            return
        if routing_key == self.names.management_key:
            await self._manage(body)
            return
        await self.broker.publish(
            body,
            exchange=self.names.policy_exchange,
            routing_key=routing_key,
            content_type="application/json",
        )


@dataclass
class Stack:
    """A running installation and an HTTP client to its gateway."""

    http: httpx.AsyncClient
    policy: PolicyService
    ingest_settings: IngestSettings
    app: Any = None
    cache: CredentialCache | None = None
    policy_running: bool = True
    notifier: NotifierService | None = None
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def gateway(self) -> Any:
        """Ingest's `PolicyGateway`."""
        return self.app.state.gateway

    async def stop_policy(self) -> None:
        """Stop policy (real broker only): its queues keep what arrives meanwhile."""
        await self.policy.broker.stop()
        await self.policy.close()
        self.policy_running = False

    async def start_policy(self) -> None:
        """Start a fresh policy process on the same database and broker prefix."""
        self.policy = await _start_policy(self.policy.settings, self.policy.ctx.clock)
        self.policy_running = True

    @property
    def clock(self) -> Clock:
        """Policy's clock."""
        return self.policy.ctx.clock

    def auth(self, token: str) -> dict[str, str]:
        """Headers for a bearer token."""
        return {"Authorization": f"Bearer {token}"}

    @property
    def admin(self) -> dict[str, str]:
        """Headers of the first admin (the bootstrap token)."""
        return self.auth(BOOTSTRAP_TOKEN)

    async def api_key(self, name: str = "ci") -> str:
        """A new API key (asked again after a 503, as a client would: stacks with a short RPC
        deadline see one when the machine is loaded)."""
        for _ in range(3):
            response = await self.http.post("/api-keys/", json={"name": name}, headers=self.admin)
            if response.status_code != 503:
                break
        assert response.status_code == 201, response.text
        key: str = response.json()["key"]
        return key

    async def user(self, role: str, name: str | None = None, **extra: Any) -> str:
        """A new user's personal token (invited by the admin, invite redeemed)."""
        name = name or f"{role}-{uuid.uuid4().hex[:6]}"
        created = await self.http.post(
            "/users/", json={"name": name, "role": role, **extra}, headers=self.admin
        )
        assert created.status_code == 201, created.text
        redeemed = await self.http.post(
            "/users/redeem", json={"invite_token": created.json()["invite_token"]}
        )
        assert redeemed.status_code == 200, redeemed.text
        token: str = redeemed.json()["token"]
        return token

    async def wait_for(self, probe: Callable[[], Awaitable[bool]], timeout: float = 5.0) -> None:
        """Poll until `probe` is true (never a bare sleep)."""
        deadline = time.monotonic() + timeout
        while not await probe():
            if time.monotonic() > deadline:
                raise AssertionError("condition not met in time")
            await asyncio.sleep(0.02)


# Built ingest apps not serving a stack now, bound again for the next one: FastAPI prepares
# every route's fields for each app it builds, a quarter of an HTTP test's CPU.
_IDLE_APPS: list[FastAPI] = []


@asynccontextmanager
async def _ingest_app(settings: IngestSettings, factory: ClientFactory) -> AsyncIterator[FastAPI]:
    """An ingest app bound to these settings and this way to policy (built or reused)."""
    app = _IDLE_APPS.pop() if _IDLE_APPS else create_app(settings, client_factory=factory)
    bind(app, settings, factory)
    try:
        yield app
    finally:
        _IDLE_APPS.append(app)


@asynccontextmanager
async def _http(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://ingest.test"
        ) as http,
    ):
        yield http


@asynccontextmanager
async def memory_stack(
    database_url: str,
    *,
    clock: Clock | None = None,
    notifier: NotifierSetup | None = None,
    **ingest: Any,
) -> AsyncIterator[Stack]:
    """Policy and ingest joined in memory (and the notifier, on policy's broker, if asked)."""
    policy_settings, ingest_settings = settings_pair(
        database_url, f"mem-{uuid.uuid4().hex[:8]}", "amqp://guest:guest@127.0.0.1:5672/", **ingest
    )
    service = PolicyService(policy_settings, clock=clock)
    await service.prepare()
    notifier_service = notifier.service(policy_settings, service.broker) if notifier else None
    if notifier_service is not None:
        await notifier_service.prepare()
    holder: dict[str, CredentialCache] = {}
    announced: list[DomainEvent] = []

    @service.broker.subscriber(
        RabbitQueue(f"{policy_settings.broker_prefix}.test-credentials"),
        credentials_exchange(policy_settings.names),
    )
    async def on_credentials(change: CredentialsChanged) -> None:
        if "cache" in holder:
            holder["cache"].forget(change)

    # In memory a publish with nobody subscribed fails; the notifier's place is taken here.
    @service.broker.subscriber(
        RabbitQueue(f"{policy_settings.broker_prefix}.test-events", routing_key="#"),
        events_exchange(policy_settings.names),
    )
    async def on_event(event: DomainEvent) -> None:
        announced.append(event)

    async def factory(
        settings: IngestSettings, cache: CredentialCache
    ) -> tuple[PolicyClient, Callable[[], Awaitable[None]]]:
        holder["cache"] = cache

        async def close() -> None:
            return None

        return MemoryPolicyClient(broker, settings.names, service.ctx), close

    async with TestRabbitBroker(service.broker) as broker:
        task = asyncio.create_task(service.relay.run())
        try:
            async with _ingest_app(ingest_settings, factory) as app, _http(app) as http:
                yield Stack(
                    http=http,
                    policy=service,
                    ingest_settings=ingest_settings,
                    app=app,
                    cache=holder.get("cache"),
                    notifier=notifier_service,
                )
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    await service.close()
    if notifier_service is not None:
        await notifier_service.close()


async def delete_installation(amqp_url: str, names: BrokerNames) -> None:
    """Remove every queue and exchange of a test installation from the broker (any node of
    a cluster that answers)."""
    connection = await asyncio.wait_for(connect_hot(amqp_url, "versioner-test-cleanup"), 30)
    async with connection:
        channel = await connection.channel()
        for queue in names.queues:
            await channel.queue_delete(queue)
        for exchange in names.exchanges:
            await channel.exchange_delete(exchange)


@asynccontextmanager
async def real_stack(
    database_url: str,
    amqp_url: str,
    *,
    clock: Clock | None = None,
    notifier: NotifierSetup | None = None,
    **ingest: Any,
) -> AsyncIterator[Stack]:
    """Policy's handlers on the real RabbitMQ, ingest's aio-pika client in front of them (and
    the notifier on its own connection, if asked)."""
    policy_settings, ingest_settings = settings_pair(
        database_url, f"vt-{uuid.uuid4().hex[:10]}", amqp_url, **ingest
    )
    stack: Stack | None = None
    service = await _start_policy(policy_settings, clock)
    notifier_service = notifier.service(policy_settings) if notifier else None
    try:
        if notifier_service is not None:
            await notifier_service.prepare()
            await notifier_service.broker.start()
            await notifier_service.started()
        async with _ingest_app(ingest_settings, amqp_client) as app, _http(app) as http:
            stack = Stack(
                http=http,
                policy=service,
                ingest_settings=ingest_settings,
                app=app,
                notifier=notifier_service,
            )
            yield stack
    finally:
        if notifier_service is not None:
            await notifier_service.broker.stop()
            await notifier_service.close()
        if stack is None or stack.policy_running:
            final = stack.policy if stack is not None else service
            await final.broker.stop()
            await final.close()
        await delete_installation(amqp_url, policy_settings.names)


async def _start_policy(settings: PolicySettings, clock: Clock | None) -> PolicyService:
    service = PolicyService(settings, clock=clock)
    await service.prepare()
    await service.broker.start()
    await service.started()
    return service


@asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[str]:
    """The app served over real HTTP by uvicorn on a free port of 127.0.0.1 (its lifespan
    already run by the stack: uvicorn only serves it); its base URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
