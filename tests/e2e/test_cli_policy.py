"""The installed `versioner` command against a real server: blocks print every violation and
exit 5, break-glass with a personal token, report-only warnings, rules and Deployment Requests
driven from the terminal.

Policy runs on the real RabbitMQ (`real_stack`, SQLite: what the CLI sees does not depend on
the engine); a second ingest, served by uvicorn on a free port of 127.0.0.1 in a thread of its
own, is what the CLI talks HTTP to. The CLI runs as a subprocess the test awaits, so policy
(on the test's event loop) keeps answering meanwhile.
"""

import asyncio
import json
import shutil
import socket
import sys
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from tests.support.databases import sqlite_url
from tests.support.stack import Stack, real_stack
from versioner.ingest.app import create_app

FLOW_NAME = "staging before production"
FLOW_MESSAGE = "1.4.0 must be deployed to staging before production."
TRACK = (
    "track",
    "deployment",
    "--product",
    "api",
    "--version",
    "1.4.0",
    "--environment",
    "production",
)


@dataclass(frozen=True)
class Result:
    """What a CLI run did."""

    code: int
    stdout: str
    stderr: str


@dataclass
class Served:
    """The stack, and the `versioner` command pointed at its HTTP server."""

    stack: Stack
    url: str
    home: Path
    api_key: str

    async def cli(self, *args: str, token: str | None = None) -> Result:
        """Run `versioner ARGS` with a clean environment; `token` instead of the API key."""
        binary = shutil.which("versioner", path=str(Path(sys.executable).parent))
        assert binary, "the versioner entry point is not installed in this venv"
        env = {
            "PATH": str(Path(sys.executable).parent),
            "HOME": str(self.home),
            "LANG": "C.UTF-8",
            "VERSIONER_API_URL": self.url,
            "VERSIONER_API_KEY": token or self.api_key,
            # A transient slow answer (a loaded machine) is retried as users get it, not failed.
            "VERSIONER_RETRY_DELAYS": "1,2",
        }
        process = await asyncio.create_subprocess_exec(
            binary,
            *args,
            env=env,
            cwd=self.home,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(process.communicate(), timeout=60)
        assert process.returncode is not None
        return Result(process.returncode, out.decode(), err.decode())

    async def rule(self, body: dict[str, Any]) -> dict[str, Any]:
        """A rule created over HTTP by the admin."""
        response = await self.stack.http.post(
            "/deployment-rules/", json=body, headers=self.stack.admin
        )
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created


@pytest.fixture
async def served(tmp_path: Path, amqp_url: str) -> AsyncIterator[Served]:
    """Policy on the real broker and an ingest served over HTTP on 127.0.0.1."""
    async with real_stack(sqlite_url(tmp_path), amqp_url) as stack:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        app = create_app(stack.ingest_settings)
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        try:

            async def started() -> bool:
                assert thread.is_alive(), "the HTTP server stopped"
                return server.started

            await stack.wait_for(started, timeout=20)
            url = f"http://127.0.0.1:{port}"

            async def healthy() -> bool:
                # Until its first ping is answered this gateway refuses unknown credentials
                # (503 at once): the CLI, retrying without delay here, would meet only that.
                async with httpx.AsyncClient(base_url=url, trust_env=False) as http:
                    return (await http.get("/health")).status_code == 200

            await stack.wait_for(healthy, timeout=20)
            home = tmp_path / "home"
            home.mkdir()
            yield Served(stack, url, home, await stack.api_key())
        finally:
            server.should_exit = True
            await asyncio.to_thread(thread.join, 20)
            sock.close()
        assert not thread.is_alive()


def flow(**fields: Any) -> dict[str, Any]:
    """An enabled flow rule: production after staging."""
    return {
        "name": FLOW_NAME,
        "rule_type": "flow",
        "config": {"prerequisites": ["staging"], "target": "production"},
        **fields,
    }


async def test_a_start_blocked_by_two_rules_exits_5_and_prints_every_violation(
    served: Served,
) -> None:
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    end = now + timedelta(hours=2)
    await served.rule(flow())
    await served.rule(
        {
            "name": "maintenance window",
            "rule_type": "schedule",
            "config": {
                "reason": "database upgrade",
                "windows": [
                    {
                        "start": (now - timedelta(hours=1)).replace(tzinfo=None).isoformat(),
                        "end": end.replace(tzinfo=None).isoformat(),
                    }
                ],
            },
        }
    )
    result = await served.cli(*TRACK, "--status", "started")
    assert result.code == 5, result.stderr
    assert "tracked successfully" not in result.stdout
    err = result.stderr
    assert "Deployment Precondition Failed" in err
    assert "2 violations" in err
    log = await served.stack.http.get(
        "/deployment-rules/violations", params={"outcome": "blocked"}, headers=served.stack.admin
    )
    recorded = {v["code"]: v for v in log.json()}
    assert set(recorded) == {"NO_DEPLOY_WINDOW", "FLOW_VIOLATION"}
    for code, rule_name in (
        ("NO_DEPLOY_WINDOW", "maintenance window"),
        ("FLOW_VIOLATION", FLOW_NAME),
    ):
        assert code in err
        assert rule_name in err
        # What to do next, as the server put it.
        assert recorded[code]["message"] in err
    assert FLOW_MESSAGE in err
    assert "Retry then" in err
    assert "database upgrade" in err
    assert f"retry after {end.isoformat().replace('+00:00', 'Z')}" in err
    # The window is first, so it leads; the flow has no retry time, so there is no overall one.
    assert err.index("NO_DEPLOY_WINDOW") < err.index("FLOW_VIOLATION")
    assert "Retry after:" not in err
    assert "--override-reason" in err
    deployments = await served.stack.http.get("/deployments/", headers=served.stack.admin)
    assert deployments.json() == []


async def test_a_soak_block_prints_when_to_retry(served: Served) -> None:
    await served.rule(flow(config={**flow()["config"], "min_soak_minutes": 60}))
    for status in ("started", "completed"):
        staged = await served.cli(*TRACK[:-1], "staging", "--status", status)
        assert staged.code == 0, staged.stderr
    result = await served.cli(*TRACK, "--status", "started")
    assert result.code == 5, result.stderr
    assert "INSUFFICIENT_SOAK_TIME" in result.stderr
    assert "Retry after: " in result.stderr
    retry = result.stderr.split("Retry after: ", 1)[1].split()[0]
    assert retry.endswith("Z")
    assert datetime.fromisoformat(retry) > datetime.now(UTC) + timedelta(minutes=59)


async def test_an_override_with_an_sre_token_exits_0(served: Served) -> None:
    await served.rule(flow())
    sre = await served.stack.user("sre", name="sasha")
    by_key = await served.cli(*TRACK, "--status", "started", "--override-reason", "ci wants it")
    assert by_key.code == 4, by_key.stderr
    assert "403" in by_key.stderr

    result = await served.cli(
        *TRACK, "--status", "started", "--override-reason", "outage hotfix", "--api-key", sre
    )
    assert result.code == 0, result.stderr
    assert "tracked successfully" in result.stdout
    assert "sasha" in result.stderr
    assert "outage hotfix" in result.stderr
    deployments = await served.stack.http.get("/deployments/", headers=served.stack.admin)
    [deployment] = deployments.json()
    override = deployment["extra_metadata"]["preflight_status"]["override"]
    assert (override["by"], override["reason"]) == ("sasha", "outage hotfix")
    assert [v["code"] for v in override["violations"]] == ["FLOW_VIOLATION"]


async def test_a_report_only_failure_exits_0_and_prints_the_warning(served: Served) -> None:
    await served.rule(flow(mode="report_only"))
    result = await served.cli(*TRACK, "--status", "started")
    assert result.code == 0, result.stderr
    assert "tracked successfully" in result.stdout
    assert "Report-only rule failed" in result.stderr
    assert f"{FLOW_NAME} [FLOW_VIOLATION]: {FLOW_MESSAGE}" in result.stderr


async def test_rules_create_then_mode_flips_the_outcome(served: Served) -> None:
    sre = await served.stack.user("sre")
    created = await served.cli(
        "rules",
        "create",
        "--name",
        FLOW_NAME,
        "--type",
        "flow",
        "--prerequisite",
        "staging",
        "--target",
        "production",
        "--json",
        token=sre,
    )
    assert created.code == 0, created.stderr
    rule = json.loads(created.stdout)
    assert (rule["rule_type"], rule["mode"]) == ("flow", "enabled")
    assert rule["config"]["prerequisites"] == ["staging"]

    assert (await served.cli(*TRACK, "--status", "started")).code == 5
    flipped = await served.cli("rules", "mode", rule["id"], "report_only", token=sre)
    assert flipped.code == 0, flipped.stderr
    reported = await served.cli(*TRACK, "--status", "started")
    assert reported.code == 0, reported.stderr
    assert "Report-only rule failed" in reported.stderr
    assert (await served.cli(*TRACK, "--status", "failed")).code == 0

    assert (await served.cli("rules", "mode", rule["id"], "enabled", token=sre)).code == 0
    assert (await served.cli(*TRACK, "--status", "started")).code == 5
    # A developer may not switch it.
    developer = await served.stack.user("developer")
    refused = await served.cli("rules", "mode", rule["id"], "disabled", token=developer)
    assert refused.code == 4, refused.stderr
    assert (await served.cli(*TRACK, "--status", "started")).code == 5


async def test_requests_create_submit_approve_drive_a_request_to_approved(
    served: Served,
) -> None:
    await served.rule(
        {
            "name": "production needs qa",
            "rule_type": "dr_required",
            "environments": ["production"],
            "config": {"approval_types": ["qa"]},
        }
    )
    blocked = await served.cli(*TRACK, "--status", "started")
    assert blocked.code == 5
    assert "DR_REQUIRED" in blocked.stderr

    developer = await served.stack.user("developer", name="dana")
    created = await served.cli(
        "requests",
        "create",
        "--name",
        "release 1.4",
        "--item",
        "api@1.4.0",
        "--environment",
        "production",
        "--slot",
        "qa",
        "--json",
        token=developer,
    )
    assert created.code == 0, created.stderr
    request = json.loads(created.stdout)
    assert request["status"] == "draft"
    submitted = await served.cli("requests", "submit", request["id"], token=developer)
    assert submitted.code == 0, submitted.stderr
    assert "in_progress" in submitted.stdout

    waiting = await served.cli(*TRACK, "--status", "started")
    assert waiting.code == 5
    assert "APPROVAL_REQUIRED" in waiting.stderr
    assert "release 1.4" in waiting.stderr

    own = await served.cli("requests", "approve", request["id"], "qa", token=developer)
    assert own.code == 4, own.stderr
    qa = await served.stack.user("qa")
    approved = await served.cli(
        "requests", "approve", request["id"], "qa", "--comment", "green", token=qa
    )
    assert approved.code == 0, approved.stderr
    assert "approved" in approved.stdout
    shown = await served.stack.http.get(
        f"/deployment-requests/{request['id']}", headers=served.stack.admin
    )
    assert shown.json()["status"] == "approved"
    assert shown.json()["approval_slots"][0]["comment"] == "green"

    through = await served.cli(*TRACK, "--status", "started")
    assert through.code == 0, through.stderr
    assert "tracked successfully" in through.stdout
