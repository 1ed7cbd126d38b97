"""The CLI's wire models (`versioner.client.models`) against the OpenAPI document ingest serves.

Each client model is pinned to the operation it mirrors, by path, so a renamed schema follows;
a field the client reads must be served with a type it accepts (null only where it allows
None), and a body it sends must carry only served fields, every required one, of types the
server takes.
"""

import asyncio
import copy
import types
from pathlib import Path
from typing import (
    Any,
    Literal,
    NotRequired,
    Required,
    Union,
    get_args,
    get_origin,
    get_type_hints,
    is_typeddict,
)

import pytest

from tests.support.databases import sqlite_url
from tests.support.stack import memory_stack
from versioner.client import models

Schema = dict[str, Any]
ANY = frozenset({"string", "number", "integer", "boolean", "null", "object", "array"})
ITEMS = "[]"  # the answer is a list of the model

# (model, method, path, status, where): what the client reads, and the answer it comes from.
ANSWERS: list[tuple[type, str, str, str, str]] = [
    (models.BuildRecord, "post", "/build-events", "200", ""),
    (models.DeploymentRecord, "post", "/deployment-events", "200", ""),
    (models.DeploymentRecord, "get", "/deployments", "200", ITEMS),
    (models.EventStatus, "get", "/events/{event_id}", "200", ""),
    (models.Product, "get", "/products", "200", ITEMS),
    (models.Environment, "get", "/environments", "200", ITEMS),
    (models.State, "get", "/state", "200", ""),
    (models.User, "get", "/users/me", "200", ""),
    (models.User, "get", "/users", "200", ITEMS),
    (models.InvitedUser, "post", "/users", "201", ""),
    (models.Token, "post", "/users/redeem", "200", ""),
    (models.Token, "post", "/users/me/token", "200", ""),
    (models.ApiKey, "get", "/api-keys", "200", ITEMS),
    (models.CreatedApiKey, "post", "/api-keys", "201", ""),
    (models.Rule, "get", "/deployment-rules", "200", ITEMS),
    (models.Rule, "post", "/deployment-rules", "201", ""),
    (models.WindowsPreview, "get", "/deployment-rules/{rule_id}/windows", "200", ""),
    (models.ViolationEntry, "get", "/deployment-rules/violations", "200", ITEMS),
    (models.DeploymentRequest, "get", "/deployment-requests/{request_id}", "200", ""),
    (models.DeploymentRequest, "post", "/deployment-requests", "201", ""),
    (models.VersionApproval, "post", "/versions/{version_id}/approvals", "201", ""),
    (models.VersionApproval, "get", "/versions/{version_id}/approvals", "200", ITEMS),
    (models.AuditEntry, "get", "/audit", "200", ITEMS),
    (models.DoraReport, "get", "/insights/dora", "200", ""),
    (models.GateReport, "get", "/insights/gate", "200", ""),
    (models.Incident, "post", "/incident-events", "200", ""),
    (models.Incident, "get", "/incidents", "200", ITEMS),
]
# Keys the client sends that this server does not read, and why they are still sent.
UNREAD = {
    # Deprecated: still sent for older servers; the CLI warns it is ignored (track.py).
    "DeploymentEvent.skip_preflight_checks",
}
# (model, method, path): the bodies the client sends.
BODIES: list[tuple[type, str, str]] = [
    (models.BuildEvent, "post", "/build-events"),
    (models.DeploymentEvent, "post", "/deployment-events"),
    (models.IncidentEvent, "post", "/incident-events"),
]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Schema:
    """The OpenAPI document of a freshly built gateway."""
    return asyncio.run(_openapi(tmp_path_factory.mktemp("openapi")))


async def _openapi(folder: Path) -> Schema:
    async with memory_stack(sqlite_url(folder)) as stack:
        response = await stack.http.get("/openapi.json")
        assert response.status_code == 200, response.text
        document: Schema = response.json()
        return document


@pytest.mark.parametrize(
    ("model", "method", "path", "status", "where"),
    ANSWERS,
    ids=[f"{m.__name__}-{verb}-{path}{where}" for m, verb, path, _, where in ANSWERS],
)
def test_what_the_client_reads_is_served(
    served: Schema, model: type, method: str, path: str, status: str, where: str
) -> None:
    schema = _answer(served, method, path, status)
    if where == ITEMS:
        assert "array" in _types(served, schema), f"{method} {path} answers no list"
        schema = schema["items"]
    assert _read_problems(served, model, schema, model.__name__) == []


