"""`versioner track incident`: the body sent, what it prints, exit codes; and against a real
stack, an incident opened then resolved, recorded once and attached to the deployment that
was running, counted by `versioner insights dora`.

The stack runs in memory on this test's event loop, served over HTTP on 127.0.0.1; the CLI
runs as a process of its own that the test awaits, so the stack keeps answering meanwhile.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.support.client import Result, base_env
from tests.support.flows import deploy_body
from tests.support.stack import serving

if TYPE_CHECKING:
    from tests.support.client import FakeApi, Runner
    from tests.support.stack import Stack

RECORD_ID = "7d1f3c1e-0000-4000-8000-000000000007"
DEPLOYMENT_ID = "3f2c1a9e-0000-4000-8000-000000000001"
OPENED = "2026-05-01T10:00:00Z"
INCIDENT = {
    "kind": "incident",
    "id": RECORD_ID,
    "incident_id": "INC-7",
    "product_name": "api",
    "environment_name": "production",
    "status": "opened",
    "title": "Checkout errors",
    "url": "https://pager.example/INC-7",
    "opened_at": OPENED,
    "resolved_at": None,
    "deployment_id": DEPLOYMENT_ID,
    "version": "1.4.0",
    "created_at": OPENED,
    "updated_at": OPENED,
}
TRACK = ("track", "incident", "--product", "api", "--environment", "production")


def test_an_opened_incident_is_sent_and_printed_with_its_deployment(
    cli: Runner, api: FakeApi
) -> None:
    api.reply(200, INCIDENT)
    result = cli(
        *TRACK,
        "--incident-id",
        "INC-7",
        "--status",
        "opened",
        "--title",
        "Checkout errors",
        "--url",
        "https://pager.example/INC-7",
        "--opened-at",
        "2026-05-01T12:00:00+02:00",
    )
    assert result.code == 0, result.stderr
    (sent,) = api.requests
    assert (sent.method, sent.path) == ("POST", "/incident-events/")
    assert sent.body == {
        "product_name": "api",
        "environment_name": "production",
        "incident_id": "INC-7",
        "status": "opened",
        "title": "Checkout errors",
        "url": "https://pager.example/INC-7",
        "opened_at": "2026-05-01T12:00:00+02:00",
    }
    assert "✓ Incident INC-7 opened (api in production)" in result.stdout
    assert f"Attached to deployment {DEPLOYMENT_ID} (version 1.4.0)" in result.stdout


def test_names_come_from_the_environment_like_the_other_track_commands(
    cli: Runner, api: FakeApi
) -> None:
    api.reply(200, INCIDENT | {"deployment_id": None, "version": None, "status": "resolved"})
    env = {
        "VERSIONER_PRODUCT": "api",
        "VERSIONER_ENVIRONMENT": "production",
        "VERSIONER_INCIDENT_ID": "INC-7",
    }
    result = cli("track", "incident", "--status", "resolved", env=env)
    assert result.code == 0, result.stderr
    assert api.requests[0].body == {
        "product_name": "api",
        "environment_name": "production",
        "incident_id": "INC-7",
        "status": "resolved",
    }
    assert "Attached to no deployment" in result.stdout


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("--status", "opened"), "--incident-id is required (or set VERSIONER_INCIDENT_ID)"),
        (("--incident-id", "I", "--status", "opened", "--opened-at", "yesterday"), "RFC 3339"),
        (("--incident-id", "I", "--status", "opened", "--resolved-at", OPENED), "with --status"),
        (("--incident-id", "I", "--status", "closed"), "invalid choice: 'closed'"),
        (("--incident-id", "I"), "--status"),
    ],
)
def test_bad_arguments_exit_1_and_send_nothing(
    cli: Runner, api: FakeApi, args: tuple[str, ...], said: str
) -> None:
    result = cli(*TRACK, *args)
    assert result.code == 1
    assert said in result.stderr
    assert api.requests == []


def test_an_api_error_exits_4_unless_told_not_to_fail(cli: Runner, api: FakeApi) -> None:
    api.reply(404, {"detail": "No product named 'apj'"}, times=2)
    failed = cli(*TRACK, "--incident-id", "I", "--status", "opened")
    assert failed.code == 4
    assert "API error (HTTP 404: No product named 'apj')" in failed.stderr
    tolerated = cli(*TRACK, "--incident-id", "I", "--status", "opened", "--fail-on-api-error=false")
    assert tolerated.code == 0
    assert "Incident was not recorded" in tolerated.stderr


def test_a_network_failure_exits_1(cli: Runner, unused_url: str) -> None:
    result = cli(*TRACK, "--incident-id", "I", "--status", "opened", "--api-url", unused_url)
    assert result.code == 1
    assert "cannot reach" in result.stderr


# Against the real stack.


@dataclass(frozen=True)
class Served:
    """The stack, and the `versioner` script pointed at its HTTP server."""

    stack: Stack
    url: str
    home: Path
    api_key: str
    binary: str

    async def cli(self, *args: str) -> Result:
        """Run `versioner ARGS` in a process of its own, with a clean environment."""
        env = base_env(self.home, self.url) | {"VERSIONER_API_KEY": self.api_key}
        process = await asyncio.create_subprocess_exec(
            self.binary,
            *args,
            env=env,
            cwd=self.home,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(process.communicate(), timeout=60)
        assert process.returncode is not None
        return Result(process.returncode, out.decode(), err.decode())


@pytest.fixture
async def served(stack: Stack, home: Path, versioner_bin: str) -> AsyncIterator[Served]:
    """The test's stack over HTTP on 127.0.0.1."""
    async with serving(stack.app) as url:
        yield Served(stack, url, home, await stack.api_key(), versioner_bin)


