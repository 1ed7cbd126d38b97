"""Which local services answer, and what to do when one does not (skip, or fail under CI)."""

import os
import socket

import pytest

POSTGRES_ADMIN_URL = os.environ.get(
    "VERSIONER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
AMQP_URL = os.environ.get("VERSIONER_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def answers(host: str, port: int) -> bool:
    """Whether something accepts TCP connections there."""
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def postgres_answers() -> bool:
    """Whether PostgreSQL listens on 127.0.0.1:5432."""
    return answers("127.0.0.1", 5432)


def rabbit_answers() -> bool:
    """Whether RabbitMQ listens on 127.0.0.1:5672."""
    return answers("127.0.0.1", 5672)


def require(available: bool, what: str) -> None:
    """Skip with a printed reason when a service is missing; under `CI=true` that is a failure."""
    if available:
        return
    reason = f"{what} does not answer on 127.0.0.1"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason}: with CI=true the suite may not skip it")
    pytest.skip(reason)