@pytest.mark.parametrize(
    ("model", "method", "path"), BODIES, ids=[f"{m.__name__}-{verb}-{p}" for m, verb, p in BODIES]
)
def test_what_the_client_sends_is_accepted(
    served: Schema, model: type, method: str, path: str
) -> None:
    operation = served["paths"][path][method]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    assert _send_problems(served, model, schema, model.__name__) == []


def test_a_renamed_or_dropped_field_is_caught(served: Schema) -> None:
    document = copy.deepcopy(served)
    schema = _object(document, _answer(document, "post", "/build-events", "200"))
    schema["properties"]["scm_commit"] = schema["properties"].pop("scm_sha")
    del schema["properties"]["build_url"]
    problems = _read_problems(document, models.BuildRecord, schema, "BuildRecord")
    assert problems == [
        "BuildRecord.scm_sha is not served",
        "BuildRecord.build_url is not served",
    ]
    body = _object(document, document["paths"]["/build-events"]["post"]["requestBody"])
    body["properties"].pop("scm_branch")
    problems = _send_problems(document, models.BuildEvent, body, "BuildEvent")
    assert problems == ["BuildEvent.scm_branch is not accepted"]


def test_a_field_served_as_null_must_be_optional_in_the_client(served: Schema) -> None:
    document = copy.deepcopy(served)
    schema = _object(document, _answer(document, "post", "/api-keys", "201"))
    schema["properties"]["name"] = {"anyOf": [{"type": "string"}, {"type": "null"}]}
    problems = _read_problems(document, models.CreatedApiKey, schema, "CreatedApiKey")
    assert problems == ["CreatedApiKey.name: served as ['null', 'string'], read as ['string']"]


# Reading and sending.


def _read_problems(document: Schema, model: type, schema: Schema, where: str) -> list[str]:
    """What the client reads from `model` and the served `schema` does not give it."""
    served = _object(document, schema)
    properties: dict[str, Schema] = served.get("properties", {})
    problems: list[str] = []
    for name, hint in get_type_hints(model).items():
        field = f"{where}.{name}"
        if name not in properties:
            problems.append(f"{field} is not served")
            continue
        given, taken = _types(document, properties[name]), _accepts(hint)
        if not given <= taken:
            problems.append(f"{field}: served as {sorted(given)}, read as {sorted(taken)}")
        values, literal = _values(document, properties[name]), _literal(hint)
        if values is not None and literal is not None and not values <= literal:
            problems.append(f"{field}: served {sorted(values)}, read {sorted(literal)}")
        problems += _nested(document, hint, properties[name], field, _read_problems)
    return problems


def _send_problems(document: Schema, model: type, schema: Schema, where: str) -> list[str]:
    """What the client sends in `model` that the served request `schema` does not take."""
    served = _object(document, schema)
    properties: dict[str, Schema] = served.get("properties", {})
    required = _required(model)
    problems = [
        f"{where}.{name} is required by the server"
        for name in served.get("required", [])
        if name not in required
    ]
    for name, hint in get_type_hints(model).items():
        field = f"{where}.{name}"
        if name not in properties:
            if field not in UNREAD:
                problems.append(f"{field} is not accepted")
            continue
        sent, taken = _accepts(hint), _types(document, properties[name])
        if not sent <= taken | ({"integer"} if "number" in taken else set()):
            problems.append(f"{field}: sent as {sorted(sent)}, taken as {sorted(taken)}")
        literal, values = _literal(hint), _values(document, properties[name])
        if values is not None and literal is not None and not literal <= values:
            problems.append(f"{field}: sent {sorted(literal)}, taken {sorted(values)}")
        problems += _nested(document, hint, properties[name], field, _send_problems)
    return problems


def _nested(document: Schema, hint: Any, schema: Schema, field: str, check: Any) -> list[str]:
    """The problems of a model inside a field: itself, a list of it, or a map of it."""
    inner = _without_none(hint)
    origin = get_origin(inner)
    if is_typeddict(inner):
        return list(check(document, inner, _object(document, schema), field))
    if origin is list and is_typeddict(get_args(inner)[0]):
        items = _object(document, schema).get("items", {})
        return list(check(document, get_args(inner)[0], items, f"{field}[]"))
    if origin is dict and is_typeddict(get_args(inner)[1]):
        values = _object(document, schema).get("additionalProperties", {})
        return list(check(document, get_args(inner)[1], values, f"{field}{{}}"))
    return []