async def _deployed(served: Served, version: str) -> dict[str, Any]:
    headers = served.stack.auth(served.api_key)
    body = deploy_body(version=version, status="completed")
    response = await served.stack.http.post("/deployment-events/", json=body, headers=headers)
    assert response.status_code == 200, response.text
    deployment: dict[str, Any] = response.json()
    return deployment


@pytest.mark.databases("sqlite")
async def test_an_incident_opened_then_resolved_is_one_record_on_the_running_deployment(
    served: Served,
) -> None:
    deployment = await _deployed(served, "1.4.0")
    opened = ("--incident-id", "INC-7", "--status", "opened", "--title", "Checkout errors")

    first = await served.cli(*TRACK, *opened)
    assert first.code == 0, first.stderr
    assert "✓ Incident INC-7 opened (api in production)" in first.stdout
    assert f"Attached to deployment {deployment['id']} (version 1.4.0)" in first.stdout
    again = await served.cli(*TRACK, *opened)
    assert again.code == 0, again.stderr
    resolved = await served.cli(*TRACK, "--incident-id", "INC-7", "--status", "resolved")
    assert resolved.code == 0, resolved.stderr
    assert "✓ Incident INC-7 resolved" in resolved.stdout
    assert "Resolved at: " in resolved.stdout
    assert f"Attached to deployment {deployment['id']}" in resolved.stdout

    listed = await served.stack.http.get("/incidents/", headers=served.stack.admin)
    assert listed.headers["X-Total-Count"] == "1"
    (incident,) = listed.json()
    assert incident["incident_id"] == "INC-7"
    assert incident["status"] == "resolved"
    assert incident["title"] == "Checkout errors"
    assert incident["deployment_id"] == deployment["id"]

    report = await served.cli(
        "insights", "dora", "--product", "api", "--environment", "production", "--json"
    )
    assert report.code == 0, report.stderr
    failures = json.loads(report.stdout)["change_failure_rate"]
    assert (failures["deployments"], failures["failures"], failures["incidents"]) == (1, 1, 1)
    table = await served.cli("insights", "dora", "--environment", "production")
    assert table.code == 0, table.stderr
    assert "100% of 1 deployment (1 failure: failed 0, rolled back 0, incidents 1)" in (
        table.stdout
    )


@pytest.mark.databases("sqlite")
async def test_an_unknown_product_exits_with_the_api_error_code(served: Served) -> None:
    await _deployed(served, "1.4.0")
    result = await served.cli(
        "track", "incident", "--product", "apj", "--environment", "production",
        "--incident-id", "INC-8", "--status", "opened",
    )  # fmt: skip
    assert result.code == 4, result.stdout
    assert "HTTP 404" in result.stderr
    assert "apj" in result.stderr
    listed = await served.stack.http.get("/incidents/", headers=served.stack.admin)
    assert listed.json() == []
