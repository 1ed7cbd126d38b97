"""The policy engine end to end on the real RabbitMQ, on each database engine: a flow rule with
its soak, a Deployment Request approved by a second user, and the announcements of an
override and of a deployment that skipped the gate, read off the installation's events
exchange by a queue of the test's own."""

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import aio_pika
import httpx
import pytest
from aio_pika.abc import AbstractQueue

from tests.support.stack import Stack

FLOW_NAME = "staging before production"


class Announcements:
    """What the events exchange published on the routing keys a test bound."""

    def __init__(self, stack: Stack, queue: AbstractQueue) -> None:
        self.stack = stack
        self.queue = queue
        self.received: list[tuple[str, dict[str, Any]]] = []

    async def _drain(self) -> None:
        while (message := await self.queue.get(no_ack=True, fail=False)) is not None:
            self.received.append((message.routing_key or "", json.loads(message.body)))

    async def first(self, routing_key: str, timeout: float = 10.0) -> dict[str, Any]:
        """The first event published with this routing key (waiting for it if need be)."""

        async def arrived() -> bool:
            await self._drain()
            return any(key == routing_key for key, _ in self.received)

        await self.stack.wait_for(arrived, timeout=timeout)
        return next(body for key, body in self.received if key == routing_key)


@asynccontextmanager
async def listening(
    stack: Stack, amqp_url: str, *routing_keys: str
) -> AsyncIterator[Announcements]:
    """A server-named, exclusive queue bound to the installation's events exchange.

    It goes away with its connection, so the broker keeps nothing of it.
    """
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        exchange = await channel.get_exchange(stack.policy.settings.names.events_exchange)
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        for key in routing_keys:
            await queue.bind(exchange, routing_key=key)
        yield Announcements(stack, queue)


async def deploy(stack: Stack, headers: dict[str, str], **fields: Any) -> httpx.Response:
    """api 1.4.0 to production, a start unless told otherwise."""
    body = {
        "product_name": "api",
        "version": "1.4.0",
        "environment_name": "production",
        "status": "started",
        **fields,
    }
    return await stack.http.post("/deployment-events/", json=body, headers=headers)


def codes(response: httpx.Response) -> list[str]:
    """The codes of a block's violations."""
    assert response.status_code in (409, 428), response.text
    return [v["code"] for v in response.json()["detail"]["details"]["violations"]]


async def create_rule(stack: Stack, body: dict[str, Any]) -> None:
    """A rule, created by the admin."""
    response = await stack.http.post("/deployment-rules/", json=body, headers=stack.admin)
    assert response.status_code == 201, response.text


@pytest.mark.transports("rabbit")
async def test_a_flow_rule_holds_production_until_staging_completed_and_soaked(
    stack: Stack, amqp_url: str
) -> None:
    ci = stack.auth(await stack.api_key())
    # 0.02 minutes: a soak of 1.2 s.
    await create_rule(
        stack,
        {
            "name": FLOW_NAME,
            "rule_type": "flow",
            "config": {
                "prerequisites": ["staging"],
                "target": "production",
                "min_soak_minutes": 0.02,
            },
        },
    )
    async with listening(stack, amqp_url, "deployment.preflight_failed") as announced:
        first = await deploy(stack, ci)
        assert codes(first) == ["FLOW_VIOLATION"]
        assert first.status_code == 428
        event = await announced.first("deployment.preflight_failed")
    assert event["event_type"] == "deployment.preflight_failed"
    assert event["attempt"]["environment_name"] == "production"
    assert [v["code"] for v in event["violations"]] == ["FLOW_VIOLATION"]

    staging_started = await deploy(stack, ci, environment_name="staging")
    assert staging_started.status_code == 200, staging_started.text
    # Started is not completed.
    assert codes(await deploy(stack, ci)) == ["FLOW_VIOLATION"]
    staging_done = await deploy(stack, ci, environment_name="staging", status="success")
    assert staging_done.status_code == 200, staging_done.text

    soaking = await deploy(stack, ci)
    assert codes(soaking) == ["INSUFFICIENT_SOAK_TIME"]
    retry_after = soaking.json()["detail"]["retry_after"]
    assert isinstance(retry_after, str)
    assert retry_after.endswith("Z")
    ready = datetime.fromisoformat(retry_after)

    async def soaked() -> bool:
        return datetime.now(UTC) >= ready

    await stack.wait_for(soaked, timeout=10)
    through = await deploy(stack, ci)
    assert through.status_code == 200, through.text
    assert through.json()["extra_metadata"]["preflight_status"]["status"] == "passed"

    log = await stack.http.get("/deployment-rules/violations", headers=ci)
    assert [v["code"] for v in log.json()] == [
        "INSUFFICIENT_SOAK_TIME",
        "FLOW_VIOLATION",
        "FLOW_VIOLATION",
    ]


