"""`/health/live` (the process answers) and `/health` (broker up, policy answering)."""

import pytest

from tests.support.flows import policy_stopped
from tests.support.stack import Stack

UP = {"status": "ok", "broker": "up", "policy": "up"}


async def _healthy(stack: Stack) -> bool:
    """Waited for, not asserted, before a test's claim: on a loaded CI machine the first
    ping after the stack starts can take longer than `/health`'s one second."""
    return (await stack.http.get("/health")).status_code == 200


@pytest.mark.databases("sqlite")
@pytest.mark.parametrize("path", ["/health/live", "/health/live/"])
async def test_liveness_needs_nothing(stack: Stack, path: str) -> None:
    response = await stack.http.get(path)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.databases("sqlite")
async def test_health_is_200_with_the_stack_up(stack: Stack) -> None:
    await stack.wait_for(lambda: _healthy(stack))
    for path in ("/health", "/health/"):
        response = await stack.http.get(path)
        assert response.status_code == 200, response.text
        assert response.json() == UP


@pytest.mark.transports("rabbit")
@pytest.mark.databases("sqlite")
async def test_health_is_503_while_policy_is_gone(stack: Stack) -> None:
    await stack.wait_for(lambda: _healthy(stack))
    async with policy_stopped(stack):
        response = await stack.http.get("/health")
        assert response.status_code == 503
        assert response.json() == {"status": "unavailable", "broker": "up", "policy": "down"}
        live = await stack.http.get("/health/live")
        assert live.status_code == 200
    await stack.wait_for(lambda: _healthy(stack))
