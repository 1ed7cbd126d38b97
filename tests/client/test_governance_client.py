"""The policy calls of `VersionerClient` without a server: paths, bodies, retries, errors."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from versioner.client.client import VersionerClient
from versioner.client.errors import ApiError

Handler = Callable[[httpx.Request], httpx.Response]


def recording(*responses: httpx.Response) -> tuple[VersionerClient, list[httpx.Request]]:
    """A client whose transport answers in order, and the requests it saw."""
    seen: list[httpx.Request] = []
    queue = list(responses)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return queue.pop(0)

    client = VersionerClient(
        "http://versioner.test/base",
        "sk_local_k1_secret",
        sleep=lambda _: None,
        transport=httpx.MockTransport(handler),
    )
    return client, seen


def test_named_version_segments_are_percent_encoded() -> None:
    answer = {"id": "a-1", "approval_type": "qa"}
    client, seen = recording(httpx.Response(201, json=answer), httpx.Response(201, json=answer))
    with client:
        approval = client.approve_named_version("product/with/slash", "1.0+b", "qa", "staging")
        client.approve_named_version("..", ".", "security")
    assert approval == answer
    assert seen[0].url.raw_path == b"/base/versions/product%2Fwith%2Fslash/1.0%2Bb/approvals"
    assert json.loads(seen[0].content) == {
        "approval_type": "qa",
        "environment": "staging",
        "comment": None,
    }
    # Dot segments would otherwise be resolved away by the URL parser.
    assert seen[1].url.raw_path == b"/base/versions/%2E%2E/%2E/approvals"


def test_update_rule_sends_only_what_is_given_and_keeps_an_empty_scope() -> None:
    client, seen = recording(httpx.Response(200, json={"id": "r-1"}))
    with client:
        client.update_rule("r-1", products=[], config={"approval_types": ["qa"]})
    assert seen[0].method == "PATCH"
    assert json.loads(seen[0].content) == {"products": [], "config": {"approval_types": ["qa"]}}


def test_list_requests_asks_awaiting_me_only_when_told() -> None:
    client, seen = recording(httpx.Response(200, json=[]), httpx.Response(200, json=[]))
    with client:
        assert client.list_requests(awaiting_me=True, status="in_progress") == []
        client.list_requests(limit=5)
    assert seen[0].url.params == httpx.QueryParams({"status": "in_progress", "awaiting": "me"})
    assert seen[1].url.params == httpx.QueryParams({"limit": "5"})


def test_logs_take_an_integer_cursor() -> None:
    client, seen = recording(httpx.Response(200, json=[]), httpx.Response(200, json=[]))
    with client:
        client.list_violations(outcome="overridden", before=40, since="2026-05-01T00:00:00Z")
        client.list_audit(kind="rule.", actor="ada", before=9)
    assert str(seen[0].url).startswith("http://versioner.test/base/deployment-rules/violations?")
    assert seen[0].url.params == httpx.QueryParams(
        {"since": "2026-05-01T00:00:00Z", "outcome": "overridden", "before": "40"}
    )
    assert seen[1].url.path == "/base/audit/"
    assert seen[1].url.params == httpx.QueryParams({"kind": "rule.", "actor": "ada", "before": "9"})


def test_decisions_are_retried_on_503_like_every_call() -> None:
    client, seen = recording(
        httpx.Response(503, json={"detail": "busy"}), httpx.Response(200, json={"id": "dr-1"})
    )
    with client:
        request = client.decide_slot("dr-1", "s-1", "reject", "not yet")
    assert request["id"] == "dr-1"
    assert len(seen) == 2
    assert seen[1].url.path == "/base/deployment-requests/dr-1/slots/s-1/decision"
    assert json.loads(seen[1].content) == {"decision": "reject", "comment": "not yet"}


def test_a_refused_move_raises_api_error_with_the_detail() -> None:
    body = {"detail": "a draft cannot be completed"}
    client, seen = recording(httpx.Response(409, json=body))
    with client, pytest.raises(ApiError) as caught:
        client.move_request("dr-1", "complete")
    assert caught.value.status_code == 409
    assert caught.value.message == "a draft cannot be completed"
    assert (seen[0].method, seen[0].url.path) == ("POST", "/base/deployment-requests/dr-1/complete")


def test_delete_rule_accepts_204_and_revoke_answers_the_approval() -> None:
    revoked = {"id": "a-1", "revoked_at": "2026-05-01T10:00:00Z"}
    client, seen = recording(httpx.Response(204), httpx.Response(200, json=revoked))
    with client:
        client.delete_rule("r/1")
        assert client.revoke_version_approval("v-1", "a-1") == revoked
    assert (seen[0].method, seen[0].url.raw_path) == ("DELETE", b"/base/deployment-rules/r%2F1")
    assert (seen[1].method, seen[1].url.path) == ("DELETE", "/base/versions/v-1/approvals/a-1")
