"""Bad event bodies: 400, 413 or 422 naming the field, never a 500, and nothing recorded.

Each test walks its list of bodies on one stack, so a scenario costs one stack, not dozens.
"""

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.support.flows import INVALID_JSON, build_body, deploy_body
from tests.support.stack import Stack

MAX_BODY = 1_048_576
JSON = {"content-type": "application/json"}
EVENT_PATHS = ["/build-events/", "/deployment-events/"]


def body_for(path: str, **fields: Any) -> dict[str, Any]:
    """A valid event for `path` with some fields changed (`...` removes one)."""
    body = build_body(**fields) if path.startswith("/build") else deploy_body(**fields)
    return {k: v for k, v in body.items() if v is not ...}


def oversized(path: str) -> bytes:
    return json.dumps(body_for(path, extra_metadata={"k": "x" * MAX_BODY})).encode()


# (fields changed, the field the 422 must name)
BAD_FIELDS: list[tuple[dict[str, Any], str]] = [
    ({"status": "exploded"}, "status"),
    ({"status": "  "}, "status"),
    ({"status": 3}, "status"),
    ({"status": ...}, "status"),
    ({"product_name": ...}, "product_name"),
    ({"version": ...}, "version"),
    ({"product_name": ""}, "product_name"),
    ({"version": ""}, "version"),
    ({"product_name": 42}, "product_name"),
    ({"version": 1.5}, "version"),
    ({"product_name": None}, "product_name"),
    ({"product_name": "x" * 256}, "product_name"),
    ({"scm_sha": ["abc"]}, "scm_sha"),
    ({"completed_at": "yesterday"}, "completed_at"),
    ({"extra_metadata": ["not", "an", "object"]}, "extra_metadata"),
    ({"extra_metadata": {"k": "x" * 102_400}}, "extra_metadata"),
    # One line each: CR/LF would forge log lines and headers where the value is echoed.
    ({"version": "1.0\r\nX-Injected: yes"}, "version"),
    ({"product_name": "api\n"}, "product_name"),
    ({"scm_sha": "abc\r"}, "scm_sha"),
    ({"version": "1.0\u2028"}, "version"),
    ({"version": "1.0\t"}, "version"),
]


@pytest.mark.databases("sqlite")
@pytest.mark.parametrize("path", EVENT_PATHS)
async def test_nan_and_infinity_in_metadata_are_422_not_null(
    stack: Stack, ci: dict[str, str], path: str
) -> None:
    for token in (b"NaN", b"Infinity", b"-Infinity"):
        raw = json.dumps(body_for(path, extra_metadata={"k": 0})).encode()
        raw = raw.replace(b'{"k": 0}', b'{"k": [1, ' + token + b"]}")
        response = await stack.http.post(path, content=raw, headers={**ci, **JSON})
        assert response.status_code == 422, (token, response.text)
        errors = response.json()["detail"]
        assert [e["loc"] for e in errors] == [["body", "extra_metadata"]], errors
        assert "NaN or Infinity" in errors[0]["msg"]


@pytest.mark.databases("sqlite")
@pytest.mark.parametrize("path", EVENT_PATHS)
async def test_a_bad_field_is_422_naming_it(stack: Stack, ci: dict[str, str], path: str) -> None:
    cases = [*BAD_FIELDS]
    if path == "/deployment-events/":
        cases += [({"environment_name": ""}, "environment_name")]
        cases += [({"environment_name": ...}, "environment_name")]
        cases += [({"status": "built"}, "status")]
    else:
        cases += [({"status": "deployed"}, "status")]
    for fields, field in cases:
        response = await stack.http.post(path, json=body_for(path, **fields), headers=ci)
        assert response.status_code == 422, (fields, response.text)
        errors = response.json()["detail"]
        assert [e["loc"] for e in errors] == [["body", field]], fields
        assert all(set(e) == {"loc", "msg", "type"} for e in errors), errors


MALFORMED = [
    b"{",
    b'{"product_name": "api",}',
    b"{'product_name': 'api'}",
    b'{"product_name": "api"} trailing',
    b'{"product_name": "api", "version": }',
    b"\xff\xfe\x00{",
    b'{"product_name": "\xff\xfe"}',  # not UTF-8
    b"[" * 100_000 + b"]" * 100_000,  # nested deeper than any parser goes
]


@pytest.mark.databases("sqlite")
async def test_malformed_json_is_400(stack: Stack, ci: dict[str, str]) -> None:
    for path in EVENT_PATHS:
        for raw in MALFORMED:
            response = await stack.http.post(path, content=raw, headers={**ci, **JSON})
            assert response.status_code == 400, (path, raw, response.text)
            assert response.json() == INVALID_JSON


@pytest.mark.databases("sqlite")
async def test_a_body_that_is_not_an_object_is_422(stack: Stack, ci: dict[str, str]) -> None:
    for path in EVENT_PATHS:
        for raw in (b"[]", b'["product_name"]', b'"api"', b"42", b"null", b"true"):
            response = await stack.http.post(path, content=raw, headers={**ci, **JSON})
            assert response.status_code == 422, (path, raw, response.text)
            assert response.json()["detail"][0]["loc"][0] == "body"


@pytest.mark.databases("sqlite")
async def test_a_body_over_1_mb_is_413_by_content_length(stack: Stack, ci: dict[str, str]) -> None:
    for path in EVENT_PATHS:
        raw = oversized(path)
        response = await stack.http.post(path, content=raw, headers={**ci, **JSON})
        assert response.request.headers["content-length"] == str(len(raw))
        assert response.status_code == 413, response.text


