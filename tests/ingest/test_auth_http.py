"""Bearer tokens and the role table over HTTP."""

import re
from typing import Any
from uuid import uuid4

import pytest

from tests.support.flows import (
    FORBIDDEN,
    NOT_FOUND,
    ROLES,
    UNAUTHENTICATED,
    build_body,
    deploy_body,
    ingest_app,
    user_id,
)
from tests.support.stack import Stack

# API.md: everything else needs `Authorization: Bearer <token>`.
PUBLIC = {
    ("GET", "/health"),
    ("GET", "/health/live"),
    ("GET", "/docs"),
    ("GET", "/docs/oauth2-redirect"),
    ("GET", "/redoc"),
    ("GET", "/openapi.json"),
    ("POST", "/users/redeem"),
    # Slack signs its requests instead (tests/notifier/test_slack_interactions_http.py).
    ("POST", "/slack/interactions"),
}
BAD_HEADERS: list[dict[str, str]] = [
    {"Authorization": "Bearer nonsense"},
    {"Authorization": "Bearer pat_" + "x" * 40},
    {"Authorization": "Bearer sk_local_abcd1234_" + "A" * 40},
    {"Authorization": "Basic dXNlcjpwYXNz"},
    {"Authorization": "Bearer"},
    {"Authorization": "Bearer    "},
    {"Authorization": "Token pat_abc"},
    {"Authorization": ""},
]
SENDERS = {"admin", "release_manager", "developer", "sre"}


def protected_routes(stack: Stack) -> list[tuple[str, str]]:
    """Every (method, path) the app documents, and its trailing-slash twin, that needs a token."""
    paths = ingest_app(stack).openapi()["paths"]
    hidden: dict[str, dict[str, object]] = {"/version-events": {"post": {}}}
    found = []
    for template, operations in {**paths, **hidden}.items():
        for method in operations:
            if (method.upper(), template) in PUBLIC:
                continue
            path = re.sub(r"\{[^}]+\}", str(uuid4()), template)
            found += [(method.upper(), path), (method.upper(), path + "/")]
    return found


@pytest.mark.databases("sqlite")
async def test_every_endpoint_refuses_a_request_without_a_token(stack: Stack) -> None:
    routes = protected_routes(stack)
    assert len(routes) >= 50
    for method, path in routes:
        response = await stack.http.request(method, path, json={})
        assert response.status_code == 401, (method, path, response.text)
        assert response.json() == UNAUTHENTICATED, (method, path)


@pytest.mark.databases("sqlite")
async def test_every_endpoint_refuses_a_bad_token(stack: Stack) -> None:
    for method, path in protected_routes(stack):
        response = await stack.http.request(
            method, path, json={}, headers={"Authorization": "Bearer pat_forged"}
        )
        assert response.status_code == 401, (method, path, response.text)
        assert response.json() == UNAUTHENTICATED, (method, path)


@pytest.mark.databases("sqlite")
async def test_every_malformed_or_unknown_credential_is_401(stack: Stack) -> None:
    invite = await stack.http.post(
        "/users/", json={"name": "invitee", "role": "admin"}, headers=stack.admin
    )
    invite_token = invite.json()["invite_token"]
    for headers in [*BAD_HEADERS, stack.auth(invite_token)]:
        for method, path in (("GET", "/products/"), ("POST", "/build-events/")):
            response = await stack.http.request(method, path, json=build_body(), headers=headers)
            assert response.status_code == 401, (headers, path, response.text)
            assert response.json() == UNAUTHENTICATED


@pytest.mark.databases("sqlite")
async def test_an_overlong_token_is_401(stack: Stack) -> None:
    response = await stack.http.get("/products/", headers=stack.auth("x" * 600))
    assert response.status_code == 401
    assert response.json() == UNAUTHENTICATED


@pytest.mark.databases("sqlite")
async def test_the_scheme_is_case_insensitive(stack: Stack) -> None:
    key = await stack.api_key()
    response = await stack.http.get("/products/", headers={"Authorization": f"bearer {key}"})
    assert response.status_code == 200, response.text


@pytest.mark.databases("sqlite")
async def test_public_endpoints_need_no_token(stack: Stack) -> None:
    for path in ("/health", "/health/live", "/docs", "/redoc", "/openapi.json"):
        response = await stack.http.get(path)
        assert response.status_code == 200, (path, response.text)
    created = await stack.http.post(
        "/users/", json={"name": "newcomer", "role": "viewer"}, headers=stack.admin
    )
    redeemed = await stack.http.post(
        "/users/redeem", json={"invite_token": created.json()["invite_token"]}
    )
    assert redeemed.status_code == 200, redeemed.text


@pytest.mark.databases("sqlite")
async def test_only_senders_may_send_events(stack: Stack) -> None:
    for role in ROLES:
        headers = stack.auth(await stack.user(role))
        for path, body in (
            ("/build-events/", build_body(product_name=role)),
            ("/deployment-events/", deploy_body(product_name=role, status="completed")),
        ):
            response = await stack.http.post(path, json=body, headers=headers)
            if role in SENDERS:
                assert response.status_code == 200, (role, path, response.text)
            else:
                assert response.status_code == 403, (role, path, response.text)
                assert response.json() == FORBIDDEN
    products = await stack.http.get("/products/", headers=stack.admin)
    assert {p["name"] for p in products.json()} == SENDERS


