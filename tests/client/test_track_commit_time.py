"""`versioner track build` in a git checkout sends HEAD's commit time as
`extra_metadata.vi_commit_timestamp` (where lead time starts), unless the user gave one; no
checkout, no commit or no git never fails the build. Each test makes a repository of its own
in a temporary directory, with a commit of a known date."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from versioner.client.ci import COMMIT_TIMESTAMP_KEY, git_commit_time
from versioner.common.insights import COMMIT_TIMESTAMP_KEY as SERVER_KEY
from versioner.common.insights import commit_time

if TYPE_CHECKING:
    from tests.support.client import FakeApi, Runner

COMMITTED = "2026-03-02T10:20:30+01:00"
BUILD = ("track", "build", "--product", "api", "--version", "1.4.0")


def _git(repo: Path, *args: str, env: dict[str, str] | None = None) -> None:
    """Run git in `repo` with no user or system configuration."""
    found = shutil.which("git")
    if found is None:
        pytest.skip("git is not installed")
    isolated = {
        "PATH": str(Path(found).parent),
        "HOME": str(repo.parent),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": "/dev/null",
        "GIT_AUTHOR_NAME": "Ada",
        "GIT_AUTHOR_EMAIL": "ada@example.com",
        "GIT_COMMITTER_NAME": "Ada",
        "GIT_COMMITTER_EMAIL": "ada@example.com",
    }
    subprocess.run(
        [found, *args], cwd=repo, env=isolated | (env or {}), check=True, capture_output=True
    )


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A git repository whose HEAD was committed at `COMMITTED` (authored a day earlier)."""
    repo = tmp_path / "checkout"
    repo.mkdir()
    _git(repo, "init", "--quiet")
    dates = {"GIT_AUTHOR_DATE": "2026-03-01T09:00:00+01:00", "GIT_COMMITTER_DATE": COMMITTED}
    _git(repo, "commit", "--quiet", "--allow-empty", "-m", "first", env=dates)
    return repo


def test_a_build_in_a_checkout_sends_heads_commit_time(
    cli: Runner, api: FakeApi, checkout: Path
) -> None:
    result = cli(*BUILD, "--extra-metadata", '{"team": "payments"}', cwd=checkout)
    assert result.code == 0, result.stderr
    metadata = api.requests[0].body["extra_metadata"]
    assert metadata == {"team": "payments", COMMIT_TIMESTAMP_KEY: COMMITTED}


def test_a_commit_time_the_user_gives_is_kept(cli: Runner, api: FakeApi, checkout: Path) -> None:
    given = '{"vi_commit_timestamp": "2026-01-01T00:00:00Z"}'
    by_flag = cli(*BUILD, "--extra-metadata", given, cwd=checkout)
    by_env = cli(*BUILD, env={"VERSIONER_EXTRA_METADATA": given}, cwd=checkout)
    assert (by_flag.code, by_env.code) == (0, 0)
    for sent in api.requests:
        assert sent.body["extra_metadata"] == {COMMIT_TIMESTAMP_KEY: "2026-01-01T00:00:00Z"}


def test_verbose_shows_the_commit_time(cli: Runner, api: FakeApi, checkout: Path) -> None:
    result = cli(*BUILD, "--verbose", cwd=checkout)
    assert result.code == 0, result.stderr
    assert f"{COMMIT_TIMESTAMP_KEY}: {COMMITTED}" in result.stderr


def test_a_deployment_sends_no_commit_time(cli: Runner, api: FakeApi, checkout: Path) -> None:
    result = cli(
        "track", "deployment", "--product", "api", "--version", "1.4.0",
        "--environment", "production", cwd=checkout,
    )  # fmt: skip
    assert result.code == 0, result.stderr
    assert "extra_metadata" not in api.requests[0].body


def test_outside_a_checkout_the_build_is_sent_without_one(
    cli: Runner, api: FakeApi, workdir: Path
) -> None:
    result = cli(*BUILD, cwd=workdir)
    assert result.code == 0, result.stderr
    assert "extra_metadata" not in api.requests[0].body


def test_a_repository_without_a_commit_sends_none(
    cli: Runner, api: FakeApi, tmp_path: Path
) -> None:
    repo = tmp_path / "fresh"
    repo.mkdir()
    _git(repo, "init", "--quiet")
    result = cli(*BUILD, cwd=repo)
    assert result.code == 0, result.stderr
    assert "extra_metadata" not in api.requests[0].body


def test_without_git_on_the_path_the_build_is_still_sent(
    cli: Runner, api: FakeApi, checkout: Path, tmp_path: Path
) -> None:
    empty = tmp_path / "no-git-here"
    empty.mkdir()
    result = cli(*BUILD, env={"PATH": str(empty)}, cwd=checkout)
    assert result.code == 0, result.stderr
    assert "extra_metadata" not in api.requests[0].body
    assert git_commit_time(checkout, {"PATH": str(empty)}) == ""


def test_the_key_and_format_are_the_ones_the_server_reads(checkout: Path) -> None:
    assert COMMIT_TIMESTAMP_KEY == SERVER_KEY
    git = shutil.which("git")
    assert git is not None
    stamp = git_commit_time(checkout, {"PATH": str(Path(git).parent)})
    assert stamp == COMMITTED
    read = commit_time({SERVER_KEY: stamp})
    assert read is not None
    assert read.isoformat() == "2026-03-02T09:20:30+00:00"
