"""The README's promise: `make run` starts everything, the CLI tracks a build and a deployment,
`GET /state/` shows it, and Ctrl-C stops all three services."""

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.services import free_port
from tests.support.stack import delete_installation
from versioner.common.names import BrokerNames

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=1) as response:
            return bool(response.status == 200)
    except OSError:
        return False


@dataclass
class Running:
    """`scripts/run.py` running, and what it printed so far (read as it comes: a full pipe
    would stop it)."""

    url: str
    env: dict[str, str]
    process: subprocess.Popen[str]
    lines: list[str]
    reader: threading.Thread

    def output(self) -> str:
        """Everything it printed, once it has stopped."""
        self.reader.join(timeout=10)
        return "".join(self.lines)


@pytest.fixture
def running(tmp_path: Path, amqp_url: str) -> Iterator[Running]:
    """`scripts/run.py` (what `make run` starts) in a scratch folder, on its own port and
    prefix, once it has said the services are healthy (its banner: it stops with 1 when
    stopped before it saw them healthy)."""
    port = free_port()
    prefix = f"vt-run-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "VERSIONER_HTTP_PORT": str(port),
        "VERSIONER_BROKER_PREFIX": prefix,
        "VERSIONER_AMQP_URL": amqp_url,
    }
    for name in (
        "VERSIONER_BOOTSTRAP_TOKEN",
        "VERSIONER_DATABASE_URL",
        "VERSIONER_NOTIFIER_DATABASE_URL",
    ):
        env.pop(name, None)
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "run.py")],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(process.stdout or []), daemon=True)
    reader.start()
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while not any("Versioner is running at" in line for line in lines):
            assert process.poll() is None, ("run.py stopped before it was healthy", lines[-20:])
            assert time.monotonic() < deadline, ("not healthy in 60 s", lines[-20:])
            time.sleep(0.2)
        assert _healthy(url)
        yield Running(url, env, process, lines, reader)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        asyncio.run(delete_installation(amqp_url, BrokerNames(prefix=prefix, lanes=8)))


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "versioner"), *args],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_make_run_then_the_cli_tracks_and_state_shows_it(running: Running, tmp_path: Path) -> None:
    url, env, process = running.url, running.env, running.process
    admin = (tmp_path / "var" / "bootstrap-token").read_text().strip()
    cli_env = {**env, "VERSIONER_API_URL": url, "VERSIONER_RETRY_DELAYS": "0,0,0"}
    for name in ("GITHUB_ACTIONS", "GITLAB_CI", "JENKINS_URL", "CIRCLECI", "TF_BUILD", "TRAVIS"):
        cli_env.pop(name, None)

    created = _cli("admin", "api-keys", "create", "ci", "--api-key", admin, env=cli_env)
    assert created.returncode == 0, created.stderr
    cli_env["VERSIONER_API_KEY"] = created.stdout.strip()

    build = _cli(
        "track",
        "build",
        "--product",
        "api",
        "--version",
        "1.0.0",
        "--status",
        "completed",
        "--scm-sha",
        "4f2a9c1",
        env=cli_env,
    )
    assert build.returncode == 0, build.stderr
    deploy = (
        "track",
        "deployment",
        "--product",
        "api",
        "--version",
        "1.0.0",
        "--environment",
        "production",
    )
    assert _cli(*deploy, "--status", "started", env=cli_env).returncode == 0
    blocked = _cli(*deploy, "--status", "started", env=cli_env)
    assert blocked.returncode == 5
    assert "DEPLOYMENT_IN_PROGRESS" in blocked.stderr
    assert _cli(*deploy, "--status", "completed", env=cli_env).returncode == 0

    request = urllib.request.Request(
        f"{url}/state/", headers={"Authorization": f"Bearer {cli_env['VERSIONER_API_KEY']}"}
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        state = json.load(response)
    assert state["products"][0]["cells"]["production"]["version"] == "1.0.0"

    os.killpg(process.pid, signal.SIGINT)
    code = process.wait(timeout=30)
    output = running.output()
    assert code == 0, output
    assert "Admin token:" in output
    assert not _healthy(url)


def _services(run_pid: int) -> dict[str, int]:
    """The service processes `scripts/run.py` started, by name."""
    found: dict[str, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        for name in ("policy", "notifier", "ingest"):
            if parent == run_pid and f"versioner-{name}" in command:
                found[name] = int(entry.name)
    return found


def test_make_run_starts_a_killed_service_again(running: Running, tmp_path: Path) -> None:
    url, env, process, lines = running.url, running.env, running.process, running.lines
    before = _services(process.pid)
    assert set(before) == {"policy", "notifier", "ingest"}
    os.kill(before["policy"], signal.SIGKILL)
    killed_at = time.monotonic()
    deadline = killed_at + 60
    while True:
        now = _services(process.pid)
        if "policy" in now and now["policy"] != before["policy"] and _healthy(url):
            break
        assert time.monotonic() < deadline, ("policy was not started again", lines[-20:])
        time.sleep(0.2)
    print(f"policy killed with -9, healthy again after {time.monotonic() - killed_at:.1f} s")

    admin = (tmp_path / "var" / "bootstrap-token").read_text().strip()
    cli_env = {**env, "VERSIONER_API_URL": url, "VERSIONER_RETRY_DELAYS": "0,0,0"}
    created = _cli("admin", "api-keys", "create", "ci", "--api-key", admin, env=cli_env)
    assert created.returncode == 0, created.stderr

    os.killpg(process.pid, signal.SIGINT)
    code = process.wait(timeout=30)
    output = running.output()
    assert code == 0, output[-3000:]
    assert "policy exited (code -9); starting it again" in output