async def test_a_viewer_sending_an_event_changes_nothing(stack: Stack) -> None:
    viewer = stack.auth(await stack.user("viewer"))
    for path, body in (("/build-events/", build_body()), ("/deployment-events/", deploy_body())):
        response = await stack.http.post(path, json=body, headers=viewer)
        assert response.status_code == 403, response.text
        assert response.json() == FORBIDDEN
    for listing in ("/products/", "/versions/", "/deployments/"):
        assert (await stack.http.get(listing, headers=viewer)).json() == []


@pytest.mark.databases("sqlite")
async def test_every_role_may_read(stack: Stack) -> None:
    for role in ROLES:
        headers = stack.auth(await stack.user(role))
        for path in ("/products/", "/environments/", "/versions/", "/deployments/", "/state/"):
            response = await stack.http.get(path, headers=headers)
            assert response.status_code == 200, (role, path, response.text)


@pytest.mark.databases("sqlite")
async def test_an_api_key_sends_events_and_reads(stack: Stack) -> None:
    key = stack.auth(await stack.api_key())
    build = await stack.http.post("/build-events/", json=build_body(), headers=key)
    assert build.status_code == 200, build.text
    started = await stack.http.post("/deployment-events/", json=deploy_body(), headers=key)
    assert started.status_code == 200, started.text
    body = build.json()
    for path in (
        "/products/",
        f"/products/{body['product_id']}",
        "/environments/",
        "/environments/production",
        "/versions/",
        f"/versions/{body['version_id']}",
        "/deployments/",
        f"/deployments/{started.json()['id']}",
        "/state/",
        f"/events/{body['id']}",
    ):
        response = await stack.http.get(path, headers=key)
        assert response.status_code == 200, (path, response.text)


@pytest.mark.databases("sqlite")
async def test_an_api_key_may_do_nothing_else(stack: Stack) -> None:
    key = stack.auth(await stack.api_key())
    other = await stack.http.post("/api-keys/", json={"name": "other"}, headers=stack.admin)
    built = await stack.http.post("/build-events/", json=build_body(), headers=key)
    started = await stack.http.post("/deployment-events/", json=deploy_body(), headers=key)
    product_id, environment_id = built.json()["product_id"], started.json()["environment_id"]
    admin_id = await user_id(stack, stack.admin["Authorization"].split()[1])
    refused: list[tuple[str, str, Any]] = [
        ("GET", "/users/", None),
        ("POST", "/users/", {"name": "x", "role": "viewer"}),
        ("GET", f"/users/{admin_id}", None),
        ("PATCH", f"/users/{admin_id}", {"email": "a@b.example"}),
        ("GET", "/users/me", None),
        ("POST", "/users/me/token", None),
        ("GET", "/api-keys/", None),
        ("POST", "/api-keys/", {"name": "mine"}),
        ("DELETE", f"/api-keys/{other.json()['id']}", None),
        ("PATCH", f"/products/{product_id}", {"description": "x"}),
        ("PATCH", f"/environments/{environment_id}", {"description": "x"}),
    ]
    for method, path, body in refused:
        response = await stack.http.request(method, path, json=body, headers=key)
        assert response.status_code == 403, (method, path, response.text)
        assert response.json() == FORBIDDEN


@pytest.mark.databases("sqlite")
async def test_a_developer_may_list_api_keys_but_not_manage_them(stack: Stack) -> None:
    key = await stack.http.post("/api-keys/", json={"name": "ci"}, headers=stack.admin)
    developer = stack.auth(await stack.user("developer"))
    listed = await stack.http.get("/api-keys/", headers=developer)
    assert listed.status_code == 200, listed.text
    assert [k["id"] for k in listed.json()] == [key.json()["id"]]
    for method, path, body in (
        ("POST", "/api-keys/", {"name": "mine"}),
        ("DELETE", f"/api-keys/{key.json()['id']}", None),
    ):
        response = await stack.http.request(method, path, json=body, headers=developer)
        assert response.status_code == 403, (method, response.text)
        assert response.json() == FORBIDDEN


@pytest.mark.databases("sqlite")
async def test_only_an_admin_manages_users_and_keys(stack: Stack) -> None:
    target = await user_id(stack, await stack.user("viewer"))
    for role in ROLES:
        if role == "admin":
            continue
        headers = stack.auth(await stack.user(role))
        for method, path, body in (
            ("GET", "/users/", None),
            ("POST", "/users/", {"name": f"by-{role}", "role": "viewer"}),
            ("GET", f"/users/{target}", None),
            ("PATCH", f"/users/{target}", {"role": "admin"}),
            ("POST", "/api-keys/", {"name": f"by-{role}"}),
        ):
            response = await stack.http.request(method, path, json=body, headers=headers)
            assert response.status_code == 403, (role, method, path, response.text)
            assert response.json() == FORBIDDEN
    admin = stack.auth(await stack.user("admin"))
    assert (await stack.http.get("/users/", headers=admin)).status_code == 200
    patched = await stack.http.patch(f"/users/{target}", json={"role": "qa"}, headers=admin)
    assert patched.status_code == 200, patched.text
    assert patched.json()["role"] == "qa"


@pytest.mark.databases("sqlite")
async def test_unknown_paths_are_404_not_found(stack: Stack) -> None:
    key = stack.auth(await stack.api_key())
    for headers in ({}, key):
        for path in ("/nope", "/build-event", "/products/x/y/z/versions/../.."):
            response = await stack.http.post(path, headers=headers)
            if response.status_code == 405:
                continue
            assert response.status_code in (401, 404), (path, response.text)
        response = await stack.http.get("/no/such/thing", headers=headers)
        assert response.status_code == 404
        assert response.json() == NOT_FOUND
