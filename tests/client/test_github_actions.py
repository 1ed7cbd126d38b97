"""Inside GitHub Actions: auto-detected fields, `vi_gh_*` metadata, annotations, job summary."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from tests.support.client import FakeApi, Runner

SHA = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture
def summary(tmp_path: Path) -> Path:
    """The file GitHub gives as $GITHUB_STEP_SUMMARY."""
    return tmp_path / "summary.md"


@pytest.fixture
def gh_env(summary: Path) -> dict[str, str]:
    """What a GitHub Actions job on a push to main has in its environment."""
    return {
        "GITHUB_ACTIONS": "true",
        "GITHUB_REPOSITORY": "acme/shop",
        "GITHUB_SHA": SHA,
        "GITHUB_REF_NAME": "main",
        "GITHUB_REF": "refs/heads/main",
        "GITHUB_RUN_ID": "999",
        "GITHUB_RUN_NUMBER": "12",
        "GITHUB_RUN_ATTEMPT": "2",
        "GITHUB_ACTOR": "octocat",
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_WORKFLOW": "Deploy",
        "GITHUB_JOB": "deploy",
        "GITHUB_EVENT_NAME": "push",
        "GITHUB_STEP_SUMMARY": str(summary),
    }


def test_deployment_fields_and_metadata_are_detected(
    cli: Runner, api: FakeApi, gh_env: dict[str, str], summary: Path
) -> None:
    metadata = '{"vi_gh_job": "mine", "team": "payments"}'
    result = cli(
        "track", "deployment", "--environment", "prod", "--extra-metadata", metadata, env=gh_env
    )
    assert result.code == 0, result.stderr
    assert api.requests[0].body == {
        "product_name": "shop",
        "version": SHA[:8],
        "environment_name": "prod",
        "status": "completed",
        "source_system": "github",
        "build_number": "12",
        "scm_sha": SHA,
        "scm_repository": "acme/shop",
        "invoke_id": "999",
        "deployed_by": "octocat",
        "deploy_url": "https://github.com/acme/shop/actions/runs/999",
        "extra_metadata": {
            "vi_gh_workflow": "Deploy",
            "vi_gh_job": "mine",
            "vi_gh_run_attempt": "2",
            "vi_gh_event_name": "push",
            "vi_gh_ref": "refs/heads/main",
            "team": "payments",
        },
    }
    text = summary.read_text(encoding="utf-8")
    assert "## 🚀 Versioner Summary" in text
    assert f"({api.url}/manage/deployments?view={api.event_id})" in text


def test_build_gets_branch_run_url_and_version_link(
    cli: Runner, api: FakeApi, gh_env: dict[str, str], summary: Path
) -> None:
    env = gh_env | {"VERSIONER_UI_URL": "https://versioner.example.com"}
    assert cli("track", "build", env=env).code == 0
    body = api.requests[0].body
    assert body["scm_branch"] == "main"
    assert body["build_url"] == "https://github.com/acme/shop/actions/runs/999"
    assert body["built_by"] == "octocat"
    assert "https://versioner.example.com/manage/versions?view=ver-1" in summary.read_text(
        encoding="utf-8"
    )


def test_flags_and_env_beat_detection(cli: Runner, api: FakeApi, gh_env: dict[str, str]) -> None:
    env = gh_env | {"VERSIONER_PRODUCT": "from-env"}
    args = ("track", "deployment", "--environment", "prod", "--source-system", "custom")
    assert cli(*args, "--version", "9.9", "--deployed-by", "me", env=env).code == 0
    body = api.requests[0].body
    assert (body["product_name"], body["version"]) == ("from-env", "9.9")
    assert (body["source_system"], body["deployed_by"]) == ("custom", "me")


def test_block_writes_annotations_and_rejection_summary(
    cli: Runner,
    api: FakeApi,
    gh_env: dict[str, str],
    summary: Path,
    three_violations: dict[str, Any],
) -> None:
    api.reply(428, three_violations)
    result = cli("track", "deployment", "--environment", "prod", "--status", "started", env=gh_env)
    assert result.code == 5
    annotations = [line for line in result.stdout.splitlines() if line.startswith("::error ")]
    assert len(annotations) == 3
    assert annotations[1].startswith("::error title=FLOW_VIOLATION%3A staging before production::")
    text = summary.read_text(encoding="utf-8")
    assert "## ❌ Versioner Deployment Rejected" in text
    for violation in three_violations["detail"]["details"]["violations"]:
        assert violation["message"] in text


def test_report_only_failures_become_warning_annotations(
    cli: Runner, api: FakeApi, gh_env: dict[str, str], summary: Path
) -> None:
    rule = {
        "rule_name": "Friday freeze",
        "status": "report_only",
        "evaluation_result": "failed",
        "error_message": "No deploys on Fridays",
    }
    preflight = {"status": "passed", "rules_evaluated": [rule]}
    api.reply(200, {"id": "dep-1", "extra_metadata": {"preflight_status": preflight}})
    result = cli("track", "deployment", "--environment", "prod", "--status", "started", env=gh_env)
    assert result.code == 0
    assert "::warning title=" in result.stdout
    assert "Report-only warnings" in summary.read_text(encoding="utf-8")


def test_outside_actions_nothing_is_written(cli: Runner, api: FakeApi, summary: Path) -> None:
    env = {"GITHUB_STEP_SUMMARY": str(summary)}
    result = cli(
        "track", "deployment", "--product", "a", "--version", "1", "--environment", "p", env=env
    )
    assert result.code == 0
    assert not summary.exists()
    assert "::" not in result.stdout
    assert "source_system" not in api.requests[0].body
