"""The README's promise: `make run` starts everything, the CLI tracks a build and a deployment,
`GET /state/` shows it, and Ctrl-C stops all three services."""

import json
import os
import shlex
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.make_run import ROOT, Running, healthy, make_run

BIN = Path(sys.executable).parent


@pytest.fixture
def running(tmp_path: Path, amqp_url: str) -> Iterator[Running]:
    """`scripts/run.py` (what `make run` starts) in a scratch folder, on its own port and
    prefix, once it has said the services are healthy (its banner: it stops with 1 when
    stopped before it saw them healthy)."""
    with make_run(tmp_path, amqp_url) as running:
        yield running


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
    assert not healthy(url)


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
        if "policy" in now and now["policy"] != before["policy"] and healthy(url):
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


def _try_it(lines: list[str]) -> list[str]:
    """The commands of the banner's "Try it:" block, as printed."""
    text = [line.strip() for line in lines]
    start = text.index("Try it:") + 1
    end = next(i for i in range(start, len(text)) if text[i].startswith("Ctrl-C"))
    return [line for line in text[start:end] if line]


def test_the_banners_try_it_lines_work_as_printed(running: Running, tmp_path: Path) -> None:
    """A new user pastes the "Try it:" lines into bash, with no Versioner variables set and
    `make run` on a port other than the CLI's default: each command reaches that port."""
    deadline = time.monotonic() + 10
    while not any(line.strip().startswith("Ctrl-C") for line in running.lines):
        assert time.monotonic() < deadline, ("no end of the banner", running.lines[-20:])
        time.sleep(0.1)
    commands = _try_it(running.lines)
    assert commands[-1].startswith("curl ")

    # UV_FROZEN: `uv run` as printed, but never re-locking or syncing in the middle of a test run.
    env = {**running.env, "VERSIONER_RETRY_DELAYS": "0,0,0", "UV_FROZEN": "1"}
    for name in (
        "VERSIONER_API_URL",
        "VERSIONER_API_KEY",
        "GITHUB_ACTIONS",
        "GITLAB_CI",
        "JENKINS_URL",
        "CIRCLECI",
        "TF_BUILD",
        "TRAVIS",
    ):
        env.pop(name, None)
    # `uv` as the banner calls it is the repository's scripts/uv.sh; the shim gives it the
    # PATH without the shim, as scripts/uv.sh runs the `uv` it finds there.
    shims = tmp_path / "shims"
    shims.mkdir()
    uv = shims / "uv"
    uv.write_text(
        "#!/bin/sh\n"
        f"PATH={shlex.quote(env['PATH'])}\n"
        "export PATH\n"
        f'exec {shlex.quote(str(ROOT / "scripts" / "uv.sh"))} "$@"\n'
    )
    uv.chmod(0o755)
    env["PATH"] = f"{shims}{os.pathsep}{env['PATH']}"

    started = time.monotonic()
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", "\n".join(commands)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    print(f"the Try it lines ran in {time.monotonic() - started:.1f} s")
    assert done.returncode == 0, (commands, done.stdout, done.stderr)
    # The last line is curl's answer (the CLI's lines before it end with a newline).
    state = json.loads(done.stdout.splitlines()[-1])
    [product] = state["products"]
    assert product["product"] == "api"
    assert product["cells"]["production"]["version"] == "1.0.0"
    assert product["cells"]["production"]["status"] == "completed"
