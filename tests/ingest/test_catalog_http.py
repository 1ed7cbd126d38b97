"""Catalog and state over HTTP: lists, lookups by id and by any name, edits, the matrix."""

import asyncio
from datetime import datetime
from typing import Any
from uuid import uuid4

import pytest

from tests.support.flows import FORBIDDEN, NOT_FOUND, ROLES, build_body, deploy_body, is_utc
from tests.support.stack import Stack


async def send(stack: Stack, headers: dict[str, str], path: str, body: dict[str, Any]) -> Any:
    response = await stack.http.post(path, json=body, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def deployed(
    stack: Stack, headers: dict[str, str], product: str, version: str, env: str, *outcome: str
) -> Any:
    """A deployment started and then, for each outcome given, reported."""
    body = await send(
        stack,
        headers,
        "/deployment-events/",
        deploy_body(product_name=product, version=version, environment_name=env),
    )
    for status in outcome:
        body = await send(
            stack,
            headers,
            "/deployment-events/",
            deploy_body(product_name=product, version=version, environment_name=env, status=status),
        )
    return body


async def listed(stack: Stack, headers: dict[str, str], path: str) -> tuple[list[Any], int]:
    response = await stack.http.get(path, headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert isinstance(body, list)
    return body, int(response.headers["x-total-count"])


async def test_lists_are_bare_arrays_newest_first_with_the_total(
    stack: Stack, ci: dict[str, str]
) -> None:
    for name in ("first", "second", "third"):
        await send(stack, ci, "/build-events/", build_body(product_name=name, version=name))
        await deployed(stack, ci, name, name, f"{name}-env", "completed")
    for path, key in (
        ("/products/", "name"),
        ("/versions/", "version"),
        ("/environments/", "name"),
        ("/deployments/", "version"),
    ):
        items, total = await listed(stack, ci, path)
        names = [item[key].removesuffix("-env") for item in items]
        assert names == ["third", "second", "first"], path
        assert total == 3
        assert all("kind" not in item for item in items)


async def test_before_pages_through_a_list(stack: Stack, ci: dict[str, str]) -> None:
    for n in range(5):
        await send(stack, ci, "/build-events/", build_body(product_name=f"p{n}"))
    everything, _ = await listed(stack, ci, "/products/")
    seen: list[Any] = []
    path = "/products/?limit=2"
    while True:
        page, total = await listed(stack, ci, path)
        assert total == 5
        if not page:
            break
        assert len(page) <= 2
        seen += page
        path = f"/products/?limit=2&before={page[-1]['id']}"
    assert seen == everything
    assert [p["name"] for p in seen] == ["p4", "p3", "p2", "p1", "p0"]


@pytest.mark.databases("sqlite")
async def test_the_default_limit_is_100_and_the_most_is_1000(
    stack: Stack, ci: dict[str, str]
) -> None:
    # A burst: past the first few, facts are answered 202 (recorded at once in memory).
    answers = await asyncio.gather(
        *(
            stack.http.post("/build-events/", json=build_body(version=f"1.0.{n}"), headers=ci)
            for n in range(101)
        )
    )
    assert {answer.status_code for answer in answers} <= {200, 202}
    items, total = await listed(stack, ci, "/versions/")
    assert (len(items), total) == (100, 101)
    created = [datetime.fromisoformat(v["created_at"]) for v in items]
    assert created == sorted(created, reverse=True)
    items, _ = await listed(stack, ci, "/versions/?limit=1000")
    assert len(items) == 101
    for path in ("/products/", "/environments/", "/versions/", "/deployments/", "/api-keys/"):
        for limit in (1001, 0, -1):
            response = await stack.http.get(f"{path}?limit={limit}", headers=stack.admin)
            assert response.status_code == 422, (path, limit, response.text)
            assert response.json()["detail"][0]["loc"] == ["query", "limit"]


async def test_a_product_by_id_by_name_and_by_an_old_name(stack: Stack, ci: dict[str, str]) -> None:
    build = await send(stack, ci, "/build-events/", build_body(product_name="api"))
    product_id = build["product_id"]
    for ref in (product_id, "api", "api/"):
        response = await stack.http.get(f"/products/{ref}", headers=ci)
        assert response.status_code == 200, (ref, response.text)
        assert response.json()["id"] == product_id
    renamed = await stack.http.patch(
        f"/products/{product_id}", json={"name": "api-gateway"}, headers=stack.admin
    )
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["name"] == "api-gateway"
    assert renamed.json()["previous_names"] == ["api"]
    for ref in ("api", "api-gateway", product_id):
        response = await stack.http.get(f"/products/{ref}", headers=ci)
        assert response.status_code == 200, (ref, response.text)
        assert (response.json()["id"], response.json()["name"]) == (product_id, "api-gateway")
    again = await send(stack, ci, "/build-events/", build_body(product_name="api", version="2"))
    assert again["product_id"] == product_id


async def test_an_event_under_an_old_name_shows_the_current_name(
    stack: Stack, ci: dict[str, str]
) -> None:
    started = await deployed(stack, ci, "api", "1", "prod")
    for path, ident in (("products", "product_id"), ("environments", "environment_id")):
        renamed = await stack.http.patch(
            f"/{path}/{started[ident]}", json={"name": f"new-{path}"}, headers=stack.admin
        )
        assert renamed.status_code == 200, renamed.text
    done = await send(
        stack,
        ci,
        "/deployment-events/",
        deploy_body(product_name="api", version="1", environment_name="prod", status="completed"),
    )
    assert done["id"] == started["id"]
    assert (done["product_name"], done["environment_name"]) == ("new-products", "new-environments")
    build = await send(stack, ci, "/build-events/", build_body(product_name="api", version="2"))
    assert build["product_name"] == "new-products"


async def test_an_old_name_stays_reserved(stack: Stack, ci: dict[str, str]) -> None:
    api = await send(stack, ci, "/build-events/", build_body(product_name="api"))
    web = await send(stack, ci, "/build-events/", build_body(product_name="web"))
    renamed = await stack.http.patch(
        f"/products/{api['product_id']}", json={"name": "api2"}, headers=stack.admin
    )
    assert renamed.status_code == 200, renamed.text
    for name in ("api", "api2"):
        taken = await stack.http.patch(
            f"/products/{web['product_id']}", json={"name": name}, headers=stack.admin
        )
        assert taken.status_code == 409, (name, taken.text)


async def test_an_environment_by_id_and_by_an_old_name(stack: Stack, ci: dict[str, str]) -> None:
    started = await deployed(stack, ci, "api", "1", "prod")
    environment_id = started["environment_id"]
    sre = stack.auth(await stack.user("sre"))
    renamed = await stack.http.patch(
        f"/environments/{environment_id}",
        json={"name": "production-eu", "description": "Frankfurt"},
        headers=sre,
    )
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["type"] == "production"
    for ref in ("prod", "production-eu", environment_id):
        response = await stack.http.get(f"/environments/{ref}", headers=ci)
        assert response.status_code == 200, (ref, response.text)
        assert response.json()["name"] == "production-eu"
    filtered, _ = await listed(stack, ci, "/environments/?type=production")
    assert [e["id"] for e in filtered] == [environment_id]
    assert (await listed(stack, ci, "/environments/?type=dev"))[0] == []


@pytest.mark.databases("sqlite")
async def test_who_may_edit_products_and_environments(stack: Stack, ci: dict[str, str]) -> None:
    started = await deployed(stack, ci, "api", "1", "prod")
    product = f"/products/{started['product_id']}"
    environment = f"/environments/{started['environment_id']}"
    for role in ROLES:
        headers = stack.auth(await stack.user(role))
        for path, editors in (
            (product, {"admin", "release_manager"}),
            (environment, {"admin", "release_manager", "sre"}),
        ):
            response = await stack.http.patch(
                path, json={"description": f"by {role}"}, headers=headers
            )
            if role in editors:
                assert response.status_code == 200, (role, path, response.text)
                assert response.json()["description"] == f"by {role}"
            else:
                assert response.status_code == 403, (role, path, response.text)
                assert response.json() == FORBIDDEN


async def test_versions_by_product_and_sha(stack: Stack, ci: dict[str, str]) -> None:
    await send(stack, ci, "/build-events/", build_body(product_name="api", scm_sha="aaa"))
    await send(stack, ci, "/build-events/", build_body(product_name="web", scm_sha="aaa"))
    await send(
        stack, ci, "/build-events/", build_body(product_name="api", version="2", scm_sha="bbb")
    )
    await deployed(stack, ci, "api", "3", "dev")
    for query, expected in (
        ("product=api", {("api", "3"), ("api", "2"), ("api", "1.0.0")}),
        ("scm_sha=aaa", {("api", "1.0.0"), ("web", "1.0.0")}),
        ("product=api&scm_sha=bbb", {("api", "2")}),
        ("product=nope", set()),
    ):
        items, total = await listed(stack, ci, f"/versions/?{query}")
        assert {(v["product_name"], v["version"]) for v in items} == expected, query
        assert total == len(expected)
    items, _ = await listed(stack, ci, "/versions/?product=api")
    assert {v["version"]: v["registered"] for v in items} == {"3": False, "2": True, "1.0.0": True}


async def test_deployments_by_product_environment_and_status(
    stack: Stack, ci: dict[str, str]
) -> None:
    await deployed(stack, ci, "api", "1", "staging", "completed")
    await deployed(stack, ci, "api", "2", "staging", "failed")
    await deployed(stack, ci, "api", "1", "production", "completed")
    await deployed(stack, ci, "web", "1", "production")
    for query, expected in (
        ("product=api", [("1", "completed"), ("2", "failed"), ("1", "completed")]),
        ("environment=production", [("1", "started"), ("1", "completed")]),
        ("product=api&environment=staging&status=SUCCESS", [("1", "completed")]),
        ("status=failure", [("2", "failed")]),
        ("status=%20in_progress%20", [("1", "started")]),
        ("product=api&environment=staging&limit=1", [("2", "failed")]),
        ("environment=nowhere", []),
    ):
        items, _ = await listed(stack, ci, f"/deployments/?{query}")
        assert [(d["version"], d["status"]) for d in items] == expected, query
    response = await stack.http.get("/deployments/?status=exploded", headers=ci)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["query", "status"]


async def test_a_deployment_by_id_and_its_abort(stack: Stack, ci: dict[str, str]) -> None:
    started = await deployed(stack, ci, "api", "1", "production")
    response = await stack.http.get(f"/deployments/{started['id']}", headers=ci)
    assert response.status_code == 200
    assert response.json()["status"] == "started"
    aborted = await stack.http.post(f"/deployments/{started['id']}/abort", headers=ci)
    assert aborted.status_code == 200, aborted.text
    assert aborted.json()["id"] == started["id"]
    assert aborted.json()["status"] == "aborted"
    again = await stack.http.post(f"/deployments/{started['id']}/abort/", headers=ci)
    assert again.status_code == 409, again.text
    viewer = stack.auth(await stack.user("viewer"))
    next_one = await deployed(stack, ci, "api", "2", "production")
    refused = await stack.http.post(f"/deployments/{next_one['id']}/abort", headers=viewer)
    assert refused.status_code == 403
    assert refused.json() == FORBIDDEN


CELL_KEYS = {"version", "deployment_id", "deployed_at", "deployed_by", "status", "latest"}


async def test_the_state_matrix(stack: Stack, ci: dict[str, str]) -> None:
    await deployed(stack, ci, "api", "1.0", "local", "completed")
    await deployed(stack, ci, "api", "1.0", "staging", "completed")
    await deployed(stack, ci, "api", "1.1", "staging", "completed")
    await deployed(stack, ci, "api", "1.2", "staging", "failed")
    prod = await deployed(stack, ci, "api", "1.0", "production", "completed")
    running = await deployed(stack, ci, "api", "1.1", "production")
    await deployed(stack, ci, "web", "2.0", "production", "completed")
    await deployed(stack, ci, "web", "2.0", "qa-1", "completed")
    await deployed(stack, ci, "web", "2.0", "zeta", "completed")

    response = await stack.http.get("/state/", headers=ci)
    assert response.status_code == 200, response.text
    state = response.json()
    assert set(state) == {"environments", "products"}
    assert state["environments"] == [
        {"name": "local", "type": "dev"},
        {"name": "zeta", "type": "dev"},
        {"name": "qa-1", "type": "test"},
        {"name": "staging", "type": "staging"},
        {"name": "production", "type": "production"},
    ]
    rows = {row["product"]: row for row in state["products"]}
    assert set(rows) == {"api", "web"}
    for row in rows.values():
        assert set(row) == {"product", "product_id", "drift", "cells"}
        for cell in row["cells"].values():
            assert set(cell) == CELL_KEYS
            assert is_utc(cell["deployed_at"])
    api = rows["api"]
    assert api["product_id"] == prod["product_id"]
    assert api["drift"] is True
    assert {env: cell["version"] for env, cell in api["cells"].items()} == {
        "local": "1.0",
        "staging": "1.1",
        "production": "1.0",
    }
    assert api["cells"]["production"]["deployment_id"] == prod["id"]
    assert api["cells"]["production"]["status"] == "completed"
    assert api["cells"]["production"]["latest"] == {
        "version": "1.1",
        "status": "started",
        "deployment_id": running["id"],
    }
    assert api["cells"]["staging"]["latest"]["status"] == "failed"
    assert api["cells"]["local"]["latest"] is None
    assert rows["web"]["drift"] is False

    narrowed = await stack.http.get(
        "/state/?products=web&environments=production,%20staging", headers=ci
    )
    body = narrowed.json()
    assert body["environments"] == [
        {"name": "staging", "type": "staging"},
        {"name": "production", "type": "production"},
    ]
    assert [row["product"] for row in body["products"]] == ["web"]
    assert list(body["products"][0]["cells"]) == ["production"]


@pytest.mark.databases("sqlite")
async def test_unknown_ids_are_404_not_found(stack: Stack) -> None:
    ghost = uuid4()
    for method, path in (
        ("GET", f"/products/{ghost}"),
        ("GET", "/products/no-such-product"),
        ("PATCH", f"/products/{ghost}"),
        ("GET", f"/environments/{ghost}"),
        ("GET", "/environments/no-such-environment"),
        ("PATCH", f"/environments/{ghost}"),
        ("GET", f"/versions/{ghost}"),
        ("GET", f"/deployments/{ghost}"),
        ("POST", f"/deployments/{ghost}/abort"),
        ("GET", f"/events/{ghost}"),
        ("GET", f"/users/{ghost}"),
        ("PATCH", f"/users/{ghost}"),
        ("DELETE", f"/api-keys/{ghost}"),
        ("GET", "/nothing/here"),
        ("GET", f"/products/{ghost}/versions"),
    ):
        response = await stack.http.request(
            method, path, json={"description": "x"}, headers=stack.admin
        )
        assert response.status_code == 404, (method, path, response.text)
        assert response.json() == NOT_FOUND, (method, path)
