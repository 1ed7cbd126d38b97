"""`POST /build-events/` and its alias `/version-events/` over HTTP."""

from uuid import UUID

import pytest

from tests.support.flows import build_body, is_utc
from tests.support.stack import Stack

# API.md: the 200 body of a build event.
BUILD_FIELDS = {
    "id",
    "version_id",
    "product_id",
    "product_name",
    "version",
    "status",
    "scm_sha",
    "build_number",
    "build_url",
    "started_at",
    "completed_at",
    "created_at",
}


@pytest.mark.databases("sqlite")
@pytest.mark.parametrize(
    "path", ["/build-events", "/build-events/", "/version-events", "/version-events/"]
)
async def test_build_events_answer_with_and_without_a_slash(
    stack: Stack, ci: dict[str, str], path: str
) -> None:
    response = await stack.http.post(path, json=build_body(), headers=ci)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "completed"


async def test_the_200_body_of_a_build(stack: Stack, ci: dict[str, str]) -> None:
    response = await stack.http.post(
        "/build-events/",
        json=build_body(
            status=" SUCCESS ",
            scm_sha="abc1234",
            build_number=42,
            build_url="https://ci.example/runs/42",
            started_at="2025-03-04T05:06:07",
            completed_at="2025-03-04T07:06:07+02:00",
            unknown_field={"ignored": True},
        ),
        headers=ci,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) >= BUILD_FIELDS
    assert "kind" not in body
    assert "unknown_field" not in body
    for ident in ("id", "version_id", "product_id"):
        UUID(body[ident])
    assert (body["product_name"], body["version"], body["status"]) == ("api", "1.0.0", "completed")
    assert (body["scm_sha"], body["build_number"]) == ("abc1234", "42")
    assert body["build_url"] == "https://ci.example/runs/42"
    assert body["started_at"] == "2025-03-04T05:06:07Z"
    assert body["completed_at"] == "2025-03-04T05:06:07Z"
    assert is_utc(body["created_at"])

    version = await stack.http.get(f"/versions/{body['version_id']}", headers=ci)
    assert version.status_code == 200, version.text
    assert version.json()["product_id"] == body["product_id"]
    product = await stack.http.get(f"/products/{body['product_id']}", headers=ci)
    assert product.json()["name"] == "api"


async def test_every_build_creates_its_version_but_only_completed_registers_it(
    stack: Stack, ci: dict[str, str]
) -> None:
    started = await stack.http.post(
        "/build-events/", json=build_body(status="building", invoke_id="run-1"), headers=ci
    )
    assert started.status_code == 200, started.text
    assert started.json()["status"] == "started"
    version_id = started.json()["version_id"]
    version = await stack.http.get(f"/versions/{version_id}", headers=ci)
    assert version.json()["registered"] is False

    done = await stack.http.post(
        "/build-events/",
        json=build_body(status="built", invoke_id="run-1", scm_sha="abc1234"),
        headers=ci,
    )
    assert done.status_code == 200, done.text
    assert done.json()["id"] == started.json()["id"]
    assert done.json()["version_id"] == version_id
    version = await stack.http.get(f"/versions/{version_id}", headers=ci)
    assert version.json()["registered"] is True
    assert version.json()["scm_sha"] == "abc1234"


async def test_an_exact_replay_returns_the_same_build(stack: Stack, ci: dict[str, str]) -> None:
    body = build_body(invoke_id="run-7", scm_sha="abc1234", build_number="7")
    first = await stack.http.post("/build-events/", json=body, headers=ci)
    again = await stack.http.post("/build-events/", json=body, headers=ci)
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()


async def test_another_sha_for_a_pinned_version_is_409_version_conflict(
    stack: Stack, ci: dict[str, str]
) -> None:
    pinned = await stack.http.post(
        "/build-events/", json=build_body(version="1.2.3", scm_sha="abc1234"), headers=ci
    )
    assert pinned.status_code == 200, pinned.text
    clash = await stack.http.post(
        "/version-events/", json=build_body(version="1.2.3", scm_sha="def5678"), headers=ci
    )
    assert clash.status_code == 409, clash.text
    body = clash.json()
    message = "Version 1.2.3 of api already exists with SHA abc1234"
    assert body["message"] == message
    detail = body["detail"]
    assert detail["error"] == "version_conflict"
    assert detail["code"] == "VERSION_CONFLICT"
    assert detail["message"] == message
    assert detail["details"] == {"existing_sha": "abc1234", "sent_sha": "def5678"}


async def test_a_version_without_a_sha_takes_the_first_one_sent(
    stack: Stack, ci: dict[str, str]
) -> None:
    first = await stack.http.post("/build-events/", json=build_body(), headers=ci)
    assert first.json()["scm_sha"] is None
    second = await stack.http.post("/build-events/", json=build_body(scm_sha="abc1234"), headers=ci)
    assert second.status_code == 200, second.text
    version = await stack.http.get(f"/versions/{first.json()['version_id']}", headers=ci)
    assert version.json()["scm_sha"] == "abc1234"
