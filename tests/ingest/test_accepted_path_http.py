"""When policy does not answer in time: facts are 202 and recorded later, starts are 503.

Policy's lanes are paused on the real RabbitMQ (its management queue still answers), so a
fact waits in its lane exactly as it would behind a slow or restarting policy.
"""

import asyncio
from typing import Any
from uuid import UUID

import pytest

from tests.support.flows import build_body, deploy_body, event_status, lanes_paused, verified
from tests.support.stack import IMPATIENT_RPC_TIMEOUT_S, Stack
from versioner.ingest import gateway
from versioner.ingest.gateway import FACT_WAITERS


async def accepted(stack: Stack, path: str, body: dict[str, Any], headers: dict[str, str]) -> str:
    response = await stack.http.post(path, json=body, headers=headers)
    assert response.status_code == 202, response.text
    answer = response.json()
    assert answer == {
        "id": answer["event_id"],
        "event_id": answer["event_id"],
        "status": "accepted",
    }
    UUID(answer["event_id"])
    return str(answer["event_id"])


@pytest.mark.transports("rabbit")
@pytest.mark.ingest(rpc_timeout_s=IMPATIENT_RPC_TIMEOUT_S)
async def test_a_build_fact_is_accepted_then_recorded(stack: Stack) -> None:
    ci = stack.auth(await stack.api_key())
    await verified(stack, ci)
    async with lanes_paused(stack):
        event_id = await accepted(stack, "/build-events/", build_body(scm_sha="abc1234"), ci)

        async def queued() -> bool:
            return await event_status(stack, ci, event_id) == "queued"

        await stack.wait_for(queued)

    async def recorded() -> bool:
        return await event_status(stack, ci, event_id) == "recorded"

    await stack.wait_for(recorded)
    status = (await stack.http.get(f"/events/{event_id}", headers=ci)).json()
    assert status["event_kind"] == "build"
    assert status["environment_id"] is None
    assert status["detail"] is None
    assert status["record_id"] == event_id
    version = await stack.http.get(f"/versions/{status['version_id']}", headers=ci)
    assert version.json()["registered"] is True
    assert version.json()["product_id"] == status["product_id"]


@pytest.mark.transports("rabbit")
@pytest.mark.ingest(rpc_timeout_s=IMPATIENT_RPC_TIMEOUT_S)
async def test_a_deployment_fact_is_accepted_then_recorded(stack: Stack) -> None:
    ci = stack.auth(await stack.api_key())
    await verified(stack, ci)
    async with lanes_paused(stack):
        event_id = await accepted(stack, "/deployment-events", deploy_body(status="success"), ci)

    async def recorded() -> bool:
        return await event_status(stack, ci, event_id) == "recorded"

    await stack.wait_for(recorded)
    status = (await stack.http.get(f"/events/{event_id}", headers=ci)).json()
    assert status["event_kind"] == "deployment"
    deployment = await stack.http.get(f"/deployments/{status['record_id']}", headers=ci)
    assert deployment.status_code == 200, deployment.text
    assert deployment.json()["status"] == "completed"
    assert deployment.json()["environment_id"] == status["environment_id"]


@pytest.mark.transports("rabbit")
@pytest.mark.ingest(rpc_timeout_s=IMPATIENT_RPC_TIMEOUT_S)
async def test_a_start_without_a_verdict_is_503_and_leaves_nothing(
    stack: Stack,
) -> None:
    ci = stack.auth(await stack.api_key())
    await verified(stack, ci)
    async with lanes_paused(stack):
        response = await stack.http.post("/deployment-events/", json=deploy_body(), headers=ci)
        assert response.status_code == 503, response.text
        assert response.headers["retry-after"] == "5"
        detail = response.json()["detail"]
        assert detail["error"] == "policy_unavailable"
        assert detail["code"] == "POLICY_UNAVAILABLE"
        assert detail["message"]
        assert detail["retry_after"] is None
        # Behind the start on the same lane: once this is recorded, the start has been dealt with.
        behind = await accepted(stack, "/build-events/", build_body(), ci)

    async def recorded() -> bool:
        return await event_status(stack, ci, behind) == "recorded"

    await stack.wait_for(recorded)
    deployments = await stack.http.get("/deployments/", headers=ci)
    assert deployments.json() == []
    again = await stack.http.post("/deployment-events/", json=deploy_body(), headers=ci)
    assert again.status_code == 200, again.text


