"""The OpenAPI document says every error an operation can answer, not only its success and 422.

What the routes declare themselves (a deployment event's 409, 428 and 503, say) is kept; to
that, by what every operation of a kind does here:

- with credentials: 401 (no or a bad token), 403 (the role may not), 503 (policy did not
  answer, verifying the token or doing the work); those whose credential is in the body or a
  signature (an invitation, Slack's interactions) 401 and 503; the health checks only what
  they declare themselves;
- with a path parameter: 404 (no such record, or not a record id at all);
- with a body: 400 (not JSON), 413 (over 1 MB), 422 (JSON, but not a valid body).

Every error body is an `ErrorBody`: `detail` a sentence, a structured refusal, or FastAPI's
list of field errors.
"""

from typing import Any

from fastapi import FastAPI

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
    "422": "The body or a parameter is not valid",
    "503": "The policy service did not answer in time; nothing was done",
}


def _add(operation: dict[str, Any], status: str) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    if status in responses:
        return
    responses[status] = {
        "description": _DESCRIPTIONS[status],
        "content": {"application/json": {"schema": _ERROR}},
    }


def _statuses(path: str, operation: dict[str, Any]) -> list[str]:
    if path in HEALTH:
        return []
    statuses = ["401", "503"] if path in NO_BEARER else ["401", "403", "503"]
    if "{" in path:
        statuses.append("404")
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
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        assert "ErrorBody" in schemas, "a route documents ErrorBody (the deployment events do)"
        return document

    app.openapi = openapi  # type: ignore[method-assign]
