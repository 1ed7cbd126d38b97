"""Policy's handlers answer in memory: lane messages through `lanes.handle` (consumed with
aio-pika on the real broker), management requests through faststream's `TestRabbitBroker`."""

import logging
from collections.abc import AsyncIterator, Callable
from typing import Any
from uuid import uuid4

import pytest
from faststream.rabbit import RabbitBroker, TestRabbitBroker
from pydantic import BaseModel, TypeAdapter

from tests.support.policy import (
    CI,
    VIEWER,
    build_event,
    deployment_event,
    detail_of,
    policy_settings,
    recorded,
    recorded_build,
    refused,
    rows,
    started,
)
from tests.support.stack import MemoryPolicyClient
from versioner.common.messages.actor import SYSTEM
from versioner.common.messages.lanes import (
    BuildReply,
    DeploymentReply,
    DeploymentStartAbandoned,
)
from versioner.common.messages.management import CreateUser, GetState, Ping
from versioner.common.metrics import REGISTRY
from versioner.common.names import DEADLINE_HEADER, BrokerNames
from versioner.common.roles import Role
from versioner.policy.app import PolicyService
from versioner.policy.deployments import lanes
from versioner.policy.store.clock import FrozenClock
from versioner.policy.store.deadline import Deadline
from versioner.policy.store.tables import Deployment, EnvironmentState

_BUILD_REPLY: TypeAdapter[BuildReply] = TypeAdapter(BuildReply)
_DEPLOYMENT_REPLY: TypeAdapter[DeploymentReply] = TypeAdapter(DeploymentReply)
_TIMEOUT = 5.0


class _Wire:
    """Policy's queues as ingest reaches them: a lane per product, one management queue."""

    def __init__(self, broker: RabbitBroker, service: PolicyService) -> None:
        self.broker = broker
        self.service = service
        self.names: BrokerNames = service.settings.names
        self.client = MemoryPolicyClient(broker, self.names, service.ctx)

    def lane(self, product: str) -> str:
        return self.names.lane_key(self.names.lane_for(product))

    async def on_lane(self, product: str, message: BaseModel) -> bytes:
        reply = await self.client.call(
            self.lane(product), message.model_dump_json().encode(), timeout=_TIMEOUT, expires=True
        )
        assert reply is not None
        return reply

    async def manage(self, request: BaseModel) -> dict[str, Any]:
        reply = await self.client.call(
            self.names.management_key,
            request.model_dump_json().encode(),
            timeout=_TIMEOUT,
            expires=False,
        )
        assert reply is not None
        body: dict[str, Any] = TypeAdapter(dict[str, Any]).validate_json(reply)
        return body


@pytest.fixture
async def wire(database_url: str, clock: FrozenClock) -> AsyncIterator[_Wire]:
    """The policy service on an in-memory broker, its database migrated."""
    settings = policy_settings(
        database_url, broker_prefix=f"policy-test-{uuid4().hex[:8]}", policy_lanes=2
    )
    service = PolicyService(settings, clock=clock)
    await service.prepare()
    try:
        async with TestRabbitBroker(service.broker) as broker:
            yield _Wire(broker, service)
    finally:
        await service.close()


async def test_a_start_request_on_its_lane_is_answered_with_the_verdict(
    wire: _Wire, clock: FrozenClock
) -> None:
    first = started("api", "1.0.0", "production", at=clock.now())
    allowed = recorded(_DEPLOYMENT_REPLY.validate_json(await wire.on_lane("api", first)))
    assert allowed.id == first.event_id
    second = started("api", "1.0.1", "production", at=clock.now())
    blocked = refused(_DEPLOYMENT_REPLY.validate_json(await wire.on_lane("api", second)), 409)
    assert detail_of(blocked).code == "DEPLOYMENT_IN_PROGRESS"


async def test_a_build_event_on_its_lane_is_answered_with_the_record(
    wire: _Wire, clock: FrozenClock
) -> None:
    msg = build_event("api", "1.0.0", "success", scm_sha="abc", at=clock.now())
    build = recorded_build(_BUILD_REPLY.validate_json(await wire.on_lane("api", msg)))
    assert (build.id, build.status) == (msg.event_id, "completed")


async def test_a_deployment_fact_on_its_lane_is_answered_with_the_record(
    wire: _Wire, clock: FrozenClock
) -> None:
    msg = deployment_event("api", "1.0.0", "production", "completed", at=clock.now())
    d = recorded(_DEPLOYMENT_REPLY.validate_json(await wire.on_lane("api", msg)))
    assert d.extra_metadata["preflight_status"]["status"] == "skipped"


