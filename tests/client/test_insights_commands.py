"""`versioner insights dora|gate`: the query sent, the readable report, `--json`, bad
arguments and API errors (against the fake API; tests/client/test_track_incident.py runs
`insights dora` against a real stack)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

from versioner.client.insights import duration, percent

if TYPE_CHECKING:
    from tests.support.client import FakeApi, Runner

SCOPE = {
    "product": "api",
    "environments": ["production", "eu-production"],
    "since": "2026-02-01T00:00:00Z",
    "until": "2026-05-01T00:00:00Z",
    "bucket": "week",
}
DORA: dict[str, Any] = {
    "kind": "dora",
    "scope": SCOPE,
    "deployment_frequency": {
        "deployments": 12,
        "per_week": 2.8,
        "deploy_days_per_week": 2.0,
        "level": "high",
    },
    "lead_time": {
        "versions": 9,
        "median_s": 12_000.0,
        "p90_s": 187_200.0,
        "start_from": {"commit": 7, "build_started": 0, "first_build_event": 2},
        "level": "elite",
    },
    "change_failure_rate": {
        "deployments": 12,
        "failures": 3,
        "rate": 0.25,
        "level": "medium",
        "failed": 1,
        "rolled_back": 1,
        "incidents": 1,
    },
    "recovery_time": {
        "failures": 3,
        "restored": 2,
        "median_s": 2_700.0,
        "p90_s": 7_200.0,
        "level": "high",
    },
    "buckets": [
        {
            "start": "2026-04-20T00:00:00Z",
            "deployments": 5,
            "failures": 1,
            "lead_time_median_s": 5_400.0,
            "recovery_median_s": None,
        },
        {
            "start": "2026-04-27T00:00:00Z",
            "deployments": 7,
            "failures": 2,
            "lead_time_median_s": 90.0,
            "recovery_median_s": 2_700.0,
        },
    ],
}
NO_WAIT = {
    "versions": 0,
    "released": 0,
    "waiting": 0,
    "total_s": 0.0,
    "median_s": None,
    "p90_s": None,
}
GATE: dict[str, Any] = {
    "kind": "gate",
    "scope": SCOPE | {"product": None, "environments": ["production"], "bucket": "month"},
    "blocked_attempts": 6,
    "blocked_by_code": [
        {"code": "FLOW_VIOLATION", "count": 4},
        {"code": "NO_DEPLOY_WINDOW", "count": 2},
    ],
    "blocked_by_rule": [
        {"rule_name": "staging before production", "rule_type": "flow", "count": 4},
        {"rule_name": "year-end freeze", "rule_type": "schedule", "count": 2},
    ],
    "overrides": {
        "count": 2,
        "by_person": [{"actor": "ada", "count": 2}],
        "latest": [
            {
                "at": "2026-04-30T17:45:00Z",
                "actor": "ada",
                "reason": "hotfix for checkout",
                "product": "api",
                "version": "1.4.1",
                "environment": "production",
                "codes": ["NO_DEPLOY_WINDOW", "FLOW_VIOLATION"],
            }
        ],
    },
    "waits": {
        "freeze": {
            "versions": 2,
            "released": 1,
            "waiting": 1,
            "total_s": 93_600.0,
            "median_s": 46_800.0,
            "p90_s": 86_400.0,
        },
        "soak": NO_WAIT,
    },
    "request_turnaround": {
        "submitted": 3,
        "approved": 2,
        "median_s": 5_400.0,
        "p90_s": 10_800.0,
        "by_approval_type": [
            {"approval_type": "qa", "approvals": 2, "median_s": 1_800.0, "p90_s": 3_600.0}
        ],
    },
    "gate_skipped": 1,
    "buckets": [{"start": "2026-04-01T00:00:00Z", "blocked": 6, "overrides": 2, "gate_skipped": 1}],
}


def lines(text: str) -> list[str]:
    """The output's lines, with runs of spaces (table padding) made one."""
    return [" ".join(line.split()) for line in text.splitlines()]


def test_dora_sends_the_period_and_prints_the_four_keys(cli: Runner, api: FakeApi) -> None:
    api.reply(200, DORA)
    result = cli(
        "insights", "dora", "--product", "api", "--environment", "production, eu-production",
        "--since", "2026-02-01T00:00:00Z", "--until", "2026-05-01", "--bucket", "week",
    )  # fmt: skip
    assert result.code == 0, result.stderr
    (sent,) = api.requests
    assert (sent.method, sent.path) == ("GET", "/insights/dora")
    assert sent.query == {
        "product": ["api"],
        "environment": ["production,eu-production"],
        "since": ["2026-02-01T00:00:00Z"],
        "until": ["2026-05-01"],
        "bucket": ["week"],
    }
    shown = lines(result.stdout)
    assert shown[0] == (
        "DORA keys: api in production, eu-production, 2026-02-01 → 2026-05-01 (by week)"
    )
    assert "Deployment frequency 12 deployments, 2.8/week, 2.0 deploy days/week high" in shown
    assert (
        "Lead time for changes median 3h 20m, p90 2d 4h "
        "(9 versions; from commit 7, first build event 2) elite"
    ) in shown
    assert (
        "Change failure rate 25% of 12 deployments "
        "(3 failures: failed 1, rolled back 1, incidents 1) medium"
    ) in shown
    assert "Time to restore median 45m, p90 2h (2 of 3 failures restored) high" in shown
    buckets = shown[shown.index("By week:") + 1 :]
    assert buckets == [
        "START DEPLOYMENTS FAILURES LEAD TIME (MEDIAN) RECOVERY (MEDIAN)",
        "2026-04-20 5 1 1h 30m -",
        "2026-04-27 7 2 1m 30s 45m",
    ]


