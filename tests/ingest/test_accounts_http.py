"""Users, invites, personal tokens and API keys over HTTP."""

import re
from datetime import datetime, timedelta

from tests.support.flows import FORBIDDEN, UNAUTHENTICATED, cache_of, is_utc, user_id
from tests.support.stack import BOOTSTRAP_TOKEN, Stack

API_KEY = re.compile(r"^sk_local_[a-z0-9]+_[A-Za-z0-9]{32,}$")
USER_FIELDS = {"id", "name", "email", "role", "slack_user_id", "active", "created_at"}


async def test_creating_a_user_answers_201_with_an_invite(stack: Stack) -> None:
    response = await stack.http.post(
        "/users/",
        json={"name": "Ada", "email": "ada@example.com", "role": "sre", "slack_user_id": "U123"},
        headers=stack.admin,
    )
    assert response.status_code == 201, response.text
    user = response.json()
    assert USER_FIELDS | {"invite_token"} <= set(user)
    assert "kind" not in user
    assert (user["name"], user["email"], user["role"]) == ("Ada", "ada@example.com", "sre")
    assert (user["slack_user_id"], user["active"]) == ("U123", True)
    assert user["invite_token"]
    assert is_utc(user["created_at"])
    created = datetime.fromisoformat(user["created_at"])
    expires = datetime.fromisoformat(user["invite_expires_at"])
    assert expires - created == timedelta(hours=24)


async def test_a_bad_user_is_refused(stack: Stack) -> None:
    for body, field in (
        ({"name": "x", "role": "overlord"}, "role"),
        ({"name": "", "role": "qa"}, "name"),
        ({"name": "x", "role": "qa", "email": "not-an-email"}, "email"),
        ({"role": "qa"}, "name"),
    ):
        response = await stack.http.post("/users/", json=body, headers=stack.admin)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["detail"][0]["loc"] == ["body", field]
    first = await stack.http.post(
        "/users/", json={"name": "a", "role": "qa", "slack_user_id": "U1"}, headers=stack.admin
    )
    assert first.status_code == 201
    clash = await stack.http.post(
        "/users/", json={"name": "b", "role": "qa", "slack_user_id": "U1"}, headers=stack.admin
    )
    assert clash.status_code == 409, clash.text


async def test_an_invite_is_redeemed_once_for_a_personal_token(stack: Stack) -> None:
    created = await stack.http.post(
        "/users/", json={"name": "Grace", "role": "developer"}, headers=stack.admin
    )
    invite = {"invite_token": created.json()["invite_token"]}
    redeemed = await stack.http.post("/users/redeem", json=invite)
    assert redeemed.status_code == 200, redeemed.text
    assert set(redeemed.json()) == {"token"}
    token = redeemed.json()["token"]
    assert token.startswith("pat_")
    me = await stack.http.get("/users/me", headers=stack.auth(token))
    assert me.status_code == 200, me.text
    assert (me.json()["id"], me.json()["name"]) == (created.json()["id"], "Grace")
    assert set(me.json()) >= USER_FIELDS
    for again in (invite, {"invite_token": "inv_forged"}):
        refused = await stack.http.post("/users/redeem/", json=again)
        assert refused.status_code == 401, refused.text
        assert refused.json() == UNAUTHENTICATED


async def test_users_me_is_for_users_only(stack: Stack) -> None:
    key = stack.auth(await stack.api_key())
    response = await stack.http.get("/users/me", headers=key)
    assert response.status_code == 403
    assert response.json() == FORBIDDEN


async def test_rotating_a_token_replaces_it(stack: Stack) -> None:
    old = await stack.user("qa")
    rotated = await stack.http.post("/users/me/token", headers=stack.auth(old))
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()["token"]
    assert new.startswith("pat_")
    assert new != old
    me = await stack.http.get("/users/me", headers=stack.auth(new))
    assert me.status_code == 200
    # Policy no longer knows the old token (what the gateway's cache does is tested apart).
    cache_of(stack).clear()
    refused = await stack.http.get("/users/me", headers=stack.auth(old))
    assert refused.status_code == 401
    assert refused.json() == UNAUTHENTICATED


async def test_changing_ones_own_role_is_403(stack: Stack) -> None:
    second = await stack.user("admin")
    for token in (BOOTSTRAP_TOKEN, second):
        me = await user_id(stack, token)
        response = await stack.http.patch(
            f"/users/{me}", json={"role": "viewer"}, headers=stack.auth(token)
        )
        assert response.status_code == 403, response.text
        assert response.json() == FORBIDDEN
        same = await stack.http.patch(
            f"/users/{me}",
            json={"role": "admin", "email": "me@example.com"},
            headers=stack.auth(token),
        )
        assert same.status_code == 200, same.text


async def test_the_last_admin_stays(stack: Stack) -> None:
    first = await user_id(stack, BOOTSTRAP_TOKEN)
    alone = await stack.http.patch(f"/users/{first}", json={"active": False}, headers=stack.admin)
    assert alone.status_code == 409, alone.text

    second_token = await stack.user("admin")
    second = await user_id(stack, second_token)
    demoted = await stack.http.patch(
        f"/users/{second}", json={"role": "developer"}, headers=stack.admin
    )
    assert demoted.status_code == 200, demoted.text
    again = await stack.http.patch(f"/users/{first}", json={"active": False}, headers=stack.admin)
    assert again.status_code == 409, again.text
    users = await stack.http.get("/users/", headers=stack.admin)
    admins = [u for u in users.json() if u["role"] == "admin" and u["active"]]
    assert [u["id"] for u in admins] == [first]


async def test_users_are_listed_newest_first(stack: Stack) -> None:
    await stack.user("qa", name="older")
    await stack.user("sre", name="newer")
    response = await stack.http.get("/users/", headers=stack.admin)
    assert response.status_code == 200
    assert [u["name"] for u in response.json()] == ["newer", "older", "admin"]
    assert response.headers["x-total-count"] == "3"
    assert all("invite_token" not in u for u in response.json())


async def test_an_api_key_is_created_and_shown_once(stack: Stack) -> None:
    response = await stack.http.post("/api-keys/", json={"name": "github"}, headers=stack.admin)
    assert response.status_code == 201, response.text
    created = response.json()
    assert {"id", "name", "key"} <= set(created)
    assert created["name"] == "github"
    assert API_KEY.match(created["key"]), created["key"]
    secret = created["key"].rsplit("_", 1)[1]

    listed = await stack.http.get("/api-keys/", headers=stack.admin)
    assert listed.status_code == 200
    [key] = listed.json()
    assert key["id"] == created["id"]
    assert "key" not in key
    assert secret not in listed.text
    assert created["key"].startswith(key["prefix"])


async def test_a_deleted_key_is_refused(stack: Stack) -> None:
    created = await stack.http.post("/api-keys/", json={"name": "old"}, headers=stack.admin)
    deleted = await stack.http.delete(f"/api-keys/{created.json()['id']}", headers=stack.admin)
    assert deleted.status_code == 204
    assert deleted.content == b""
    refused = await stack.http.get("/products/", headers=stack.auth(created.json()["key"]))
    assert refused.status_code == 401
    assert refused.json() == UNAUTHENTICATED
    [listed] = (await stack.http.get("/api-keys/", headers=stack.admin)).json()
    assert is_utc(listed["revoked_at"])
