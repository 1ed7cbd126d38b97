"""The gateway's credential cache: verified once per TTL, forgotten when policy says so.

"At once" means the very next request after the change was answered. Those tests hold
policy's outbox, so only what the gateway does by itself counts; the broadcast path is
proven separately on the real broker, where it arrives a moment later.
"""

import pytest

from tests.support.flows import (
    FORBIDDEN,
    UNAUTHENTICATED,
    build_body,
    cache_of,
    count_policy_calls,
    event_status,
    gateway_of,
    lanes_paused,
    policy_stopped,
    stall_outbox,
    user_id,
    verified,
)
from tests.support.stack import IMPATIENT_RPC_TIMEOUT_S, Stack


@pytest.mark.databases("sqlite")
async def test_a_verified_token_is_not_verified_again_within_the_ttl(stack: Stack) -> None:
    key = stack.auth(await stack.api_key())
    calls = count_policy_calls(stack)
    for _ in range(5):
        await verified(stack, key)
    assert calls.count("authenticate") == 1

    cache = cache_of(stack)
    now = cache.clock()
    cache.clock = lambda: now + cache.ttl + 0.001
    await verified(stack, key)
    assert calls.count("authenticate") == 2


@pytest.mark.databases("sqlite")
async def test_an_unknown_token_is_remembered_briefly(stack: Stack) -> None:
    calls = count_policy_calls(stack)
    for _ in range(3):
        response = await stack.http.get("/products/", headers=stack.auth("pat_no"))
        assert response.status_code == 401
    assert calls.count("authenticate") == 1


@pytest.mark.databases("sqlite")
async def test_while_policy_is_silent_an_uncached_token_is_503_at_once(
    stack: Stack,
) -> None:
    cached = stack.auth(await stack.api_key("cached"))
    uncached = stack.auth(await stack.api_key("uncached"))
    await verified(stack, cached)
    calls = count_policy_calls(stack)
    gateway_of(stack).health.down = True

    response = await stack.http.get("/products/", headers=uncached)
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "5"
    assert response.json()["detail"]["code"] == "POLICY_UNAVAILABLE"
    assert calls.kinds == []
    await verified(stack, cached)


@pytest.mark.transports("rabbit")
@pytest.mark.databases("sqlite")
@pytest.mark.ingest(rpc_timeout_s=IMPATIENT_RPC_TIMEOUT_S)
async def test_while_policy_is_gone_a_cached_key_still_hands_over_facts(
    stack: Stack,
) -> None:
    cached = stack.auth(await stack.api_key("cached"))
    uncached = stack.auth(await stack.api_key("uncached"))
    await verified(stack, cached)
    async with policy_stopped(stack):
        assert (await stack.http.get("/health")).status_code == 503
        calls = count_policy_calls(stack)
        refused = await stack.http.post("/build-events/", json=build_body(), headers=uncached)
        assert refused.status_code == 503, refused.text
        assert refused.json()["detail"]["code"] == "POLICY_UNAVAILABLE"
        assert calls.kinds == []
        accepted = await stack.http.post("/build-events/", json=build_body(), headers=cached)
        assert accepted.status_code == 202, accepted.text
        event_id = accepted.json()["event_id"]

    async def recorded() -> bool:
        return await event_status(stack, cached, event_id) == "recorded"

    await stack.wait_for(recorded)


@pytest.mark.databases("sqlite")
async def test_a_revoked_key_is_refused_at_once(stack: Stack) -> None:
    created = await stack.http.post("/api-keys/", json={"name": "ci"}, headers=stack.admin)
    key = stack.auth(created.json()["key"])
    await verified(stack, key)
    stall_outbox(stack)
    revoked = await stack.http.delete(f"/api-keys/{created.json()['id']}", headers=stack.admin)
    assert revoked.status_code == 204
    response = await stack.http.get("/products/", headers=key)
    assert response.status_code == 401
    assert response.json() == UNAUTHENTICATED


@pytest.mark.databases("sqlite")
async def test_a_rotated_token_is_refused_at_once(stack: Stack) -> None:
    old = stack.auth(await stack.user("developer"))
    await verified(stack, old)
    stall_outbox(stack)
    rotated = await stack.http.post("/users/me/token", headers=old)
    assert rotated.status_code == 200, rotated.text
    assert (await stack.http.get("/products/", headers=old)).status_code == 401