def test_dora_without_data_shows_dashes_not_levels(cli: Runner, api: FakeApi) -> None:
    empty = {
        "scope": SCOPE | {"product": None, "environments": []},
        "deployment_frequency": {
            "deployments": 0,
            "per_week": 0.0,
            "deploy_days_per_week": 0.0,
            "level": None,
        },
        "lead_time": {
            "versions": 0,
            "median_s": None,
            "p90_s": None,
            "start_from": {"commit": 0, "build_started": 0, "first_build_event": 0},
            "level": None,
        },
        "change_failure_rate": {
            "deployments": 0,
            "failures": 0,
            "rate": None,
            "level": None,
            "failed": 0,
            "rolled_back": 0,
            "incidents": 0,
        },
        "recovery_time": {
            "failures": 0,
            "restored": 0,
            "median_s": None,
            "p90_s": None,
            "level": None,
        },
        "buckets": [],
    }
    api.reply(200, empty)
    result = cli("insights", "dora")
    assert result.code == 0, result.stderr
    assert api.requests[0].query == {}
    shown = lines(result.stdout)
    assert shown[0].startswith("DORA keys: every product in no production environment, ")
    assert "Lead time for changes - (0 versions) -" in shown
    assert (
        "Change failure rate - of 0 deployments "
        "(0 failures: failed 0, rolled back 0, incidents 0) -"
    ) in shown
    assert "Time to restore - (0 of 0 failures restored) -" in shown
    assert shown[-2:] == ["By week:", "none"]


def test_gate_prints_blocks_overrides_waits_turnaround_and_skips(cli: Runner, api: FakeApi) -> None:
    api.reply(200, GATE)
    result = cli("insights", "gate", "--environment", "production", "--bucket", "month")
    assert result.code == 0, result.stderr
    (sent,) = api.requests
    assert (sent.path, sent.query) == (
        "/insights/gate",
        {"environment": ["production"], "bucket": ["month"]},
    )
    shown = lines(result.stdout)
    assert shown[0] == "Gate: every product in production, 2026-02-01 → 2026-05-01 (by month)"
    assert "Blocked attempts: 6" in shown
    assert "FLOW_VIOLATION 4" in shown
    assert "staging before production flow 4" in shown
    assert "year-end freeze schedule 2" in shown
    assert "Overrides (break-glass): 2" in shown
    assert "ada 2" in shown
    assert (
        "2026-04-30 17:45 ada api 1.4.1 production NO_DEPLOY_WINDOW, FLOW_VIOLATION "
        "hotfix for checkout"
    ) in shown
    assert "freeze 2 1 1 1d 2h 13h 1d" in shown
    assert "soak 0 0 0 0s - -" in shown
    assert (
        "Deployment Requests: 3 submitted, 2 approved; submission to approved: "
        "median 1h 30m, p90 3h"
    ) in shown
    assert "qa 2 30m 1h" in shown
    assert "Gate skipped: 1 deployment completed without a start the gate checked" in shown
    assert shown[-1] == "2026-04-01 6 2 1"


@pytest.mark.parametrize(("report", "body"), [("dora", DORA), ("gate", GATE)])
def test_json_prints_the_servers_answer_as_is(
    cli: Runner, api: FakeApi, report: str, body: dict[str, Any]
) -> None:
    api.reply(200, body)
    result = cli("insights", report, "--json")
    assert result.code == 0, result.stderr
    assert json.loads(result.stdout) == body


@pytest.mark.parametrize("report", ["dora", "gate"])
def test_a_bad_bucket_is_refused_before_anything_is_sent(
    cli: Runner, api: FakeApi, report: str
) -> None:
    result = cli("insights", report, "--bucket", "year")
    assert result.code == 1
    assert "argument --bucket: invalid choice: 'year'" in result.stderr
    assert api.requests == []


def test_a_bad_time_is_refused_before_anything_is_sent(cli: Runner, api: FakeApi) -> None:
    result = cli("insights", "dora", "--since", "last tuesday")
    assert result.code == 1
    assert "not an ISO 8601 time: 'last tuesday'" in result.stderr
    assert api.requests == []


@pytest.mark.parametrize("report", ["dora", "gate"])
def test_an_unknown_product_exits_with_the_api_error_code(
    cli: Runner, api: FakeApi, report: str
) -> None:
    api.reply(404, {"detail": "No product named 'apj'"})
    result = cli("insights", report, "--product", "apj")
    assert result.code == 4
    assert "API error (HTTP 404): No product named 'apj'" in result.stderr
    assert result.stdout == ""


def test_a_server_error_after_every_retry_exits_1(cli: Runner, api: FakeApi) -> None:
    api.reply(503, {"detail": "policy did not answer"}, times=4)
    result = cli("insights", "gate")
    assert result.code == 1
    assert len(api.requests) == 4
    assert "HTTP 503 after every retry" in result.stderr


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (None, "-"),
        (0, "0s"),
        (0.4, "0s"),
        (45, "45s"),
        (90, "1m 30s"),
        (3_600, "1h"),
        (12_000, "3h 20m"),
        (12_029.6, "3h 20m"),
        (86_400, "1d"),
        (187_200, "2d 4h"),
        (187_260, "2d 4h"),
    ],
)
def test_durations_read_in_their_two_largest_units(seconds: float | None, shown: str) -> None:
    assert duration(seconds) == shown


@pytest.mark.parametrize(
    ("rate", "shown"), [(None, "-"), (0.0, "0%"), (0.25, "25%"), (0.125, "12.5%"), (1.0, "100%")]
)
def test_rates_read_as_percentages(rate: float | None, shown: str) -> None:
    assert percent(rate) == shown
