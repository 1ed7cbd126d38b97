"""The first flows through the whole stack."""

from tests.support.stack import Stack


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


async def test_same_flow_on_the_real_broker(rabbit_stack: Stack) -> None:
    await test_build_then_deployment_shows_in_state(rabbit_stack)
