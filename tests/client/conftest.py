"""Fixtures of the client's tests: a local fake Versioner API and a runner for the installed
`versioner` entry point (both in tests/support/client.py)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.client import (
    API_KEY,
    FakeApi,
    Result,
    Runner,
    base_env,
    run_in_process,
)


@pytest.fixture
def api() -> Iterator[FakeApi]:
    """A running fake API on 127.0.0.1."""
    fake = FakeApi()
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """An empty HOME, so no real ~/.versioner/config.yaml leaks in."""
    path = tmp_path / "home"
    path.mkdir()
    return path


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """An empty working directory (no ./config.yaml)."""
    path = tmp_path / "work"
    path.mkdir()
    return path


@pytest.fixture
def api_key() -> str:
    """The key the runner puts in VERSIONER_API_KEY."""
    return API_KEY


@pytest.fixture
def unused_url() -> str:
    """A 127.0.0.1 URL where nothing listens (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def versioner_bin() -> str:
    """The `versioner` script installed in this venv."""
    found = shutil.which("versioner", path=str(Path(sys.executable).parent))
    assert found, "the versioner entry point is not installed in this venv"
    return found


@pytest.fixture
def cli(api: FakeApi, home: Path, workdir: Path, monkeypatch: pytest.MonkeyPatch) -> Runner:
    """Run `versioner ARGS` against the fake API, in this process the way click's `CliRunner`
    does (`main(argv)` with this environment, working directory and captured streams: a
    subprocess cost a quarter of a second each, a third of the fast tests' time); `env`
    overrides, an empty value unsets. `cli_process` runs the installed script itself."""

    def run(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> Result:
        full_env = base_env(home, api.url) | (env or {})
        return run_in_process(
            monkeypatch, args, {k: v for k, v in full_env.items() if v != ""}, cwd or workdir
        )

    return run


@pytest.fixture
def cli_process(api: FakeApi, home: Path, workdir: Path, versioner_bin: str) -> Runner:
    """Run the installed `versioner` script in a process of its own, as a pipeline does."""

    def run(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> Result:
        full_env = base_env(home, api.url) | (env or {})
        done = subprocess.run(
            [versioner_bin, *args],
            env={k: v for k, v in full_env.items() if v != ""},
            cwd=cwd or workdir,
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=60,
            check=False,
        )
        return Result(done.returncode, done.stdout, done.stderr)

    return run


@pytest.fixture
def three_violations() -> dict[str, Any]:
    """A 428 body shaped as in API.md ("Blocked"), with three violations."""
    return {
        "detail": {
            "error": "deployment_blocked",
            "code": "NO_DEPLOY_WINDOW",
            "message": "prod is frozen until 2027-01-02T00:00:00Z",
            "retry_after": "2027-01-02T00:00:00Z",
            "details": {
                "rule_name": "year-end freeze",
                "violations": [
                    {
                        "code": "NO_DEPLOY_WINDOW",
                        "rule_name": "year-end freeze",
                        "rule_type": "schedule",
                        "message": "prod is frozen until 2027-01-02T00:00:00Z",
                        "retry_after": "2027-01-02T00:00:00Z",
                        "details": {},
                    },
                    {
                        "code": "FLOW_VIOLATION",
                        "rule_name": "staging before production",
                        "rule_type": "flow",
                        "message": "1.4.0 must be deployed to staging before production",
                        "retry_after": None,
                        "details": {},
                    },
                    {
                        "code": "INSUFFICIENT_SOAK_TIME",
                        "rule_name": "soak in test",
                        "rule_type": "flow",
                        "message": "1.4.0 has soaked 10 of 60 minutes in test; wait for the soak",
                        "retry_after": "2026-12-01T10:50:00Z",
                        "details": {},
                    },
                ],
            },
        }
    }


@pytest.fixture
def in_progress() -> dict[str, Any]:
    """A 409 body: another deployment is in progress."""
    return {
        "detail": {
            "error": "deployment_blocked",
            "code": "DEPLOYMENT_IN_PROGRESS",
            "message": "api 1.3.0 is being deployed to prod; wait for it to finish",
            "retry_after": None,
            "details": {
                "rule_name": "one deployment at a time",
                "conflicting_deployment_id": "dep-77",
                "violations": [
                    {
                        "code": "DEPLOYMENT_IN_PROGRESS",
                        "rule_name": "one deployment at a time",
                        "rule_type": "concurrency",
                        "message": "api 1.3.0 is being deployed to prod; wait for it to finish",
                        "retry_after": None,
                        "details": {"conflicting_deployment_id": "dep-77"},
                    }
                ],
            },
        }
    }
