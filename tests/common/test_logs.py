"""`configure_logging`: the one format and level every service logs with."""

import os
import re
import subprocess
import sys

_SCRIPT = """
import logging
from versioner.common.logs import configure_logging
configure_logging({argument})
logging.getLogger("versioner.policy.deployments.lanes").debug("debug line")
logging.getLogger("versioner.policy.deployments.lanes").info("info line")
logging.getLogger("versioner.policy.deployments.lanes").warning("warning line")
"""


def _log(level_env: str | None, argument: str = "") -> list[str]:
    env = {k: v for k, v in os.environ.items() if k != "VERSIONER_LOG_LEVEL"}
    if level_env is not None:
        env["VERSIONER_LOG_LEVEL"] = level_env
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT.format(argument=argument)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return done.stderr.splitlines()


def test_info_by_default_in_the_one_format() -> None:
    lines = _log(None)
    assert len(lines) == 2
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO "
        r"versioner\.policy\.deployments\.lanes info line",
        lines[0],
    )
    assert lines[1].endswith(" WARNING versioner.policy.deployments.lanes warning line")


def test_the_level_comes_from_versioner_log_level_in_any_case() -> None:
    assert [line.split(" ", 2)[2] for line in _log("debug")] == [
        "DEBUG versioner.policy.deployments.lanes debug line",
        "INFO versioner.policy.deployments.lanes info line",
        "WARNING versioner.policy.deployments.lanes warning line",
    ]


def test_a_level_given_wins_over_the_environment() -> None:
    assert len(_log("debug", argument='"warning"')) == 1
