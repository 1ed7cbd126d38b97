"""`POST /deployment-events/` over HTTP: the 200 body, the built-in blocks, replays."""

from typing import Any
from uuid import UUID

import pytest

from tests.support.flows import build_body, deploy_body, is_utc
from tests.support.stack import Stack

# API.md: the 200 body of a deployment event.
DEPLOYMENT_FIELDS = {
    "id",
    "product_id",
    "version_id",
    "environment_id",
    "product_name",
    "version",
    "environment_name",
    "status",
    "deployed_at",
    "deployed_by",
    "completed_at",
    "deploy_url",
    "soak_time_hours",
    "extra_metadata",
}
PASSED: dict[str, object] = {"status": "passed", "rules_evaluated": [], "override": None}


async def deploy(stack: Stack, headers: dict[str, str], **fields: Any) -> dict[str, Any]:
    response = await stack.http.post(
        "/deployment-events/", json=deploy_body(**fields), headers=headers
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.mark.databases("sqlite")
@pytest.mark.parametrize("path", ["/deployment-events", "/deployment-events/"])
async def test_deployment_events_answer_with_and_without_a_slash(
    stack: Stack, ci: dict[str, str], path: str
) -> None:
    response = await stack.http.post(path, json=deploy_body(), headers=ci)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "started"


async def test_the_200_body_of_a_start(stack: Stack, ci: dict[str, str]) -> None:
    body = await deploy(
        stack,
        ci,
        status="Deploying",
        deployed_by="octocat",
        deploy_url="https://ci.example/runs/9",
        extra_metadata={"vi_gh_run": "9"},
        skip_preflight_checks=False,
    )
    assert set(body) >= DEPLOYMENT_FIELDS
    assert "kind" not in body
    for ident in ("id", "product_id", "version_id", "environment_id"):
        UUID(body[ident])
    assert (body["product_name"], body["version"], body["environment_name"]) == (
        "api",
        "1.0.0",
        "production",
    )
    assert body["status"] == "started"
    assert is_utc(body["deployed_at"])
    assert (body["deployed_by"], body["deploy_url"]) == ("octocat", "https://ci.example/runs/9")
    assert body["completed_at"] is None
    assert body["soak_time_hours"] is None
    assert body["extra_metadata"] == {"vi_gh_run": "9", "preflight_status": PASSED}

    environment = await stack.http.get(f"/environments/{body['environment_id']}", headers=ci)
    assert environment.json()["name"] == "production"


async def test_the_200_body_of_a_completion(stack: Stack, ci: dict[str, str]) -> None:
    started = await deploy(stack, ci)
    done = await deploy(stack, ci, status="deployed", completed_at="2025-05-06T07:08:09")
    assert set(done) >= DEPLOYMENT_FIELDS
    assert done["id"] == started["id"]
    assert done["status"] == "completed"
    assert done["completed_at"] == "2025-05-06T07:08:09Z"
    assert isinstance(done["soak_time_hours"], float)
    assert 0 <= done["soak_time_hours"] < 1
    assert done["extra_metadata"]["preflight_status"] == PASSED


async def test_a_terminal_event_without_a_start_is_recorded_as_skipped(
    stack: Stack, ci: dict[str, str]
) -> None:
    body = await deploy(stack, ci, status="success")
    assert body["status"] == "completed"
    assert body["extra_metadata"]["preflight_status"]["status"] == "skipped"


async def test_another_start_while_one_is_in_progress_is_409_as_the_action_parses_it(
    stack: Stack, ci: dict[str, str]
) -> None:
    running = await deploy(stack, ci, version="1.0.0", invoke_id="run-1")
    blocked = await stack.http.post(
        "/deployment-events/", json=deploy_body(version="1.1.0", invoke_id="run-2"), headers=ci
    )
    assert blocked.status_code == 409, blocked.text
    body = blocked.json()
    assert set(body) == {"detail"}
    detail = body["detail"]
    assert detail["error"] == "deployment_blocked"
    assert detail["code"] == "DEPLOYMENT_IN_PROGRESS"
    assert running["id"] in detail["message"]
    assert "retry_after" in detail
    assert detail["retry_after"] is None
    details = detail["details"]
    assert details["rule_name"] == "one deployment at a time"
    assert details["conflicting_deployment_id"] == running["id"]
    assert details["conflicting_deployment_status"] == "started"
    assert details["conflicting_deployment_started"] == running["deployed_at"]
    [violation] = details["violations"]
    assert violation == {
        "code": "DEPLOYMENT_IN_PROGRESS",
        "rule_name": "one deployment at a time",
        "rule_type": "concurrency",
        "message": detail["message"],
        "retry_after": None,
        "details": {
            "conflicting_deployment_id": running["id"],
            "conflicting_deployment_status": "started",
            "conflicting_deployment_started": running["deployed_at"],
        },
    }


async def test_a_blocked_attempt_is_not_a_deployment(stack: Stack, ci: dict[str, str]) -> None:
    await deploy(stack, ci, version="1.0.0")
    blocked = await stack.http.post(
        "/deployment-events/", json=deploy_body(version="1.1.0"), headers=ci
    )
    assert blocked.status_code == 409
    listed = await stack.http.get("/deployments/", headers=ci)
    assert [d["version"] for d in listed.json()] == ["1.0.0"]


async def test_skip_preflight_checks_never_bypasses_the_gate(
    stack: Stack, ci: dict[str, str]
) -> None:
    await deploy(stack, ci, version="1.0.0")
    for skip in (True, "true", 1):
        blocked = await stack.http.post(
            "/deployment-events/",
            json=deploy_body(version="1.1.0", skip_preflight_checks=skip),
            headers=ci,
        )
        assert blocked.status_code == 409, blocked.text
        assert blocked.json()["detail"]["code"] == "DEPLOYMENT_IN_PROGRESS"


async def test_a_start_with_another_sha_than_the_pinned_one_is_blocked(
    stack: Stack, ci: dict[str, str]
) -> None:
    pinned = await stack.http.post("/build-events/", json=build_body(scm_sha="abc1234"), headers=ci)
    assert pinned.status_code == 200, pinned.text
    blocked = await stack.http.post(
        "/deployment-events/", json=deploy_body(scm_sha="def5678"), headers=ci
    )
    assert blocked.status_code == 428, blocked.text
    detail = blocked.json()["detail"]
    assert (detail["error"], detail["code"]) == ("deployment_blocked", "VERSION_CONFLICT")
    assert detail["details"]["existing_sha"] == "abc1234"
    assert detail["details"]["sent_sha"] == "def5678"
    assert [v["rule_type"] for v in detail["details"]["violations"]] == ["version"]


async def test_a_replayed_start_returns_the_deployment_in_progress(
    stack: Stack, ci: dict[str, str]
) -> None:
    first = await deploy(stack, ci, invoke_id="run-1")
    again = await deploy(stack, ci, invoke_id="run-1")
    assert again["id"] == first["id"]


async def test_a_replayed_completion_changes_nothing(stack: Stack, ci: dict[str, str]) -> None:
    await deploy(stack, ci, invoke_id="run-1")
    done = await deploy(stack, ci, status="completed", invoke_id="run-1")
    again = await deploy(stack, ci, status="success", invoke_id="run-1")
    assert again["id"] == done["id"]
    assert again["status"] == "completed"
    listed = await stack.http.get("/deployments/", headers=ci)
    assert len(listed.json()) == 1


async def test_completion_frees_the_environment(stack: Stack, ci: dict[str, str]) -> None:
    await deploy(stack, ci, version="1.0.0")
    await deploy(stack, ci, version="1.0.0", status="failed")
    second = await deploy(stack, ci, version="1.1.0")
    assert second["status"] == "started"
