"""Settings precedence: flags, then environment and config file, then defaults."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.support.client import FakeApi, Runner

DEPLOY = ("track", "deployment", "--product", "api", "--version", "1", "--environment", "prod")
NO_ENV = {"VERSIONER_API_URL": "", "VERSIONER_API_KEY": ""}


def write_config(path: Path, url: str, key: str) -> Path:
    """Write a config file with `api_url` and `api_key`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"api_url: {url}\napi_key: {key}\n", encoding="utf-8")
    return path


def test_home_config_supplies_url_and_key(cli: Runner, api: FakeApi, home: Path) -> None:
    write_config(home / ".versioner" / "config.yaml", api.url, "sk_home")
    assert cli(*DEPLOY, env=NO_ENV).code == 0
    assert api.requests[0].headers["authorization"] == "Bearer sk_home"


def test_working_directory_config_is_read(cli: Runner, api: FakeApi, workdir: Path) -> None:
    write_config(workdir / "config.yaml", api.url, "sk_cwd")
    assert cli(*DEPLOY, env=NO_ENV).code == 0
    assert api.requests[0].headers["authorization"] == "Bearer sk_cwd"


def test_home_config_comes_before_working_directory(
    cli: Runner, api: FakeApi, home: Path, workdir: Path, unused_url: str
) -> None:
    write_config(home / ".versioner" / "config.yaml", api.url, "sk_home")
    write_config(workdir / "config.yaml", unused_url, "sk_cwd")
    assert cli(*DEPLOY, env=NO_ENV).code == 0
    assert api.requests[0].headers["authorization"] == "Bearer sk_home"


def test_env_beats_config_and_flag_beats_env(
    cli: Runner, api: FakeApi, home: Path, unused_url: str
) -> None:
    write_config(home / ".versioner" / "config.yaml", unused_url, "sk_config")
    assert cli(*DEPLOY, env={"VERSIONER_API_URL": api.url}).code == 0
    assert api.requests[0].headers["authorization"].startswith("Bearer sk_local_")
    env = {"VERSIONER_API_URL": unused_url}
    assert cli(*DEPLOY, "--api-url", api.url, "--api-key", "sk_flag", env=env).code == 0
    assert api.requests[1].headers["authorization"] == "Bearer sk_flag"


def test_explicit_config_file(cli: Runner, api: FakeApi, tmp_path: Path) -> None:
    path = write_config(tmp_path / "elsewhere.yaml", api.url, "sk_explicit")
    assert cli(*DEPLOY, "--config", str(path), env=NO_ENV).code == 0
    assert api.requests[0].headers["authorization"] == "Bearer sk_explicit"


def test_missing_explicit_config_exits_1(cli: Runner, api: FakeApi, tmp_path: Path) -> None:
    result = cli(*DEPLOY, "--config", str(tmp_path / "nope.yaml"))
    assert result.code == 1
    assert "config file" in result.stderr
    assert api.requests == []


def test_unrelated_working_directory_config_is_ignored(
    cli: Runner, api: FakeApi, workdir: Path
) -> None:
    (workdir / "config.yaml").write_text("- a list, not ours\n", encoding="utf-8")
    assert cli(*DEPLOY).code == 0


def test_default_api_url_is_local(cli: Runner, api: FakeApi) -> None:
    result = cli(*DEPLOY, "--debug", env={"VERSIONER_API_URL": ""})
    assert "http://127.0.0.1:8000/deployment-events/" in result.stderr
    assert api.requests == []


def test_bad_retry_delays_exit_1(cli: Runner, api: FakeApi) -> None:
    result = cli(*DEPLOY, env={"VERSIONER_RETRY_DELAYS": "soon"})
    assert result.code == 1
    assert "VERSIONER_RETRY_DELAYS" in result.stderr
