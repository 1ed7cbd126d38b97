"""The installed `versioner` script in a process of its own, as a pipeline runs it: the other
client tests call `main` in this process, so these hold the script, its exit codes and its
streams to the same promises."""

from typing import Any

from tests.support.client import FakeApi, Runner

DEPLOY = ("track", "deployment", "--product", "api", "--version", "1.4.0", "--environment", "prod")


def test_version_prints_the_installed_version(cli_process: Runner) -> None:
    result = cli_process("version")
    assert result.code == 0
    assert result.stdout.startswith("versioner ")


def test_a_recorded_deployment_exits_0(cli_process: Runner, api: FakeApi) -> None:
    result = cli_process(*DEPLOY)
    assert result.code == 0, result.stderr
    assert [(r.method, r.path) for r in api.requests] == [("POST", "/deployment-events/")]


def test_a_block_exits_5_with_every_violation_on_stderr(
    cli_process: Runner, api: FakeApi, three_violations: dict[str, Any]
) -> None:
    api.reply(428, three_violations)
    result = cli_process(*DEPLOY, "--status", "started")
    assert result.code == 5
    for violation in three_violations["detail"]["details"]["violations"]:
        assert violation["message"] in result.stderr


def test_bad_arguments_exit_1_and_send_nothing(cli_process: Runner, api: FakeApi) -> None:
    result = cli_process("track", "deployment", "--fail-on-api-error=maybe", *DEPLOY[2:])
    assert result.code == 1
    assert "true or false" in result.stderr
    assert api.requests == []


def test_a_console_that_cannot_show_emoji_does_not_crash_it(
    cli_process: Runner, api: FakeApi, three_violations: dict[str, Any]
) -> None:
    api.reply(428, three_violations)
    result = cli_process(*DEPLOY, "--status", "started", env={"PYTHONIOENCODING": "ascii"})
    assert result.code == 5
    assert "Traceback" not in result.stderr
