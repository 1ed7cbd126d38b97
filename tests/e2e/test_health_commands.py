"""`versioner-policy health` and `versioner-notifier health` (compose's health checks): exit 1
and say what is wrong."""

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.support.services import free_port

BIN = Path(sys.executable).parent


def _health(service: str, amqp_url: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VERSIONER_")}
    env |= {"VERSIONER_AMQP_URL": amqp_url, "VERSIONER_BROKER_PREFIX": f"vt-{uuid.uuid4().hex[:8]}"}
    return subprocess.run(
        [str(BIN / f"versioner-{service}"), "health"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("service", ["policy", "notifier"])
def test_no_broker_says_so(service: str) -> None:
    done = _health(service, f"amqp://guest:guest@127.0.0.1:{free_port()}/")
    assert done.returncode == 1
    assert "unhealthy: the broker" in done.stderr


def test_a_policy_that_never_started_says_so(amqp_url: str) -> None:
    done = _health("policy", amqp_url)
    assert done.returncode == 1
    assert "unhealthy: the broker refused the ping" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_notifier_that_never_started_says_so(amqp_url: str) -> None:
    done = _health("notifier", amqp_url)
    assert done.returncode == 1
    assert "unhealthy: queue" in done.stderr
