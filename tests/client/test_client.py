"""`VersionerClient` without a server: retries, errors and the parsed policy block."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from versioner.client.client import VersionerClient
from versioner.client.errors import ApiError, NetworkError

Handler = Callable[[httpx.Request], httpx.Response]


def make_client(handler: Handler, delays: list[float]) -> VersionerClient:
    """A client on a mock transport whose sleeps are recorded in `delays`."""
    return VersionerClient(
        "http://versioner.test/base",
        "sk_local_k1_secret",
        sleep=delays.append,
        transport=httpx.MockTransport(handler),
    )


def scripted(*responses: httpx.Response | Exception) -> tuple[Handler, list[httpx.Request]]:
    """A transport handler answering (or raising) in order, and the requests it saw."""
    seen: list[httpx.Request] = []
    queue = list(responses)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        item = queue.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    return handler, seen


def test_5xx_is_retried_with_1_2_4_then_raises() -> None:
    handler, seen = scripted(*[httpx.Response(503, json={"detail": "busy"})] * 4)
    delays: list[float] = []
    with make_client(handler, delays) as client, pytest.raises(ApiError) as caught:
        client.list_products()
    assert delays == [1.0, 2.0, 4.0]
    assert len(seen) == 4
    assert caught.value.status_code == 503
    assert caught.value.retryable


def test_network_errors_are_retried_then_raise_network_error() -> None:
    handler, seen = scripted(*[httpx.ConnectError("refused")] * 4)
    delays: list[float] = []
    with make_client(handler, delays) as client, pytest.raises(NetworkError):
        client.state()
    assert delays == [1.0, 2.0, 4.0]
    assert len(seen) == 4


def test_429_then_success() -> None:
    handler, seen = scripted(httpx.Response(429), httpx.Response(200, json=[]))
    delays: list[float] = []
    with make_client(handler, delays) as client:
        assert client.list_users() == []
    assert delays == [1.0]
    assert len(seen) == 2


def test_other_4xx_is_not_retried() -> None:
    body = {"detail": [{"loc": ["body", "name"], "msg": "field required", "type": "missing"}]}
    handler, seen = scripted(httpx.Response(422, json=body))
    delays: list[float] = []
    with make_client(handler, delays) as client, pytest.raises(ApiError) as caught:
        client.create_api_key("")
    assert delays == []
    assert len(seen) == 1
    assert caught.value.message == "body.name: field required"
    assert caught.value.block is None


def test_requests_carry_auth_agent_json_and_base_path() -> None:
    handler, seen = scripted(httpx.Response(200, json={"id": "d-1"}))
    with make_client(handler, []) as client:
        tracked = client.track_deployment(
            {"product_name": "api", "version": "1", "environment_name": "p", "status": "ok"}
        )
    assert tracked.event_id == "d-1"
    assert not tracked.accepted
    request = seen[0]
    assert str(request.url) == "http://versioner.test/base/deployment-events/"
    assert request.headers["authorization"] == "Bearer sk_local_k1_secret"
    assert request.headers["user-agent"].startswith("versioner-cli/")
    assert request.headers["content-type"] == "application/json"
    assert json.loads(request.content)["status"] == "ok"


def test_202_is_accepted_with_the_event_id() -> None:
    body = {"id": "e-1", "event_id": "e-1", "status": "accepted"}
    handler, _ = scripted(httpx.Response(202, json=body))
    with make_client(handler, []) as client:
        tracked = client.track_build({"product_name": "api", "version": "1", "status": "ok"})
    assert tracked.accepted
    assert tracked.event_id == "e-1"
    assert tracked.record is None


def test_query_and_path_are_encoded() -> None:
    handler, seen = scripted(httpx.Response(200, json=[]), httpx.Response(200, json={}))
    with make_client(handler, []) as client:
        client.list_deployments(product="a b", limit=3)
        client.get_event("x/y")
    assert seen[0].url.params == httpx.QueryParams({"product": "a b", "limit": "3"})
    assert seen[1].url.raw_path == b"/base/events/x%2Fy"


def test_block_is_parsed_from_the_api_md_shape() -> None:
    violation: dict[str, Any] = {
        "code": "APPROVAL_REQUIRED",
        "rule_name": "release 14",
        "rule_type": "deployment_request",
        "message": "the qa slot of DR release 14 is not approved",
        "retry_after": None,
        "details": {"dr_id": "dr-1"},
    }
    body = {
        "detail": {
            "error": "deployment_blocked",
            "code": "APPROVAL_REQUIRED",
            "message": "the qa slot of DR release 14 is not approved",
            "retry_after": None,
            "details": {"rule_name": "release 14", "dr_id": "dr-1", "violations": [violation]},
        }
    }
    error = ApiError(428, body)
    block = error.block
    assert block is not None
    assert (block.code, block.rule_name, block.retry_after) == (
        "APPROVAL_REQUIRED",
        "release 14",
        None,
    )
    (parsed,) = block.violations
    assert parsed.rule_type == "deployment_request"
    assert parsed.details == {"dr_id": "dr-1"}
    assert error.detail == body["detail"]
    assert error.message == "the qa slot of DR release 14 is not approved"


def test_build_conflict_prefers_the_top_level_message() -> None:
    body = {
        "message": "Version 1.2.3 of api already exists with SHA abc1234",
        "detail": {"error": "version_conflict", "code": "VERSION_CONFLICT", "message": "x"},
    }
    assert ApiError(409, body).message == "Version 1.2.3 of api already exists with SHA abc1234"


def test_debug_hook_masks_the_key() -> None:
    handler, _ = scripted(httpx.Response(200, json={}))
    lines: list[str] = []
    client = VersionerClient(
        "http://versioner.test",
        "sk_local_k1_0123456789abcdefghij",
        transport=httpx.MockTransport(handler),
        debug=lines.append,
    )
    with client:
        client.me()
    text = "\n".join(lines)
    assert "Bearer ****ghij" in text
    assert "0123456789" not in text
