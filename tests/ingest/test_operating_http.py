"""Operating the gateway: `X-Request-ID` on every answer, `GET /metrics` for the networks a
scraper lives on, and what the metrics count (route templates, never ids)."""

import logging
import re

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.stack import Stack
from versioner.common import logs

STARTED = {
    "product_name": "api",
    "version": "1.0.0",
    "environment_name": "production",
    "status": "started",
}


def _value(text: str, series: str) -> float:
    """The value of `name{label="value",…}` in an exposition, whatever its labels' order."""
    name, _, labels = series.partition("{")
    wanted = dict(re.findall(r'(\w+)="([^"]*)"', labels))
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == wanted:
                return float(sample.value)
    return 0.0


async def _metrics(stack: Stack) -> str:
    response = await stack.http.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


@pytest.mark.databases("sqlite")
@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/health/live", 200),
        ("GET", "/products/", 401),
        ("GET", "/nowhere", 404),
        ("POST", "/deployment-events/", 401),
    ],
)
async def test_every_answer_carries_a_request_id(
    stack: Stack, method: str, path: str, status: int
) -> None:
    kept = await stack.http.request(method, path, headers={"X-Request-ID": "ci-run-42.7"})
    assert kept.status_code == status
    assert kept.headers["x-request-id"] == "ci-run-42.7"
    made = await stack.http.request(method, path)
    assert re.fullmatch(r"[0-9a-f]{32}", made.headers["x-request-id"])
    again = await stack.http.request(method, path)
    assert again.headers["x-request-id"] != made.headers["x-request-id"]


@pytest.mark.databases("sqlite")
@pytest.mark.parametrize("sent", ["", "has space", 'quo"te', "x" * 129])
async def test_a_request_id_that_could_forge_a_log_field_is_replaced(
    stack: Stack, sent: str
) -> None:
    response = await stack.http.get("/health/live", headers={"X-Request-ID": sent})
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"])


@pytest.mark.databases("sqlite")
async def test_the_event_and_request_ids_are_on_every_line_logged_for_an_event(
    stack: Stack, ci: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="versioner.policy")
    caplog.set_level(logging.DEBUG, logger="versioner.ingest.events")  # the handler's level too
    caplog.handler.addFilter(logs.Correlate())
    response = await stack.http.post(
        "/deployment-events/", json=STARTED, headers={**ci, "X-Request-ID": "r-77"}
    )
    assert response.status_code == 200, response.text
    # In memory policy runs in the request's task: its lines carry the ids as they would
    # after travelling in AMQP headers (tests/e2e/test_operating.py).
    told = [r for r in caplog.records if getattr(r, "request_id", None) == "r-77"]
    loggers = {r.name for r in told}
    assert {"versioner.ingest.events", "versioner.policy.verdict"} <= loggers
    assert len({getattr(r, "event_id", None) for r in told}) == 1


@pytest.mark.databases("sqlite")
async def test_metrics_count_requests_by_route_template_and_verdicts_by_outcome(
    stack: Stack, ci: dict[str, str]
) -> None:
    before = await _metrics(stack)
    started = await stack.http.post("/deployment-events/", json=STARTED, headers=ci)
    assert started.status_code == 200
    again = await stack.http.post(
        "/deployment-events/", json=STARTED | {"version": "1.1"}, headers=ci
    )
    assert again.status_code == 409
    product_id = started.json()["product_id"]
    assert (await stack.http.get(f"/products/{product_id}", headers=ci)).status_code == 200
    after = await _metrics(stack)

    def grew(series: str) -> float:
        return _value(after, series) - _value(before, series)

    route = 'method="POST",route="/deployment-events"'
    assert grew(f'versioner_http_requests_total{{{route},status="200"}}') == 1
    assert grew(f'versioner_http_requests_total{{{route},status="409"}}') == 1
    assert grew(f"versioner_http_request_duration_seconds_count{{{route}}}") == 2
    products = 'method="GET",route="/products/{ref}",status="200"'
    assert grew(f"versioner_http_requests_total{{{products}}}") == 1
    assert product_id not in after
    assert grew('versioner_verdicts_total{outcome="allowed"}') == 1
    assert grew('versioner_verdicts_total{outcome="blocked"}') == 1
    assert (
        grew('versioner_violations_total{code="DEPLOYMENT_IN_PROGRESS",rule_type="concurrency"}')
        == 1
    )
    answered = 'target="policy",kind="EvaluateDeployment",outcome="answer"'
    assert grew(f"versioner_rpc_requests_total{{{answered}}}") == 2
    assert 'versioner_build_info{service="ingest"' in after
    assert "versioner_process_cpu_seconds_total" in after
    names = {line.split("{")[0].split(" ")[0] for line in after.splitlines() if line[:1] != "#"}
    assert all(name.startswith("versioner_") for name in names), names


@pytest.mark.databases("sqlite")
@pytest.mark.ingest(metrics_allow="10.0.0.0/8")
async def test_metrics_are_refused_off_the_allowed_networks(stack: Stack) -> None:
    # The in-memory client calls from 127.0.0.1, which this installation does not allow.
    response = await stack.http.get("/metrics")
    assert response.status_code == 403
    assert "VERSIONER_METRICS_ALLOW" in response.json()["detail"]
