"""Helpers shared by the gateway's HTTP tests: event bodies, the app behind `stack.http`, a
counting policy client, policy's lanes paused or policy stopped on the real broker, and
policy's outbox held or settled."""

import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI

from tests.support.stack import Stack
from versioner.ingest.auth import CredentialCache
from versioner.ingest.gateway import PolicyGateway
from versioner.ingest.rpc import PolicyClient

UNAUTHENTICATED = {"detail": "Invalid authentication credentials"}
FORBIDDEN = {"detail": "You do not have permission to perform this action"}
NOT_FOUND = {"detail": "Not found"}
INVALID_JSON = {"detail": "Invalid JSON in request body"}

ROLES = (
    "admin",
    "release_manager",
    "product",
    "developer",
    "sre",
    "qa",
    "security",
    "compliance",
    "billing",
    "viewer",
)

# RFC 3339 in UTC with `Z`: what Versioner's Go CLI can parse.
_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")


def build_body(**fields: Any) -> dict[str, Any]:
    """A build event as Versioner's clients send it."""
    return {"product_name": "api", "version": "1.0.0", "status": "success", **fields}


def deploy_body(**fields: Any) -> dict[str, Any]:
    """A deployment event as Versioner's clients send it (a start request by default)."""
    return {
        "product_name": "api",
        "version": "1.0.0",
        "environment_name": "production",
        "status": "started",
        **fields,
    }


def is_utc(value: object) -> bool:
    """Whether a timestamp is RFC 3339 with a `Z`."""
    return isinstance(value, str) and _UTC.match(value) is not None


def ingest_app(stack: Stack) -> FastAPI:
    """The FastAPI app `stack.http` talks to."""
    app = stack.app
    assert isinstance(app, FastAPI)
    return app


def gateway_of(stack: Stack) -> PolicyGateway:
    """The running app's policy gateway."""
    gateway = ingest_app(stack).state.gateway
    assert isinstance(gateway, PolicyGateway)
    return gateway


def cache_of(stack: Stack) -> CredentialCache:
    """The running app's credential cache (also on the real broker, where `stack.cache` is None)."""
    cache = ingest_app(stack).state.authenticator.cache
    assert isinstance(cache, CredentialCache)
    return cache


class CountingClient:
    """A `PolicyClient` that passes everything on and notes the `kind` of each message."""

    def __init__(self, inner: PolicyClient) -> None:
        self.inner = inner
        self.kinds: list[str] = []

    def _note(self, body: bytes) -> None:
        self.kinds.append(str(json.loads(body).get("kind")))

    async def call(
        self, routing_key: str, body: bytes, *, timeout: float, expires: bool
    ) -> bytes | None:
        """Note the request, then make it."""
        self._note(body)
        return await self.inner.call(routing_key, body, timeout=timeout, expires=expires)

    async def send(self, routing_key: str, body: bytes, *, answered: bool = False) -> None:
        """Note the message, then send it."""
        self._note(body)
        await self.inner.send(routing_key, body, answered=answered)

    @property
    def unanswered(self) -> int:
        """What the real client counts."""
        return self.inner.unanswered

    @property
    def connected(self) -> bool:
        """Whether the real client is connected."""
        return self.inner.connected

    def count(self, kind: str) -> int:
        """How many messages of this kind went to policy."""
        return self.kinds.count(kind)


def count_policy_calls(stack: Stack) -> CountingClient:
    """Put a counting client between the gateway and policy (for the rest of the test)."""
    gateway = gateway_of(stack)
    counting = CountingClient(gateway.client)
    gateway.client = counting
    return counting


@asynccontextmanager
async def lanes_paused(stack: Stack) -> AsyncIterator[None]:
    """Policy stops consuming its ordered lanes (management still answers); resumed on exit."""
    await stack.policy.lanes.pause()
    try:
        yield
    finally:
        await stack.policy.lanes.resume()


async def event_status(stack: Stack, headers: dict[str, str], event_id: str) -> str | None:
    """What `GET /events/{id}` says of an event, or None while it is unknown."""
    response = await stack.http.get(f"/events/{event_id}", headers=headers)
    if response.status_code == 404:
        return None
    assert response.status_code == 200, response.text
    status: str = response.json()["status"]
    return status


async def verified(stack: Stack, headers: dict[str, str]) -> None:
    """Use a credential once, so the gateway has it cached."""
    response = await stack.http.get("/products/", headers=headers)
    assert response.status_code == 200, response.text


async def user_id(stack: Stack, token: str) -> str:
    """The id of the user a personal token belongs to."""
    response = await stack.http.get("/users/me", headers=stack.auth(token))
    assert response.status_code == 200, response.text
    ident: str = response.json()["id"]
    return ident


def stall_outbox(stack: Stack) -> None:
    """Keep policy's outbox relay from publishing anything from now on (a slow relay).

    Credential broadcasts then never arrive, so what a test sees is what the gateway did on
    its own, whatever the race between the relay and the next request.
    """

    async def refused(
        _exchange: str, _routing_key: str, _body: str, _headers: dict[str, Any]
    ) -> None:
        raise RuntimeError("the test holds the outbox")

    stack.policy.relay.publish = refused


@asynccontextmanager
async def policy_stopped(stack: Stack) -> AsyncIterator[None]:
    """Policy is stopped (on the real RabbitMQ, its queues keep what arrives); restarted on exit."""
    await stack.stop_policy()
    try:
        yield
    finally:
        await stack.start_policy()


async def sign_in(
    client: httpx.AsyncClient, token: str, next: str | None = None, **form: str
) -> httpx.Response:
    """Post the dashboard's sign-in form as a browser does: fetched first (its CSRF token and
    cookie), then sent with the token."""
    page = await client.get("/ui/login")
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found, page.text
    data = {"token": token, "csrf_token": found.group(1), **form}
    if next is not None:
        data["next"] = next
    return await client.post("/ui/login", data=data)


async def signed_in(stack: Stack, role: str = "developer") -> str:
    """Sign a new user in; the session cookie stays on the stack's client. Their token."""
    token = await stack.user(role)
    response = await sign_in(stack.http, token, "/ui/")
    assert response.status_code == 303, response.text
    return token


def csrf(page: str) -> str:
    """The CSRF token of a dashboard page's forms."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, page
    return found.group(1)
