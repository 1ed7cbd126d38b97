"""The OpenAPI document: error bodies documented, every path once."""

from typing import Any

import pytest

from tests.support.stack import Stack


async def openapi(stack: Stack) -> dict[str, Any]:
    response = await stack.http.get("/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


@pytest.mark.databases("sqlite")
async def test_deployment_events_document_their_refusals(stack: Stack) -> None:
    document = await openapi(stack)
    paths = document["paths"]
    [path] = [p for p in paths if p.rstrip("/") == "/deployment-events"]
    responses = paths[path]["post"]["responses"]
    assert {"200", "202", "409", "428", "503"} <= set(responses)
    for code in ("409", "428", "503"):
        schema = responses[code]["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/ErrorBody"}
    error_body = document["components"]["schemas"]["ErrorBody"]
    assert "detail" in error_body["properties"]


@pytest.mark.databases("sqlite")
async def test_build_events_document_the_version_conflict(stack: Stack) -> None:
    paths = (await openapi(stack))["paths"]
    [path] = [p for p in paths if p.rstrip("/") == "/build-events"]
    assert {"200", "202", "409", "422", "503"} <= set(paths[path]["post"]["responses"])


@pytest.mark.databases("sqlite")
async def test_no_path_appears_twice(stack: Stack) -> None:
    document = await openapi(stack)
    paths = list(document["paths"])
    bare = [p.rstrip("/") or "/" for p in paths]
    assert len(bare) == len(set(bare)), sorted(paths)
    operation_ids = [
        operation["operationId"]
        for item in document["paths"].values()
        for operation in item.values()
    ]
    assert len(operation_ids) == len(set(operation_ids))
    assert "/events/{event_id}" in bare
    assert "/state" in bare


@pytest.mark.databases("sqlite")
async def test_the_docs_are_served(stack: Stack) -> None:
    for path in ("/docs", "/redoc"):
        response = await stack.http.get(path)
        assert response.status_code == 200
        assert "text/html" in response.headers["content-type"]
        assert "/openapi.json" in response.text


@pytest.mark.databases("sqlite")
async def test_channels_and_buttons_are_documented_as_they_are_sent(stack: Stack) -> None:
    """Their bodies say `kind`; the schema once said `channel_kind` / `button_kind`."""
    document = await openapi(stack)
    schemas = document["components"]["schemas"]
    paths = document["paths"]
    for path, view in (
        ("/notification-channels/{channel_id}", "ChannelView"),
        ("/deployment-buttons/{button_id}", "ButtonView"),
    ):
        [found] = [p for p in paths if p.rstrip("/") == path]
        schema = paths[found]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        assert schema == {"$ref": f"#/components/schemas/{view}"}
        properties = schemas[view]["properties"]
        assert "kind" in properties
        assert not {"channel_kind", "button_kind"} & set(properties)
        assert schemas[view].get("additionalProperties") is False


@pytest.mark.databases("sqlite")
async def test_every_operation_documents_the_errors_it_can_answer(stack: Stack) -> None:
    document = await openapi(stack)
    for path, item in document["paths"].items():
        for method, operation in item.items():
            documented = set(operation["responses"])
            if path.startswith("/health"):
                continue
            assert {"401", "503"} <= documented, (method, path)
            if path not in ("/users/redeem", "/slack/interactions"):
                assert "403" in documented, (method, path)
            if "{" in path:
                assert "404" in documented, (method, path)
            if "requestBody" in operation:
                assert {"400", "413", "422"} <= documented, (method, path)
    health = document["paths"]["/health"]["get"]["responses"]
    assert health["503"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Health"
    }


@pytest.mark.databases("sqlite")
async def test_the_documented_errors_are_the_ones_answered(
    stack: Stack, ci: dict[str, str]
) -> None:
    """A few real answers, each a status the document lists for its operation."""
    document = await openapi(stack)

    def listed(path: str, method: str) -> set[str]:
        return set(document["paths"][path][method]["responses"])

    cases = [
        ("get", "/products", "/products/", None, {}),  # no token: 401
        ("get", "/users", "/users/", None, ci),  # an API key: 403
        ("get", "/deployments/{deployment_id}", "/deployments/nope", None, ci),  # 404
        ("post", "/build-events", "/build-events/", b"{", ci),  # 400
    ]
    for method, template, path, raw, headers in cases:
        answer = await stack.http.request(
            method.upper(),
            path,
            content=raw,
            headers={**headers, "content-type": "application/json"},
        )
        assert str(answer.status_code) in listed(template, method), (path, answer.status_code)
        assert answer.status_code >= 400


@pytest.mark.databases("sqlite")
async def test_an_undeclared_method_is_405_with_every_method_of_the_path(
    stack: Stack,
) -> None:
    """Each method of a path is a route of its own: `Allow` names them all, and a path that
    is a resource of its own (`/users/me`) is not also the record a template names."""
    for method, path, allowed in (
        ("OPTIONS", "/deployment-rules/", "GET, POST"),
        ("PUT", "/products/some-product", "GET, PATCH"),
        ("DELETE", "/users/me", "GET"),
        ("POST", "/deployment-rules/violations", "GET"),
    ):
        answer = await stack.http.request(method, path, headers=stack.admin)
        assert answer.status_code == 405, (method, path, answer.text)
        assert answer.headers["allow"] == allowed, (method, path)


@pytest.mark.databases("sqlite")
async def test_operations_that_need_a_token_say_so(stack: Stack) -> None:
    document = await openapi(stack)
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    for path, item in document["paths"].items():
        for method, operation in item.items():
            public = path.startswith("/health") or path in ("/users/redeem", "/slack/interactions")
            assert ("security" not in operation) == public, (method, path)
