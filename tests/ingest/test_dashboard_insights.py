"""The dashboard's Insights page over HTTP: the DORA keys and the gate's costs as numbers and
server-drawn SVG, its filters remembered, and a deployment's incidents on its page."""

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.support.flows import build_body, deploy_body, signed_in
from tests.support.stack import Stack

NOW = datetime.now(UTC)


def _at(days_ago: float) -> str:
    return (NOW - timedelta(days=days_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


async def _deploy(
    stack: Stack, ci: dict[str, str], version: str, ended_days_ago: float, status: str
) -> dict[str, Any]:
    """A version built (committed a day before it ended), started, then ended in the past."""
    built = await stack.http.post(
        "/build-events/",
        json=build_body(
            version=version,
            extra_metadata={"vi_commit_timestamp": _at(ended_days_ago + 1)},
        ),
        headers=ci,
    )
    assert built.status_code in (200, 201), built.text
    body = deploy_body(version=version, environment_name="production")
    started = await stack.http.post(
        "/deployment-events/", json={**body, "status": "started"}, headers=ci
    )
    assert started.status_code in (200, 201), started.text
    ended = await stack.http.post(
        "/deployment-events/",
        json={**body, "status": status, "completed_at": _at(ended_days_ago)},
        headers=ci,
    )
    assert ended.status_code in (200, 201), ended.text
    deployment: dict[str, Any] = ended.json()
    return deployment


async def _history(stack: Stack, ci: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Three deployments to production (one failed, restored a day later) and an incident
    against the last, opened and resolved three hours later; the deployments by version."""
    deployments = {
        "1.0.0": await _deploy(stack, ci, "1.0.0", 20, "completed"),
        "1.1.0": await _deploy(stack, ci, "1.1.0", 10, "failed"),
        "1.1.1": await _deploy(stack, ci, "1.1.1", 9, "completed"),
    }
    incident = await stack.http.post(
        "/incident-events/",
        json={
            "product_name": "api",
            "environment_name": "production",
            "incident_id": "INC-7",
            "status": "resolved",
            "title": "Checkout errors",
            "url": "https://pager.example/INC-7",
            "opened_at": _at(5),
            "resolved_at": (NOW - timedelta(days=5) + timedelta(hours=3)).strftime(
                "%Y-%m-%dT%H:%M:%SZ"
            ),
        },
        headers=ci,
    )
    assert incident.status_code == 200, incident.text
    assert incident.json()["deployment_id"] == deployments["1.1.1"]["id"]
    return deployments


def _key(page: str, key: str) -> str:
    found = re.search(rf'data-key="{key}">(.*?)</div>', page, re.S)
    assert found, key
    return found.group(1)


@pytest.mark.databases("sqlite")
async def test_the_insights_page_shows_the_keys_and_their_charts(
    stack: Stack, ci: dict[str, str]
) -> None:
    await _history(stack, ci)
    await signed_in(stack, "viewer")
    home = await stack.http.get("/ui/")
    assert 'href="/ui/insights"' in home.text
    page = await stack.http.get("/ui/insights")
    assert page.status_code == 200, page.text
    text = page.text
    # Two completed deployments in 90 days; one of three finished failed, then the incident
    # against the one that restored it.
    frequency = _key(text, "deployment_frequency")
    assert "2 deployments" in frequency
    assert "level-low" in frequency
    failure_rate = _key(text, "change_failure_rate")
    assert "2 of 3 finished" in failure_rate
    assert "66.7%" in failure_rate
    assert "level-low" in failure_rate
    # Both versions that reached production were committed a day before.
    lead_time = _key(text, "lead_time")
    assert "1d <small>median" in lead_time
    assert "level-high" in lead_time
    assert "2 versions (2 from the commit)" in lead_time
    # A day to restore the failed one, three hours for the incident.
    recovery = _key(text, "recovery_time")
    assert "2 of 2 failures restored" in recovery
    assert "p90" in recovery
    for chart in ("chart-frequency", "chart-failure-rate", "chart-lead-time", "chart-recovery"):
        assert f'aria-labelledby="{chart}-title {chart}-desc"' in text
    assert text.count('role="img"') >= 8
    assert "completed</title></rect>" in text
    assert "failures</title></rect>" in text
    assert "<circle" in text
    assert "Week starting" in text
    assert "What the gate cost" in text
    assert "Nobody overrode the gate in this period" in text


@pytest.mark.databases("sqlite")
async def test_an_empty_installation_renders_cleanly(stack: Stack) -> None:
    await signed_in(stack, "billing")
    page = await stack.http.get("/ui/insights")
    assert page.status_code == 200, page.text
    assert page.text.count("no data") == 4
    assert "No deployments in this period" in page.text
    assert "Nothing was blocked in this period" in page.text
    assert "None" not in re.sub(r"<svg.*?</svg>", "", page.text, flags=re.S)


@pytest.mark.databases("sqlite")
async def test_the_filters_are_remembered(stack: Stack, ci: dict[str, str]) -> None:
    await _history(stack, ci)
    await signed_in(stack)
    narrowed = await stack.http.get(
        "/ui/insights", params={"product": "api", "period": "30", "bucket": "day"}
    )
    assert narrowed.status_code == 200
    assert "Deployments per day" in narrowed.text
    again = await stack.http.get("/ui/insights")
    assert "Deployments per day" in again.text
    assert '<option value="day" selected>' in again.text
    assert '<option value="30" selected>' in again.text
    assert '<option value="api" selected>' in again.text
    # An unknown product is an empty report, not an error.
    other = await stack.http.get("/ui/insights", params={"product": "nope", "bucket": "month"})
    assert other.status_code == 200
    assert "Deployments per month" in other.text
    assert "No deployments in this period" in other.text


@pytest.mark.databases("sqlite")
async def test_custom_dates_and_their_problems(stack: Stack, ci: dict[str, str]) -> None:
    await _history(stack, ci)
    await signed_in(stack)
    since = (NOW - timedelta(days=12)).date().isoformat()
    until = (NOW - timedelta(days=8)).date().isoformat()
    page = await stack.http.get(
        "/ui/insights", params={"period": "custom", "since": since, "until": until}
    )
    assert page.status_code == 200
    # 1.0.0 ended before; 1.1.0 failed, and 1.1.1 restored it but had the incident later.
    assert "1 deployment " in _key(page.text, "deployment_frequency")
    assert "2 of 2 finished" in _key(page.text, "change_failure_rate")
    assert f'name="since" value="{since}"' in page.text
    wrong = await stack.http.get(
        "/ui/insights", params={"period": "custom", "since": until, "until": since}
    )
    assert "Since must be before until" in wrong.text
    garbled = await stack.http.get("/ui/insights", params={"period": "custom", "since": "soon"})
    assert "Since is not a date" in garbled.text
    too_many = await stack.http.get(
        "/ui/insights",
        params={"period": "custom", "since": "2000-01-01", "until": "2020-01-01", "bucket": "day"},
    )
    assert too_many.status_code == 200
    assert "choose a wider bucket" in too_many.text


@pytest.mark.databases("sqlite")
async def test_a_deployment_lists_its_incidents(stack: Stack, ci: dict[str, str]) -> None:
    deployments = await _history(stack, ci)
    await signed_in(stack, "viewer")
    page = await stack.http.get(f"/ui/deployments/{deployments['1.1.1']['id']}")
    assert page.status_code == 200
    assert 'data-incident="INC-7"' in page.text
    assert '<a href="https://pager.example/INC-7" rel="noopener">Checkout errors</a>' in page.text
    assert "resolved" in page.text
    other = await stack.http.get(f"/ui/deployments/{deployments['1.0.0']['id']}")
    assert "No incident opened while this deployment was running" in other.text


@pytest.mark.databases("sqlite")
async def test_signed_out_insights_go_to_the_sign_in_form(stack: Stack) -> None:
    response = await stack.http.get("/ui/insights?bucket=day")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/ui/login?next=%2Fui%2Finsights")


@pytest.mark.databases("sqlite")
async def test_the_gates_costs_blocked_and_overridden(stack: Stack, ci: dict[str, str]) -> None:
    rule = await stack.http.post(
        "/deployment-rules/",
        json={
            "name": "staging first",
            "rule_type": "flow",
            "products": ["web"],
            "config": {"prerequisites": ["staging"], "target": "production"},
        },
        headers=stack.admin,
    )
    assert rule.status_code == 201, rule.text
    body = deploy_body(product_name="web", version="3.0.0", environment_name="production")
    blocked = await stack.http.post("/deployment-events/", json=body, headers=ci)
    assert blocked.status_code == 428, blocked.text
    sre = await stack.user("sre", name="sam")
    forced = await stack.http.post(
        "/deployment-events/",
        json={**body, "override_reason": "hotfix for <INC-9>"},
        headers=stack.auth(sre),
    )
    assert forced.status_code in (200, 201), forced.text
    await signed_in(stack, "qa")
    page = await stack.http.get("/ui/insights")
    assert page.status_code == 200
    text = page.text
    assert re.search(r'class="headline">1</span> blocked attempt<', text)
    assert re.search(r'class="headline">1</span> override<', text)
    assert 'aria-labelledby="chart-blocked-code-title chart-blocked-code-desc"' in text
    assert "staging first (flow): 1</title>" in text
    assert "hotfix for &lt;INC-9&gt;" in text
    assert "<blockquote>hotfix for &lt;INC-9&gt;</blockquote>" in text
    assert "sam: 1</title>" in text
    assert "Nobody overrode the gate" not in text