# The served side.


def _answer(document: Schema, method: str, path: str, status: str) -> Schema:
    operation = document["paths"][path][method]
    schema: Schema = operation["responses"][status]["content"]["application/json"]["schema"]
    return schema


def _resolve(document: Schema, schema: Schema) -> Schema:
    while "$ref" in schema:
        found: Any = document
        for part in schema["$ref"].removeprefix("#/").split("/"):
            found = found[part]
        schema = found
    return schema


def _object(document: Schema, schema: Schema) -> Schema:
    """The schema itself, or the non-null member of a nullable one; references followed."""
    schema = _resolve(document, schema)
    if "content" in schema:  # a request body
        schema = _resolve(document, schema["content"]["application/json"]["schema"])
    for member in schema.get("anyOf", []):
        if _resolve(document, member).get("type") != "null":
            return _object(document, member)
    return schema


def _types(document: Schema, schema: Schema) -> set[str]:
    """The JSON types a schema admits."""
    schema = _resolve(document, schema)
    if members := schema.get("anyOf") or schema.get("oneOf"):
        return set().union(*(_types(document, m) for m in members))
    if "allOf" in schema:
        return _types(document, schema["allOf"][0])
    if "const" in schema:
        return {_json_type(schema["const"])}
    if "enum" in schema:
        return {_json_type(value) for value in schema["enum"]}
    kind = schema.get("type")
    if kind is None:
        return set(ANY)
    return set(kind) if isinstance(kind, list) else {kind}


def _values(document: Schema, schema: Schema) -> set[Any] | None:
    """The strings an enumerated schema admits, or None when it admits any."""
    schema = _resolve(document, schema)
    if members := schema.get("anyOf"):
        found = [
            _values(document, m) for m in members if _resolve(document, m).get("type") != "null"
        ]
        return None if any(v is None for v in found) else set().union(*found)  # type: ignore[arg-type]
    if "const" in schema:
        return {schema["const"]}
    return set(schema["enum"]) if "enum" in schema else None


def _json_type(value: Any) -> str:
    match value:
        case None:
            return "null"
        case bool():
            return "boolean"
        case int():
            return "integer"
        case float():
            return "number"
        case str():
            return "string"
        case list():
            return "array"
    return "object"


# The client side.


def _accepts(hint: Any) -> set[str]:
    """The JSON types a client annotation holds."""
    origin = get_origin(hint)
    if hint is Any:
        return set(ANY)
    if origin in (Required, NotRequired):
        return _accepts(get_args(hint)[0])
    if origin in (Union, types.UnionType):
        return set().union(*(_accepts(arg) for arg in get_args(hint)))
    if origin is Literal:
        return {_json_type(arg) for arg in get_args(hint)}
    simple = {type(None): {"null"}, str: {"string"}, bool: {"boolean"}, int: {"integer"}}
    if hint in simple:
        return simple[hint]
    if hint is float:
        return {"number", "integer"}
    if origin is dict or is_typeddict(hint):
        return {"object"}
    if origin is list:
        return {"array"}
    raise AssertionError(f"no JSON type for {hint!r}")


def _required(model: type) -> set[str]:
    """A model's required keys (`__required_keys__` misses them under postponed annotations)."""
    total = getattr(model, "__total__", True)
    return {
        name
        for name, hint in get_type_hints(model, include_extras=True).items()
        if get_origin(hint) is Required or (total and get_origin(hint) is not NotRequired)
    }


def _literal(hint: Any) -> set[Any] | None:
    """The values a `Literal` annotation allows, or None when it is not one."""
    inner = _without_none(hint)
    return set(get_args(inner)) if get_origin(inner) is Literal else None


def _without_none(hint: Any) -> Any:
    if get_origin(hint) in (Required, NotRequired):
        hint = get_args(hint)[0]
    if get_origin(hint) in (Union, types.UnionType):
        args = [arg for arg in get_args(hint) if arg is not type(None)]
        return args[0] if len(args) == 1 else hint
    return hint
