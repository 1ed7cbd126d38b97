"""The OpenAPI document says every error an operation can answer, not only its success and 422.

What the routes declare themselves (a deployment event's 409, 428 and 503, say) is kept; to
that, by what every operation of a kind does here:

- with credentials: 401 (no or a bad token), 403 (the role may not), 503 (policy did not
  answer, verifying the token or doing the work); those whose credential is in the body or a
  signature (an invitation, Slack's interactions) 401 and 503; the health checks only what
  they declare themselves;
- with a path parameter: 404 (no such record, or not a record id at all); a list with a
  `before` cursor: 404 when the cursor names no record of the list;
- with a body: 400 (not JSON), 413 (over 1 MB), 422 (JSON, but not a valid body).

A route declares the refusals only it makes: a 409 (`conflict`), a deployment event's 428.
Every operation that needs `Authorization: Bearer …` says so (`security`, the `bearer`
scheme); an undeclared method on a path is 405 with every declared one in `Allow`.

Every error body is an `ErrorBody`: `detail` a sentence, a structured refusal, or FastAPI's
list of field errors.
"""

from typing import Any

from fastapi import FastAPI

from versioner.common.errors import ErrorBody

# Operations whose credential is not a bearer token: an invitation is its own, Slack signs.
NO_BEARER = frozenset({"/users/redeem", "/slack/interactions"})
# The health checks answer without credentials, with bodies of their own.
HEALTH = frozenset({"/health", "/health/live"})
_ERROR = {"$ref": "#/components/schemas/ErrorBody"}
_DESCRIPTIONS = {
    "400": "The body is not JSON",
    "401": "No credentials, or credentials Versioner does not know",
    "403": "The caller's role may not do this",
    "404": "No such record",
    "413": "The body is over 1 MB",
    "404 before": "No such record, or the `before` cursor names none",
    "422": "The body or a parameter is not valid",
    "503": "The policy service did not answer in time; nothing was done",
}


BEARER = {
    "bearer": {"type": "http", "scheme": "bearer", "description": "An API key or a personal token"}
}


def conflict(description: str) -> dict[int | str, dict[str, Any]]:
    """A route's 409, for its `responses`: what it refuses as a conflict with what exists."""
    return {409: {"model": ErrorBody, "description": description}}


def _add(operation: dict[str, Any], status: str) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    code = status.split(maxsplit=1)[0]
    if code in responses:
        return
    responses[code] = {
        "description": _DESCRIPTIONS[status],
        "content": {"application/json": {"schema": _ERROR}},
    }


def _never_null(parameter: dict[str, Any]) -> None:
    """A query parameter is absent or a string, never JSON's null: drop FastAPI's `null`
    alternative of an optional one."""
    schema = parameter.get("schema", {})
    branches = schema.get("anyOf")
    if parameter.get("in") != "query" or not branches:
        return
    kept = [branch for branch in branches if branch != {"type": "null"}]
    if len(kept) == len(branches):
        return
    del schema["anyOf"]
    if len(kept) == 1:
        schema.update({**kept[0], **schema})
    else:
        schema["anyOf"] = kept


def _statuses(path: str, operation: dict[str, Any]) -> list[str]:
    if path in HEALTH:
        return []
    statuses = ["401", "503"] if path in NO_BEARER else ["401", "403", "503"]
    if "{" in path:
        statuses.append("404")
    if any(p["name"] == "before" for p in operation.get("parameters", [])):
        statuses.append("404 before")
    if "requestBody" in operation:
        statuses += ["400", "413", "422"]
    return statuses


def describe_errors(app: FastAPI) -> None:
    """Have `app.openapi()` document the errors above."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = generate()
        for path, item in document["paths"].items():
            for operation in item.values():
                for status in _statuses(path, operation):
                    _add(operation, status)
                if path not in NO_BEARER and path not in HEALTH:
                    operation["security"] = [{"bearer": []}]
                for parameter in operation.get("parameters", []):
                    _never_null(parameter)
        components = document.setdefault("components", {})
        components["securitySchemes"] = BEARER
        schemas = components.setdefault("schemas", {})
        assert "ErrorBody" in schemas, "a route documents ErrorBody (the deployment events do)"
        return document

    app.openapi = openapi  # type: ignore[method-assign]
