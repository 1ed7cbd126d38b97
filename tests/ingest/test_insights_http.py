"""Insights and incidents over HTTP: the shapes API.md gives, who may call, what is refused.

The arithmetic is tests/policy/test_policy_insights_*.py's; here a small history goes in
through the event endpoints and comes out through `/insights/*` and `/incidents/`.
"""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.support.flows import build_body, deploy_body
from tests.support.stack import Stack

INCIDENT = {
    "product_name": "api",
    "environment_name": "production",
    "incident_id": "PD-1234",
    "status": "opened",
    "title": "Checkout is slow",
    "url": "https://pager.example/incidents/PD-1234",
}
DORA_KEYS = {
    "scope",
    "deployment_frequency",
    "lead_time",
    "change_failure_rate",
    "recovery_time",
    "buckets",
}


def _rfc3339(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


async def _history(stack: Stack) -> dict[str, Any]:
    """api 1.0.0 built (committed two hours before now) and completed in production, an hour
    ago by its own account; the deployment."""
    now = datetime.now(UTC)
    ci = stack.admin
    build = build_body(extra_metadata={"vi_commit_timestamp": _rfc3339(now - timedelta(hours=2))})
    assert (await stack.http.post("/build-events/", json=build, headers=ci)).status_code == 200
    started = await stack.http.post("/deployment-events/", json=deploy_body(), headers=ci)
    assert started.status_code == 200, started.text
    done = deploy_body(status="completed", completed_at=_rfc3339(now - timedelta(hours=1)))
    completed = await stack.http.post("/deployment-events/", json=done, headers=ci)
    assert completed.status_code == 200, completed.text
    deployment: dict[str, Any] = completed.json()
    return deployment


@pytest.mark.databases("sqlite")
async def test_dora_answers_the_four_keys_to_every_role_and_api_keys(stack: Stack) -> None:
    await _history(stack)
    key = stack.auth(await stack.api_key("ci-insights"))
    viewer = stack.auth(await stack.user("viewer"))
    for headers in (key, viewer):
        response = await stack.http.get("/insights/dora", headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        assert set(body) == DORA_KEYS
    assert body["scope"]["environments"] == ["production"]
    assert body["scope"]["bucket"] == "week"
    assert body["deployment_frequency"]["deployments"] == 1
    lead = body["lead_time"]
    assert lead["versions"] == 1
    assert lead["median_s"] == pytest.approx(3600, abs=5)
    assert lead["start_from"] == {"commit": 1, "build_started": 0, "first_build_event": 0}
    assert lead["level"] == "elite"
    assert body["change_failure_rate"]["rate"] == 0
    assert body["recovery_time"]["level"] is None
    assert (await stack.http.get("/insights/dora")).status_code == 401


@pytest.mark.databases("sqlite")
async def test_the_gate_report_and_its_query(stack: Stack) -> None:
    await _history(stack)
    response = await stack.http.get(
        "/insights/gate",
        params={"product": "api", "environment": "production,staging", "bucket": "day"},
        headers=stack.admin,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["scope"]["product"] == "api"
    assert body["scope"]["environments"] == ["production"]  # staging was never seen: left out
    assert body["blocked_attempts"] == 0
    assert set(body["waits"]) == {"freeze", "soak"}


@pytest.mark.databases("sqlite")
@pytest.mark.parametrize(
    "params",
    [
        {"bucket": "year"},
        {"since": "2026-03-02", "until": "2026-03-01"},
        {"since": "yesterday"},
        {"since": "2000-01-01", "bucket": "day"},
    ],
)
async def test_a_bad_query_is_422(stack: Stack, params: dict[str, str]) -> None:
    response = await stack.http.get("/insights/dora", params=params, headers=stack.admin)
    assert response.status_code == 422, response.text


@pytest.mark.databases("sqlite")
async def test_an_incident_is_recorded_once_attached_and_listed(stack: Stack) -> None:
    deployment = await _history(stack)
    key = stack.auth(await stack.api_key("pager"))
    opened = await stack.http.post("/incident-events/", json=INCIDENT, headers=key)
    assert opened.status_code == 200, opened.text
    incident = opened.json()
    assert incident["deployment_id"] == deployment["id"]
    assert incident["version"] == "1.0.0"
    assert incident["status"] == "opened"
    again = await stack.http.post("/incident-events", json=INCIDENT, headers=key)
    assert again.json() == incident
    resolved = await stack.http.post(
        "/incident-events/", json={**INCIDENT, "status": "resolved"}, headers=key
    )
    assert resolved.json()["status"] == "resolved"
    listed = await stack.http.get(
        "/incidents/", params={"product": "api", "status": "resolved"}, headers=key
    )
    assert listed.status_code == 200
    assert listed.headers["x-total-count"] == "1"
    assert [i["incident_id"] for i in listed.json()] == ["PD-1234"]
    by_deployment = await stack.http.get(
        "/incidents", params={"deployment": deployment["id"]}, headers=key
    )
    assert len(by_deployment.json()) == 1
    report = (await stack.http.get("/insights/dora", headers=key)).json()
    assert report["change_failure_rate"]["incidents"] == 1


@pytest.mark.databases("sqlite")
@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({**INCIDENT, "product_name": "unknown"}, 404),
        ({**INCIDENT, "status": "closed"}, 422),
        ({**INCIDENT, "incident_id": ""}, 422),
        ({**INCIDENT, "resolved_at": "2026-03-02T10:00:00Z"}, 422),
        (
            {
                **INCIDENT,
                "status": "resolved",
                "opened_at": "2026-03-02T10:00:00Z",
                "resolved_at": "2026-03-02T09:00:00Z",
            },
            422,
        ),
    ],
)
async def test_a_bad_incident_is_refused_and_records_nothing(
    stack: Stack, body: dict[str, Any], status: int
) -> None:
    await _history(stack)
    response = await stack.http.post("/incident-events/", json=body, headers=stack.admin)
    assert response.status_code == status, response.text
    listed = await stack.http.get("/incidents/", headers=stack.admin)
    assert listed.json() == []


@pytest.mark.databases("sqlite")
async def test_only_event_senders_record_incidents(stack: Stack) -> None:
    await _history(stack)
    viewer = stack.auth(await stack.user("viewer"))
    response = await stack.http.post("/incident-events/", json=INCIDENT, headers=viewer)
    assert response.status_code == 403