@pytest.mark.databases("sqlite")
async def test_a_role_change_takes_effect_at_once(stack: Stack) -> None:
    token = await stack.user("developer")
    developer = stack.auth(token)
    sent = await stack.http.post("/build-events/", json=build_body(), headers=developer)
    assert sent.status_code == 200, sent.text
    stall_outbox(stack)
    changed = await stack.http.patch(
        f"/users/{await user_id(stack, token)}",
        json={"role": "viewer"},
        headers=stack.admin,
    )
    assert changed.status_code == 200, changed.text
    response = await stack.http.post("/build-events/", json=build_body(), headers=developer)
    assert response.status_code == 403
    assert response.json() == FORBIDDEN


@pytest.mark.databases("sqlite")
async def test_a_deactivated_user_is_refused_at_once(stack: Stack) -> None:
    token = await stack.user("developer")
    await verified(stack, stack.auth(token))
    stall_outbox(stack)
    changed = await stack.http.patch(
        f"/users/{await user_id(stack, token)}",
        json={"active": False},
        headers=stack.admin,
    )
    assert changed.status_code == 200, changed.text
    response = await stack.http.get("/products/", headers=stack.auth(token))
    assert response.status_code == 401
    assert response.json() == UNAUTHENTICATED


@pytest.mark.transports("rabbit")
@pytest.mark.databases("sqlite")
async def test_a_revoked_key_is_refused_once_the_broadcast_arrives(
    stack: Stack,
) -> None:
    created = await stack.http.post("/api-keys/", json={"name": "ci"}, headers=stack.admin)
    key = stack.auth(created.json()["key"])
    await verified(stack, key)
    revoked = await stack.http.delete(f"/api-keys/{created.json()['id']}", headers=stack.admin)
    assert revoked.status_code == 204

    async def refused() -> bool:
        return (await stack.http.get("/products/", headers=key)).status_code == 401

    await stack.wait_for(refused, timeout=2.0)
    assert (await stack.http.get("/products/", headers=key)).json() == UNAUTHENTICATED


@pytest.mark.transports("rabbit")
@pytest.mark.databases("sqlite")
async def test_a_rotated_token_is_refused_once_the_broadcast_arrives(
    stack: Stack,
) -> None:
    old = stack.auth(await stack.user("developer"))
    await verified(stack, old)
    rotated = await stack.http.post("/users/me/token", headers=old)
    new = stack.auth(rotated.json()["token"])

    async def refused() -> bool:
        return (await stack.http.get("/products/", headers=old)).status_code == 401

    await stack.wait_for(refused, timeout=2.0)
    await verified(stack, new)


@pytest.mark.transports("rabbit")
@pytest.mark.databases("sqlite")
async def test_a_role_change_takes_effect_once_the_broadcast_arrives(
    stack: Stack,
) -> None:
    token = await stack.user("developer")
    developer = stack.auth(token)
    sent = await stack.http.post("/build-events/", json=build_body(), headers=developer)
    assert sent.status_code == 200, sent.text
    changed = await stack.http.patch(
        f"/users/{await user_id(stack, token)}",
        json={"role": "viewer"},
        headers=stack.admin,
    )
    assert changed.status_code == 200, changed.text

    async def forbidden() -> bool:
        response = await stack.http.post("/build-events/", json=build_body(), headers=developer)
        return response.status_code == 403

    await stack.wait_for(forbidden, timeout=2.0)
    await verified(stack, developer)


@pytest.mark.transports("rabbit")
@pytest.mark.databases("sqlite")
async def test_a_deactivated_user_is_refused_once_the_broadcast_arrives(
    stack: Stack,
) -> None:
    token = await stack.user("sre")
    await verified(stack, stack.auth(token))
    changed = await stack.http.patch(
        f"/users/{await user_id(stack, token)}",
        json={"active": False},
        headers=stack.admin,
    )
    assert changed.status_code == 200, changed.text

    async def refused() -> bool:
        response = await stack.http.get("/products/", headers=stack.auth(token))
        return response.status_code == 401

    await stack.wait_for(refused, timeout=2.0)


@pytest.mark.transports("rabbit")
@pytest.mark.databases("sqlite")
@pytest.mark.ingest(rpc_timeout_s=IMPATIENT_RPC_TIMEOUT_S)
async def test_a_fact_waits_in_its_lane_while_the_key_stays_cached(
    stack: Stack,
) -> None:
    key = stack.auth(await stack.api_key())
    await verified(stack, key)
    calls = count_policy_calls(stack)
    async with lanes_paused(stack):
        for version in ("1", "2"):
            response = await stack.http.post(
                "/build-events/", json=build_body(version=version), headers=key
            )
            assert response.status_code == 202, response.text
    assert calls.count("authenticate") == 0