@pytest.mark.transports("rabbit")
async def test_a_request_approved_by_a_second_user_lets_a_blocked_deployment_through(
    stack: Stack, amqp_url: str
) -> None:
    ci = stack.auth(await stack.api_key())
    await create_rule(
        stack,
        {
            "name": "production needs qa",
            "rule_type": "dr_required",
            "environments": ["production"],
            "config": {"approval_types": ["qa"]},
        },
    )
    assert codes(await deploy(stack, ci)) == ["DR_REQUIRED"]

    developer = stack.auth(await stack.user("developer", name="dana"))
    created = await stack.http.post(
        "/deployment-requests/",
        json={
            "name": "release 1.4",
            "items": [{"product": "api", "version": "1.4.0"}],
            "environments": ["production"],
            "approval_slots": [{"approval_type": "qa"}],
        },
        headers=developer,
    )
    assert created.status_code == 201, created.text
    request = created.json()
    submitted = await stack.http.post(
        f"/deployment-requests/{request['id']}/submit", headers=developer
    )
    assert submitted.json()["status"] == "in_progress"
    assert codes(await deploy(stack, ci)) == ["APPROVAL_REQUIRED"]

    decision = (
        f"/deployment-requests/{request['id']}/slots/{request['approval_slots'][0]['id']}/decision"
    )
    # Its creator may not approve it, even as a role that could otherwise.
    own = await stack.http.post(decision, json={"decision": "approve"}, headers=developer)
    assert own.status_code == 403
    qa = stack.auth(await stack.user("qa", name="quinn"))
    async with listening(stack, amqp_url, "dr.approved") as announced:
        approved = await stack.http.post(
            decision, json={"decision": "approve", "comment": "green"}, headers=qa
        )
        assert approved.status_code == 200, approved.text
        assert approved.json()["status"] == "approved"
        event = await announced.first("dr.approved")
    assert event["actor"] == "user:quinn"
    assert event["request"]["id"] == request["id"]
    assert event["approval_type"] == "qa"

    through = await deploy(stack, ci)
    assert through.status_code == 200, through.text
    assert (await deploy(stack, ci, status="completed")).status_code == 200
    detail = await stack.http.get(f"/deployment-requests/{request['id']}", headers=ci)
    [cell] = detail.json()["progress"]
    assert (cell["status"], cell["deployment_id"]) == ("deployed", through.json()["id"])


@pytest.mark.transports("rabbit")
async def test_an_sre_override_is_announced(stack: Stack, amqp_url: str) -> None:
    ci = stack.auth(await stack.api_key())
    await create_rule(
        stack,
        {
            "name": FLOW_NAME,
            "rule_type": "flow",
            "config": {"prerequisites": ["staging"], "target": "production"},
        },
    )
    sre = stack.auth(await stack.user("sre", name="sasha"))
    async with listening(stack, amqp_url, "deployment.overridden") as announced:
        refused = await deploy(stack, ci, override_reason="ci may not")
        assert refused.status_code == 403
        response = await deploy(stack, sre, override_reason="outage hotfix")
        assert response.status_code == 200, response.text
        event = await announced.first("deployment.overridden")
    assert event["event_type"] == "deployment.overridden"
    assert event["actor"] == "user:sasha"
    assert event["deployment"]["id"] == response.json()["id"]
    assert event["deployment"]["extra_metadata"]["preflight_status"]["override"]["reason"] == (
        "outage hotfix"
    )
    assert [(v["code"], v["rule_name"]) for v in event["violations"]] == [
        ("FLOW_VIOLATION", FLOW_NAME)
    ]
    # The refused attempt left nothing behind.
    deployments = await stack.http.get("/deployments/", headers=ci)
    assert [d["id"] for d in deployments.json()] == [response.json()["id"]]


@pytest.mark.transports("rabbit")
async def test_a_deployment_that_skipped_the_gate_is_announced(stack: Stack, amqp_url: str) -> None:
    ci = stack.auth(await stack.api_key())
    await create_rule(
        stack,
        {
            "name": FLOW_NAME,
            "rule_type": "flow",
            "products": ["api"],
            "config": {"prerequisites": ["staging"], "target": "production"},
        },
    )
    async with listening(stack, amqp_url, "deployment.gate_skipped") as announced:
        # Nothing governs web: recorded as skipped, not announced as such.
        ungoverned = await deploy(stack, ci, product_name="web", status="completed")
        assert ungoverned.status_code == 200, ungoverned.text
        assert ungoverned.json()["extra_metadata"]["preflight_status"] == {
            "status": "skipped",
            "rules_evaluated": [],
            "override": None,
        }
        skipped = await deploy(stack, ci, status="completed")
        assert skipped.status_code == 200, skipped.text
        event = await announced.first("deployment.gate_skipped")
    preflight = skipped.json()["extra_metadata"]["preflight_status"]
    assert preflight["status"] == "skipped"
    assert [(r["rule_name"], r["code"]) for r in preflight["rules_evaluated"]] == [
        (FLOW_NAME, "FLOW_VIOLATION")
    ]
    # Outbox order: had web's completion been announced as gate-skipped, it would come first.
    assert event["deployment"]["id"] == skipped.json()["id"]
    assert event["deployment"]["product_name"] == "api"
    assert [v["code"] for v in event["violations"]] == ["FLOW_VIOLATION"]
    assert [key for key, _ in announced.received] == ["deployment.gate_skipped"]
    log = await stack.http.get(
        "/deployment-rules/violations", params={"outcome": "reported"}, headers=ci
    )
    [entry] = log.json()
    assert (entry["deployment_id"], entry["product"]) == (skipped.json()["id"], "api")
