"""`versioner track build|deployment` against the fake API: bodies, output and exit codes."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from tests.support.client import FakeApi, Runner

DEPLOY = ("track", "deployment", "--product", "api", "--version", "1.4.0", "--environment", "prod")
BUILD = ("track", "build", "--product", "api", "--version", "1.4.0")


def test_build_sends_every_field(cli: Runner, api: FakeApi, api_key: str) -> None:
    result = cli(
        *BUILD,
        "--status", "building",
        "--scm-sha", "abc1234def",
        "--scm-repository", "acme/api",
        "--scm-branch", "main",
        "--build-number", "42",
        "--build-url", "https://ci.example.com/42",
        "--source-system", "jenkins",
        "--invoke-id", "run-42",
        "--built-by", "ada",
        "--built-by-email", "ada@example.com",
        "--built-by-name", "Ada L",
        "--started-at", "2026-05-01T10:00:00Z",
        "--completed-at", "2026-05-01T10:05:00+02:00",
        "--extra-metadata", '{"image": "acme/api:1.4.0"}',
    )  # fmt: skip
    assert result.code == 0, result.stderr
    assert "✓ Build tracked successfully" in result.stdout
    assert api.event_id in result.stdout
    (request,) = api.requests
    assert (request.method, request.path) == ("POST", "/build-events/")
    assert request.body == {
        "product_name": "api",
        "version": "1.4.0",
        "status": "building",
        "scm_sha": "abc1234def",
        "scm_repository": "acme/api",
        "scm_branch": "main",
        "build_number": "42",
        "build_url": "https://ci.example.com/42",
        "source_system": "jenkins",
        "invoke_id": "run-42",
        "built_by": "ada",
        "built_by_email": "ada@example.com",
        "built_by_name": "Ada L",
        "started_at": "2026-05-01T10:00:00Z",
        "completed_at": "2026-05-01T10:05:00+02:00",
        "extra_metadata": {"image": "acme/api:1.4.0"},
    }
    assert request.headers["authorization"] == f"Bearer {api_key}"
    assert request.headers["user-agent"] == "versioner-cli/0.1.0"
    assert request.headers["content-type"] == "application/json"


def test_deployment_sends_every_field(cli: Runner, api: FakeApi) -> None:
    result = cli(
        *DEPLOY,
        "--status", "started",
        "--scm-sha", "abc1234def",
        "--scm-repository", "acme/api",
        "--scm-branch", "release/1.4",
        "--build-number", "42",
        "--build-url", "https://ci.example.com/build/42",
        "--deploy-url", "https://ci.example.com/deploy/7",
        "--source-system", "gitlab",
        "--invoke-id", "run-7",
        "--deployed-by", "grace",
        "--deployed-by-email", "grace@example.com",
        "--deployed-by-name", "Grace H",
        "--completed-at", "2026-05-01T10:05:00Z",
        "--extra-metadata", '{"ticket": "OPS-1"}',
    )  # fmt: skip
    assert result.code == 0, result.stderr
    assert "✓ Deployment tracked successfully" in result.stdout
    assert api.event_id in result.stdout
    (request,) = api.requests
    assert (request.method, request.path) == ("POST", "/deployment-events/")
    assert request.body == {
        "product_name": "api",
        "version": "1.4.0",
        "environment_name": "prod",
        "status": "started",
        "scm_sha": "abc1234def",
        "scm_repository": "acme/api",
        "scm_branch": "release/1.4",
        "build_number": "42",
        "build_url": "https://ci.example.com/build/42",
        "deploy_url": "https://ci.example.com/deploy/7",
        "source_system": "gitlab",
        "invoke_id": "run-7",
        "deployed_by": "grace",
        "deployed_by_email": "grace@example.com",
        "deployed_by_name": "Grace H",
        "completed_at": "2026-05-01T10:05:00Z",
        "extra_metadata": {"ticket": "OPS-1"},
    }


def test_minimal_deployment_defaults_status_to_completed(cli: Runner, api: FakeApi) -> None:
    assert cli(*DEPLOY).code == 0
    assert api.requests[0].body == {
        "product_name": "api",
        "version": "1.4.0",
        "environment_name": "prod",
        "status": "completed",
    }


@pytest.mark.parametrize("status", ["SUCCESS", " Deployed ", "in_progress", "nonsense"])
def test_status_is_sent_raw(cli: Runner, api: FakeApi, status: str) -> None:
    assert cli(*DEPLOY, "--status", status).code == 0
    assert api.requests[0].body["status"] == status


def test_verbose_adds_ids(cli: Runner) -> None:
    result = cli(*DEPLOY, "-v")
    assert result.code == 0
    for line in ("Product ID: prod-1", "Version ID: ver-1", "Environment ID: env-1"):
        assert line in result.stdout


def test_202_prints_accepted_and_event_id(cli: Runner, api: FakeApi) -> None:
    api.reply(202, {"id": "evt-9", "event_id": "evt-9", "status": "accepted"})
    result = cli(*DEPLOY)
    assert result.code == 0
    assert "accepted, not yet recorded" in result.stdout
    assert "evt-9" in result.stdout


def test_deployment_5xx_exits_1_after_exactly_4_attempts(cli: Runner, api: FakeApi) -> None:
    api.reply(503, {"detail": {"code": "POLICY_UNAVAILABLE", "message": "no verdict"}}, times=4)
    result = cli(*DEPLOY, "--fail-on-api-error=false")
    assert result.code == 1
    assert len(api.requests) == 4
    assert "503" in result.stderr


def test_429_is_retried_then_succeeds(cli: Runner, api: FakeApi) -> None:
    api.reply(429, {"detail": "slow down"})
    api.reply(500, {"detail": "oops"})
    assert cli(*DEPLOY).code == 0
    assert len(api.requests) == 3


def test_4xx_is_not_retried(cli: Runner, api: FakeApi) -> None:
    api.reply(422, {"detail": [{"loc": ["body", "status"], "msg": "unknown status"}]})
    result = cli(*DEPLOY)
    assert result.code == 4
    assert len(api.requests) == 1
    assert "body.status: unknown status" in result.stderr


def test_connection_refused_exits_1(cli: Runner, unused_url: str) -> None:
    result = cli(*DEPLOY, "--fail-on-api-error=false", env={"VERSIONER_API_URL": unused_url})
    assert result.code == 1
    assert "cannot reach" in result.stderr


def test_build_network_failure_exits_2(cli: Runner, unused_url: str) -> None:
    result = cli(*BUILD, env={"VERSIONER_API_URL": unused_url})
    assert result.code == 2


def test_build_5xx_exits_2_after_4_attempts(cli: Runner, api: FakeApi) -> None:
    api.reply(502, None, times=4)
    assert cli(*BUILD).code == 2
    assert len(api.requests) == 4


@pytest.mark.parametrize("fail_flag", [[], ["--fail-on-api-error=false"]])
def test_build_409_exits_2_always(cli: Runner, api: FakeApi, fail_flag: list[str]) -> None:
    api.reply(
        409,
        {
            "message": "Version 1.4.0 of api already exists with SHA abc1234",
            "detail": {
                "error": "version_conflict",
                "code": "VERSION_CONFLICT",
                "message": "Version 1.4.0 of api already exists with SHA abc1234",
                "details": {"existing_sha": "abc1234", "sent_sha": "fff0000"},
            },
        },
    )
    result = cli(*BUILD, "--scm-sha", "fff0000", *fail_flag)
    assert result.code == 2
    assert "Version 1.4.0 of api already exists with SHA abc1234" in result.stderr


def test_build_422_exits_2(cli: Runner, api: FakeApi) -> None:
    api.reply(422, {"detail": [{"loc": ["body", "version"], "msg": "field required"}]})
    assert cli(*BUILD).code == 2


@pytest.mark.parametrize(
    ("flags", "env"),
    [
        (["--fail-on-api-error=false"], {}),
        (["--fail-on-api-error=0"], {}),
        (["--fail-on-api-error", "false"], {}),
        ([], {"VERSIONER_FAIL_ON_API_ERROR": "false"}),
    ],
)
def test_build_422_with_fail_off_exits_0(
    cli: Runner, api: FakeApi, flags: list[str], env: dict[str, str]
) -> None:
    api.reply(422, {"detail": [{"loc": ["body", "version"], "msg": "field required"}]})
    result = cli(*BUILD, *flags, env=env)
    assert result.code == 0
    assert "Event was not recorded" in result.stderr


def test_flag_beats_env_for_fail_on_api_error(cli: Runner, api: FakeApi) -> None:
    api.reply(422, {"detail": "bad"})
    result = cli(*BUILD, "--fail-on-api-error", env={"VERSIONER_FAIL_ON_API_ERROR": "false"})
    assert result.code == 2


@pytest.mark.parametrize(
    ("status", "detail"),
    [
        (401, "Invalid authentication credentials"),
        (403, "You do not have permission to perform this action"),
        (404, "Not found"),
        (422, [{"loc": ["body", "environment_name"], "msg": "field required"}]),
    ],
)
def test_deployment_api_errors_exit_4(
    cli: Runner, api: FakeApi, status: int, detail: object
) -> None:
    api.reply(status, {"detail": detail})
    result = cli(*DEPLOY)
    assert result.code == 4
    assert f"HTTP {status}" in result.stderr


@pytest.mark.parametrize("status", [401, 422])
def test_deployment_api_errors_with_fail_off_exit_0(cli: Runner, api: FakeApi, status: int) -> None:
    api.reply(status, {"detail": "nope"})
    result = cli(*DEPLOY, "--fail-on-api-error=false")
    assert result.code == 0
    assert "Event was not recorded" in result.stderr


@pytest.mark.parametrize(
    ("status", "heading"),
    [
        (409, "Deployment Conflict"),
        (423, "Deployment Blocked by Schedule"),
        (428, "Deployment Precondition Failed"),
    ],
)
@pytest.mark.parametrize("fail_flag", ["--fail-on-api-error=true", "--fail-on-api-error=false"])
def test_blocks_exit_5_whatever_fail_on_api_error(
    cli: Runner,
    api: FakeApi,
    status: int,
    heading: str,
    fail_flag: str,
    three_violations: dict[str, Any],
    in_progress: dict[str, Any],
) -> None:
    api.reply(status, three_violations if status != 409 else in_progress)
    result = cli(*DEPLOY, "--status", "started", fail_flag)
    assert result.code == 5
    assert heading in result.stderr
    assert len(api.requests) == 1


def test_428_prints_every_violation(
    cli: Runner, api: FakeApi, three_violations: dict[str, Any]
) -> None:
    api.reply(428, three_violations)
    result = cli(*DEPLOY, "--status", "started")
    assert result.code == 5
    err = result.stderr
    assert "❌ Deployment Precondition Failed" in err
    for violation in three_violations["detail"]["details"]["violations"]:
        assert violation["code"] in err
        assert violation["rule_name"] in err
        assert violation["message"] in err
    assert "retry after 2026-12-01T10:50:00Z" in err
    assert "retry after 2027-01-02T00:00:00Z" in err
    assert "Retry after: 2027-01-02T00:00:00Z" in err
    assert "--override-reason" in err
    assert result.stdout == ""


def test_409_in_progress_suggests_abort(
    cli: Runner, api: FakeApi, in_progress: dict[str, Any]
) -> None:
    api.reply(409, in_progress)
    result = cli(*DEPLOY, "--status", "started")
    assert result.code == 5
    assert "⚠️ Deployment Conflict" in result.stderr
    assert "versioner deployments abort dep-77" in result.stderr
    assert "--override-reason" not in result.stderr


def test_versioner_style_block_without_list(cli: Runner, api: FakeApi) -> None:
    api.reply(
        423,
        {
            "detail": {
                "error": "deployment_blocked",
                "code": "NO_DEPLOY_WINDOW",
                "message": "Deployment blocked by no-deploy window",
                "retry_after": "2025-11-21T18:00:00Z",
                "details": {"rule_name": "Friday freeze"},
            }
        },
    )
    result = cli(*DEPLOY, "--status", "started")
    assert result.code == 5
    assert "🔒 Deployment Blocked by Schedule" in result.stderr
    assert "Friday freeze" in result.stderr
    assert "retry after 2025-11-21T18:00:00Z" in result.stderr


def test_report_only_failures_are_warnings(cli: Runner, api: FakeApi) -> None:
    rules = [
        {
            "rule_name": "Friday freeze",
            "rule_type": "schedule",
            "status": "report_only",
            "evaluation_result": "failed",
            "code": "NO_DEPLOY_WINDOW",
            "error_message": "No deploys on Fridays after 17:00",
        },
        {
            "rule_name": "staging first",
            "rule_type": "flow",
            "status": "enabled",
            "evaluation_result": "passed",
            "code": None,
            "error_message": None,
        },
    ]
    api.reply(
        200,
        {
            "id": api.event_id,
            "status": "started",
            "extra_metadata": {"preflight_status": {"status": "passed", "rules_evaluated": rules}},
        },
    )
    result = cli(*DEPLOY, "--status", "started")
    assert result.code == 0
    assert "Friday freeze" in result.stderr
    assert "No deploys on Fridays after 17:00" in result.stderr
    assert "staging first" not in result.stderr


def test_override_reason_goes_in_body_and_metadata(cli: Runner, api: FakeApi) -> None:
    result = cli(
        *DEPLOY, "--status", "started", "--override-reason", "hotfix INC-12",
        "--extra-metadata", '{"ticket": "INC-12"}',
    )  # fmt: skip
    assert result.code == 0
    body = api.requests[0].body
    assert body["override_reason"] == "hotfix INC-12"
    assert body["extra_metadata"] == {"ticket": "INC-12", "override_reason": "hotfix INC-12"}


def test_override_reason_is_never_read_from_the_environment(cli: Runner, api: FakeApi) -> None:
    assert cli(*DEPLOY, env={"VERSIONER_OVERRIDE_REASON": "left over"}).code == 0
    assert "override_reason" not in api.requests[0].body


def test_oversized_metadata_exits_1_without_a_request(cli: Runner, api: FakeApi) -> None:
    big = json.dumps({"blob": "x" * 102_400})
    result = cli(*DEPLOY, "--extra-metadata", big)
    assert result.code == 1
    assert "102400" in result.stderr
    assert api.requests == []


def test_metadata_at_the_limit_is_sent(cli: Runner, api: FakeApi) -> None:
    blob = "x" * (102_400 - len('{"blob":""}'))
    assert cli(*DEPLOY, "--extra-metadata", json.dumps({"blob": blob})).code == 0
    assert len(api.requests) == 1


@pytest.mark.parametrize("value", ["not json", "[1, 2]", "null"])
def test_metadata_must_be_a_json_object(cli: Runner, api: FakeApi, value: str) -> None:
    assert cli(*DEPLOY, "--extra-metadata", value).code == 1
    assert api.requests == []


def test_skip_preflight_checks_is_sent_with_a_warning(cli: Runner, api: FakeApi) -> None:
    result = cli(*DEPLOY, "--skip-preflight-checks")
    assert result.code == 0
    assert api.requests[0].body["skip_preflight_checks"] is True
    assert "deprecated" in result.stderr


def test_api_key_flag_warns_and_is_used(cli: Runner, api: FakeApi) -> None:
    result = cli(*DEPLOY, "--api-key", "sk_local_k2_flagkey", env={"VERSIONER_API_KEY": ""})
    assert result.code == 0
    assert "process lists" in result.stderr
    assert api.requests[0].headers["authorization"] == "Bearer sk_local_k2_flagkey"


def test_debug_masks_the_key(cli: Runner, api_key: str) -> None:
    result = cli(*DEPLOY, "--debug")
    assert result.code == 0
    assert "POST" in result.stderr
    assert "/deployment-events/" in result.stderr
    assert "Bearer ****" in result.stderr
    assert api_key not in result.stderr + result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("track", "deployment", "--version", "1", "--environment", "prod"), "--product"),
        (("track", "deployment", "--product", "a", "--environment", "prod"), "--version"),
        (("track", "deployment", "--product", "a", "--version", "1"), "--environment"),
        ((*BUILD, "--started-at", "yesterday"), "--started-at"),
        ((*BUILD, "--completed-at", "2026-05-01T10:00:00"), "--completed-at"),
        ((*BUILD, "--environment", "prod"), "unrecognized"),
        ((*BUILD, "--fail-on-api-error=maybe"), "true or false"),
    ],
)
def test_bad_arguments_exit_1(
    cli: Runner, api: FakeApi, args: tuple[str, ...], message: str
) -> None:
    result = cli(*args)
    assert result.code == 1
    assert message in result.stderr
    assert api.requests == []


def test_missing_api_key_exits_1(cli: Runner, api: FakeApi) -> None:
    result = cli(*DEPLOY, env={"VERSIONER_API_KEY": ""})
    assert result.code == 1
    assert "VERSIONER_API_KEY" in result.stderr
    assert api.requests == []


def test_product_version_environment_from_env(cli: Runner, api: FakeApi) -> None:
    env = {"VERSIONER_PRODUCT": "web", "VERSIONER_VERSION": "2.0", "VERSIONER_ENVIRONMENT": "qa"}
    assert cli("track", "deployment", env=env).code == 0
    body = api.requests[0].body
    assert (body["product_name"], body["version"], body["environment_name"]) == ("web", "2.0", "qa")
    assert cli("track", "deployment", "--product", "api", env=env).code == 0
    assert api.requests[1].body["product_name"] == "api"


def test_version_command(cli: Runner, api: FakeApi) -> None:
    result = cli("version")
    assert result.code == 0
    assert result.stdout == "versioner 0.1.0\n"
    assert api.requests == []