@pytest.mark.databases("sqlite")
@pytest.mark.parametrize("path", EVENT_PATHS)
async def test_a_streamed_body_over_1_mb_is_413(
    stack: Stack, ci: dict[str, str], path: str
) -> None:
    raw = oversized(path)

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(raw), 64 * 1024):
            yield raw[start : start + 64 * 1024]

    response = await stack.http.post(path, content=chunks(), headers={**ci, **JSON})
    assert "content-length" not in response.request.headers
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert response.status_code == 413, response.text


@pytest.mark.databases("sqlite")
async def test_a_body_of_exactly_1_mb_is_read(stack: Stack, ci: dict[str, str]) -> None:
    body = build_body(extra_metadata={"k": ""})
    body["extra_metadata"]["k"] = "x" * (MAX_BODY - len(json.dumps(body).encode()))
    raw = json.dumps(body).encode()
    assert len(raw) == MAX_BODY
    response = await stack.http.post("/build-events/", content=raw, headers={**ci, **JSON})
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["body", "extra_metadata"]


@pytest.mark.databases("sqlite")
@pytest.mark.parametrize(
    ("path", "field", "value"),
    [
        ("/build-events/", "started_at", "9999-12-31T23:59:59-23:59"),
        ("/deployment-events/", "completed_at", "0001-01-01T00:00:00+00:01"),
    ],
)
async def test_a_timestamp_out_of_range_in_utc_is_422(
    stack: Stack, ci: dict[str, str], path: str, field: str, value: str
) -> None:
    response = await stack.http.post(path, json=body_for(path, **{field: value}), headers=ci)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", field]


_B = b'{"product_name": "api", "version": "1", "status": "success", '
_D = b'{"product_name": "api", "version": "1", "environment_name": "prod", "status": "completed", '
NASTY: dict[str, list[bytes]] = {
    "/build-events/": [
        b'{"product_name": null, "version": null, "status": null}',
        _B + b'"build_number": 1e308}',
        _B + b'"build_number": -0.0}',
        _B + b'"build_number": ' + b"9" * 5000 + b"}",
        _B + b'"extra_metadata": {"n": NaN}}',
        _B + b'"extra_metadata": {"n": 1e999}}',
        _B + b'"extra_metadata": {"deep": ' + b"[" * 3000 + b"]" * 3000 + b"}}",
        b'{"product_name": ' + b"[" * 3000 + b"]" * 3000 + b', "version": "1", "status": "x"}',
        b'{"product_name": "\\ud800", "version": "1", "status": "success"}',
        b'{"product_name": "caf\xc3\xa9 \xf0\x9f\x9a\x80", "version": "\xe2\x80\xae1", '
        b'"status": "success"}',
        _B + b'"scm_sha": 7, "invoke_id": 1.5, "built_by": true}',
        _B + b'"started_at": 1e20}',
        _B + b'"error_message": "' + b"\\u00e9" * 20_000 + b'"}',
        b'{"product_name": "api", "version": "1", "status": {"$ne": null}}',
        _B + b'"extra_metadata": {"": {"": [null, true, 1, "\\u0000"]}}}',
        _B + b'"product_name": "dup"}',
    ],
    "/deployment-events/": [
        b'{"product_name": "api", "version": "1", "environment_name": null, "status": "started"}',
        b'{"product_name": "api", "version": "1", "environment_name": ["prod"], "status": "x"}',
        _D + b'"override_reason": "' + b"x" * 5000 + b'"}',
        _D + b'"deploy_url": "' + b"x" * 5000 + b'"}',
        _D + b'"extra_metadata": {"override_reason": ["x"]}}',
        _D + b'"completed_at": "2025-02-30T00:00:00"}',
        _D + b'"deployed_by": "' + b"\\ud83d\\ude80" * 50 + b'"}',
    ],
}


@pytest.mark.parametrize("path", list(NASTY))
async def test_no_nasty_body_is_a_500(stack: Stack, ci: dict[str, str], path: str) -> None:
    for raw in NASTY[path]:
        response = await stack.http.post(path, content=raw, headers={**ci, **JSON})
        assert response.status_code in (200, 400, 422), (raw[:200], response.text)


async def test_a_nul_character_is_no_500(stack: Stack, ci: dict[str, str]) -> None:
    for path, field in (
        ("/build-events/", "product_name"),
        ("/build-events/", "built_by"),
        ("/deployment-events/", "environment_name"),
    ):
        response = await stack.http.post(path, json=body_for(path, **{field: "a\x00b"}), headers=ci)
        assert response.status_code in (200, 422), (field, response.text)


async def test_bad_input_changes_nothing(stack: Stack, ci: dict[str, str]) -> None:
    bad: list[tuple[str, bytes]] = [
        ("/build-events/", b"{"),
        ("/build-events/", json.dumps(build_body(status="exploded")).encode()),
        ("/build-events/", json.dumps(build_body(version="")).encode()),
        ("/deployment-events/", json.dumps(deploy_body(environment_name=None)).encode()),
        ("/deployment-events/", json.dumps(deploy_body(extra_metadata=[1])).encode()),
        ("/deployment-events/", oversized("/deployment-events/")),
        ("/version-events", b"[]"),
    ]
    for path, raw in bad:
        response = await stack.http.post(path, content=raw, headers={**ci, **JSON})
        assert response.status_code in (400, 413, 422), response.text
    for listing in ("/products/", "/environments/", "/versions/", "/deployments/"):
        response = await stack.http.get(listing, headers=ci)
        assert response.json() == [], listing
        assert response.headers["x-total-count"] == "0"
