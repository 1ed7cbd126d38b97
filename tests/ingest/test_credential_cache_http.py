"""The gateway's credential cache: verified once per TTL, forgotten when policy says so.

"At once" means the very next request after the change was answered. Those tests hold
policy's outbox, so only what the gateway does by itself counts; the broadcast path is
proven separately on the real broker, where it arrives a moment later.
"""

from tests.ingest.flows import (
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
from tests.support.stack import Stack


async def test_a_verified_token_is_not_verified_again_within_the_ttl(sqlite_stack: Stack) -> None:
    key = sqlite_stack.auth(await sqlite_stack.api_key())
    calls = count_policy_calls(sqlite_stack)
    for _ in range(5):
        await verified(sqlite_stack, key)
    assert calls.count("authenticate") == 1

    cache = cache_of(sqlite_stack)
    now = cache.clock()
    cache.clock = lambda: now + cache.ttl + 0.001
    await verified(sqlite_stack, key)
    assert calls.count("authenticate") == 2


async def test_an_unknown_token_is_remembered_briefly(sqlite_stack: Stack) -> None:
    calls = count_policy_calls(sqlite_stack)
    for _ in range(3):
        response = await sqlite_stack.http.get("/products/", headers=sqlite_stack.auth("pat_no"))
        assert response.status_code == 401
    assert calls.count("authenticate") == 1


async def test_while_policy_is_silent_an_uncached_token_is_503_at_once(
    sqlite_stack: Stack,
) -> None:
    cached = sqlite_stack.auth(await sqlite_stack.api_key("cached"))
    uncached = sqlite_stack.auth(await sqlite_stack.api_key("uncached"))
    await verified(sqlite_stack, cached)
    calls = count_policy_calls(sqlite_stack)
    gateway_of(sqlite_stack).health.down = True

    response = await sqlite_stack.http.get("/products/", headers=uncached)
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "5"
    assert response.json()["detail"]["code"] == "POLICY_UNAVAILABLE"
    assert calls.kinds == []
    await verified(sqlite_stack, cached)


async def test_while_policy_is_gone_a_cached_key_still_hands_over_facts(
    impatient_sqlite_rabbit_stack: Stack,
) -> None:
    stack = impatient_sqlite_rabbit_stack
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


async def test_a_revoked_key_is_refused_at_once(sqlite_stack: Stack) -> None:
    created = await sqlite_stack.http.post(
        "/api-keys/", json={"name": "ci"}, headers=sqlite_stack.admin
    )
    key = sqlite_stack.auth(created.json()["key"])
    await verified(sqlite_stack, key)
    stall_outbox(sqlite_stack)
    revoked = await sqlite_stack.http.delete(
        f"/api-keys/{created.json()['id']}", headers=sqlite_stack.admin
    )
    assert revoked.status_code == 204
    response = await sqlite_stack.http.get("/products/", headers=key)
    assert response.status_code == 401
    assert response.json() == UNAUTHENTICATED


async def test_a_rotated_token_is_refused_at_once(sqlite_stack: Stack) -> None:
    old = sqlite_stack.auth(await sqlite_stack.user("developer"))
    await verified(sqlite_stack, old)
    stall_outbox(sqlite_stack)
    rotated = await sqlite_stack.http.post("/users/me/token", headers=old)
    assert rotated.status_code == 200, rotated.text
    assert (await sqlite_stack.http.get("/products/", headers=old)).status_code == 401


async def test_a_role_change_takes_effect_at_once(sqlite_stack: Stack) -> None:
    token = await sqlite_stack.user("developer")
    developer = sqlite_stack.auth(token)
    sent = await sqlite_stack.http.post("/build-events/", json=build_body(), headers=developer)
    assert sent.status_code == 200, sent.text
    stall_outbox(sqlite_stack)
    changed = await sqlite_stack.http.patch(
        f"/users/{await user_id(sqlite_stack, token)}",
        json={"role": "viewer"},
        headers=sqlite_stack.admin,
    )
    assert changed.status_code == 200, changed.text
    response = await sqlite_stack.http.post("/build-events/", json=build_body(), headers=developer)
    assert response.status_code == 403
    assert response.json() == FORBIDDEN


async def test_a_deactivated_user_is_refused_at_once(sqlite_stack: Stack) -> None:
    token = await sqlite_stack.user("developer")
    await verified(sqlite_stack, sqlite_stack.auth(token))
    stall_outbox(sqlite_stack)
    changed = await sqlite_stack.http.patch(
        f"/users/{await user_id(sqlite_stack, token)}",
        json={"active": False},
        headers=sqlite_stack.admin,
    )
    assert changed.status_code == 200, changed.text
    response = await sqlite_stack.http.get("/products/", headers=sqlite_stack.auth(token))
    assert response.status_code == 401
    assert response.json() == UNAUTHENTICATED


async def test_a_revoked_key_is_refused_once_the_broadcast_arrives(
    sqlite_rabbit_stack: Stack,
) -> None:
    created = await sqlite_rabbit_stack.http.post(
        "/api-keys/", json={"name": "ci"}, headers=sqlite_rabbit_stack.admin
    )
    key = sqlite_rabbit_stack.auth(created.json()["key"])
    await verified(sqlite_rabbit_stack, key)
    revoked = await sqlite_rabbit_stack.http.delete(
        f"/api-keys/{created.json()['id']}", headers=sqlite_rabbit_stack.admin
    )
    assert revoked.status_code == 204

    async def refused() -> bool:
        return (await sqlite_rabbit_stack.http.get("/products/", headers=key)).status_code == 401

    await sqlite_rabbit_stack.wait_for(refused, timeout=2.0)
    assert (await sqlite_rabbit_stack.http.get("/products/", headers=key)).json() == UNAUTHENTICATED


async def test_a_rotated_token_is_refused_once_the_broadcast_arrives(
    sqlite_rabbit_stack: Stack,
) -> None:
    old = sqlite_rabbit_stack.auth(await sqlite_rabbit_stack.user("developer"))
    await verified(sqlite_rabbit_stack, old)
    rotated = await sqlite_rabbit_stack.http.post("/users/me/token", headers=old)
    new = sqlite_rabbit_stack.auth(rotated.json()["token"])

    async def refused() -> bool:
        return (await sqlite_rabbit_stack.http.get("/products/", headers=old)).status_code == 401

    await sqlite_rabbit_stack.wait_for(refused, timeout=2.0)
    await verified(sqlite_rabbit_stack, new)


async def test_a_role_change_takes_effect_once_the_broadcast_arrives(
    sqlite_rabbit_stack: Stack,
) -> None:
    token = await sqlite_rabbit_stack.user("developer")
    developer = sqlite_rabbit_stack.auth(token)
    sent = await sqlite_rabbit_stack.http.post(
        "/build-events/", json=build_body(), headers=developer
    )
    assert sent.status_code == 200, sent.text
    changed = await sqlite_rabbit_stack.http.patch(
        f"/users/{await user_id(sqlite_rabbit_stack, token)}",
        json={"role": "viewer"},
        headers=sqlite_rabbit_stack.admin,
    )
    assert changed.status_code == 200, changed.text

    async def forbidden() -> bool:
        response = await sqlite_rabbit_stack.http.post(
            "/build-events/", json=build_body(), headers=developer
        )
        return response.status_code == 403

    await sqlite_rabbit_stack.wait_for(forbidden, timeout=2.0)
    await verified(sqlite_rabbit_stack, developer)


async def test_a_deactivated_user_is_refused_once_the_broadcast_arrives(
    sqlite_rabbit_stack: Stack,
) -> None:
    token = await sqlite_rabbit_stack.user("sre")
    await verified(sqlite_rabbit_stack, sqlite_rabbit_stack.auth(token))
    changed = await sqlite_rabbit_stack.http.patch(
        f"/users/{await user_id(sqlite_rabbit_stack, token)}",
        json={"active": False},
        headers=sqlite_rabbit_stack.admin,
    )
    assert changed.status_code == 200, changed.text

    async def refused() -> bool:
        response = await sqlite_rabbit_stack.http.get(
            "/products/", headers=sqlite_rabbit_stack.auth(token)
        )
        return response.status_code == 401

    await sqlite_rabbit_stack.wait_for(refused, timeout=2.0)


async def test_a_fact_waits_in_its_lane_while_the_key_stays_cached(
    impatient_sqlite_rabbit_stack: Stack,
) -> None:
    stack = impatient_sqlite_rabbit_stack
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