async def test_a_start_request_past_its_deadline_header_is_503(
    wire: _Wire, clock: FrozenClock
) -> None:
    msg = started("api", "1.0.0", "production", at=clock.now())
    reply = await lanes.handle(wire.service.ctx, msg, Deadline(1_000))
    assert reply is not None
    failure = refused(_DEPLOYMENT_REPLY.validate_json(lanes.encode(reply)), 503)
    assert detail_of(failure).code == "POLICY_UNAVAILABLE"
    assert await rows(wire.service.ctx, Deployment) == []


def _allowed_verdicts() -> float:
    return REGISTRY.get_sample_value("versioner_verdicts_total", {"outcome": "allowed"}) or 0


async def test_a_verdict_is_logged_and_counted_only_when_the_lane_says_its_reply_is_sent(
    wire: _Wire, clock: FrozenClock, caplog: pytest.LogCaptureFixture
) -> None:
    msg = started("api", "1.0.0", "production", at=clock.now())
    allowed = _allowed_verdicts()
    later: list[Callable[[], None]] = []
    with caplog.at_level(logging.INFO, logger="versioner.policy.verdict"):
        reply = await lanes.handle(wire.service.ctx, msg, Deadline(), later)
        assert reply is not None
        recorded(_DEPLOYMENT_REPLY.validate_json(lanes.encode(reply)))
        assert "verdict" not in caplog.text
        assert len(later) == 1
        later[0]()
    assert "verdict: api 1.0.0 to production may start" in caplog.text
    assert _allowed_verdicts() == allowed + 1


async def test_above_info_a_verdict_is_counted_without_a_line(
    wire: _Wire, clock: FrozenClock, caplog: pytest.LogCaptureFixture
) -> None:
    msg = started("api", "1.0.0", "production", at=clock.now())
    allowed = _allowed_verdicts()
    with caplog.at_level(logging.WARNING, logger="versioner.policy.verdict"):
        reply = await lanes.handle(wire.service.ctx, msg, Deadline())
        assert reply is not None
        recorded(_DEPLOYMENT_REPLY.validate_json(lanes.encode(reply)))
    assert "verdict" not in caplog.text
    assert _allowed_verdicts() == allowed + 1


async def test_an_abandoned_start_on_its_lane_closes_the_deployment(
    wire: _Wire, clock: FrozenClock
) -> None:
    msg = started("api", "1.0.0", "production", at=clock.now())
    recorded(_DEPLOYMENT_REPLY.validate_json(await wire.on_lane("api", msg)))
    abandoned = DeploymentStartAbandoned(
        event_id=msg.event_id, product_name="api", abandoned_at=clock.now()
    )
    await wire.client.send(wire.lane("api"), abandoned.model_dump_json().encode())
    [d] = await rows(wire.service.ctx, Deployment)
    assert (d.status, d.abort_reason) == ("aborted", "abandoned")
    [state] = await rows(wire.service.ctx, EnvironmentState)
    assert state.in_progress_deployment_id is None


async def test_a_management_request_is_answered(wire: _Wire, clock: FrozenClock) -> None:
    pong = await wire.manage(Ping(actor=SYSTEM))
    assert pong["kind"] == "pong"
    msg = deployment_event("api", "1.0.0", "production", "completed", at=clock.now())
    await wire.on_lane("api", msg)
    state = await wire.manage(GetState(actor=CI))
    assert state["products"][0]["cells"]["production"]["version"] == "1.0.0"


async def test_a_management_request_refused_is_answered_with_its_failure(wire: _Wire) -> None:
    body = await wire.manage(CreateUser(actor=VIEWER, name="eve", role=Role.ADMIN))
    assert (body["kind"], body["status_code"]) == ("failure", 403)


async def test_a_management_request_past_its_deadline_is_503(wire: _Wire) -> None:
    reply = await wire.broker.request(
        Ping(actor=SYSTEM).model_dump_json().encode(),
        exchange=wire.names.policy_exchange,
        routing_key=wire.names.management_key,
        headers={DEADLINE_HEADER: 1_000},
        content_type="application/json",
        timeout=_TIMEOUT,
    )
    body = TypeAdapter(dict[str, Any]).validate_json(reply.body)
    assert body["status_code"] == 503