async def test_an_api_key_sees_only_its_own_events(stack: Stack) -> None:
    mine, theirs = stack.auth(await stack.api_key("mine")), stack.auth(await stack.api_key("ci2"))
    sent = await stack.http.post("/build-events/", json=build_body(), headers=mine)
    event_id = sent.json()["id"]
    assert await event_status(stack, mine, event_id) == "recorded"
    assert await event_status(stack, stack.admin, event_id) == "recorded"
    other = await stack.http.get(f"/events/{event_id}", headers=theirs)
    assert other.status_code == 404
    assert other.json() == {"detail": "Not found"}


@pytest.mark.transports("rabbit")
@pytest.mark.ingest(rpc_timeout_s=IMPATIENT_RPC_TIMEOUT_S)
async def test_under_load_a_fact_is_answered_202_without_waiting_for_its_record(
    stack: Stack,
) -> None:
    ci = stack.auth(await stack.api_key())
    await verified(stack, ci)
    async with lanes_paused(stack):
        waiting = [
            asyncio.create_task(
                stack.http.post(
                    "/build-events/",
                    json=build_body(product_name=f"p{n}", version="1.0"),
                    headers=ci,
                )
            )
            for n in range(FACT_WAITERS)
        ]
        await stack.wait_for(lambda: _waiting(stack, FACT_WAITERS))
        # The lanes hold every fact: only the gateway's count can answer this one early.
        event_id = await accepted(stack, "/build-events/", build_body(version="2.0"), ci)
        assert not any(task.done() for task in waiting)
        assert await event_status(stack, ci, event_id) == "queued"
        held = [await task for task in waiting]
    assert [response.status_code for response in held] == [202] * FACT_WAITERS

    async def recorded() -> bool:
        return await event_status(stack, ci, event_id) == "recorded"

    await stack.wait_for(recorded)
    versions = await stack.http.get("/versions/", params={"product": "api"}, headers=ci)
    assert [version["version"] for version in versions.json()] == ["2.0"]


async def _waiting(stack: Stack, count: int) -> bool:
    return bool(stack.gateway.facts_waiting == count)


@pytest.mark.transports("rabbit")
@pytest.mark.ingest(rpc_timeout_s=IMPATIENT_RPC_TIMEOUT_S)
async def test_facts_wait_for_their_record_once_too_many_202s_are_unrecorded(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gateway, "UNRECORDED_MAX", 2)
    ci = stack.auth(await stack.api_key())
    await verified(stack, ci)
    async with lanes_paused(stack):
        waiting = [
            asyncio.create_task(
                stack.http.post("/build-events/", json=build_body(version=f"1.{n}"), headers=ci)
            )
            for n in range(FACT_WAITERS)
        ]
        await stack.wait_for(lambda: _waiting(stack, FACT_WAITERS))
        early = [
            await accepted(stack, "/build-events/", build_body(version=f"2.{n}"), ci)
            for n in range(2)
        ]
        assert stack.gateway.client.unanswered == 2
        # The bound is reached: the next fact is held like the first ones, not answered 202.
        held = asyncio.create_task(
            stack.http.post("/build-events/", json=build_body(version="3.0"), headers=ci)
        )
        await stack.wait_for(lambda: _waiting(stack, FACT_WAITERS + 1))
        assert not held.done()
        # While policy answers nothing at all, the broker is the buffer: 202 at once.
        stack.gateway.health.down = True
        late = await accepted(stack, "/build-events/", build_body(version="4.0"), ci)
        stack.gateway.health.down = False
        answers = [await task for task in [*waiting, held]]
    assert all(answer.status_code in (200, 201, 202) for answer in answers)

    async def all_recorded() -> bool:
        statuses = [await event_status(stack, ci, event_id) for event_id in [*early, late]]
        return statuses == ["recorded"] * 3

    await stack.wait_for(all_recorded)
    await stack.wait_for(lambda: _unanswered(stack, 0))
    versions = await stack.http.get("/versions/", params={"product": "api"}, headers=ci)
    assert sorted(version["version"] for version in versions.json()) == [
        "1.0",
        "1.1",
        "1.2",
        "1.3",
        "2.0",
        "2.1",
        "3.0",
        "4.0",
    ]


async def _unanswered(stack: Stack, count: int) -> bool:
    return bool(stack.gateway.client.unanswered == count)
