"""The first flows through the whole stack."""

import pytest

from tests.support.stack import Stack


@pytest.mark.transports("memory", "rabbit")
async def test_build_then_deployment_shows_in_state(stack: Stack) -> None:
    key = await stack.api_key()
    headers = stack.auth(key)
    build = await stack.http.post(
        "/build-events/",
        json={"product_name": "api", "version": "1.0.0", "status": "success", "scm_sha": "abc"},
        headers=headers,
    )
    assert build.status_code == 200, build.text
    started = await stack.http.post(
        "/deployment-events/",
        json={
            "product_name": "api",
            "version": "1.0.0",
            "environment_name": "production",
            "status": "started",
        },
        headers=headers,
    )
    assert started.status_code == 200, started.text
    done = await stack.http.post(
        "/deployment-events/",
        json={
            "product_name": "api",
            "version": "1.0.0",
            "environment_name": "production",
            "status": "success",
        },
        headers=headers,
    )
    assert done.status_code == 200, done.text
    assert done.json()["id"] == started.json()["id"]
    state = await stack.http.get("/state/", headers=headers)
    assert state.json()["products"][0]["cells"]["production"]["version"] == "1.0.0"
