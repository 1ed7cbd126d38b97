"""The event endpoints' short way in (`intake.py`): it serves well-formed events itself and
answers everything exactly as FastAPI's endpoints do, which answer whatever it passes on."""

import json
from typing import Any

import pytest

from tests.support.flows import build_body, deploy_body
from tests.support.stack import Stack
from versioner.ingest import intake
from versioner.ingest.intake import EventIntake, is_json

JSON = {"content-type": "application/json"}


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths of the requests the intake served itself (it passed the rest on)."""
    paths: list[str] = []
    parse = EventIntake._event

    def counted(endpoint: Any, scope: Any, message: Any) -> Any:
        event = parse(endpoint, scope, message)
        if event is not None:
            paths.append(scope["path"])
        return event

    monkeypatch.setattr(EventIntake, "_event", staticmethod(counted))
    return paths


def framework_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """From now on the intake passes every request on to FastAPI."""
    monkeypatch.setattr(intake, "_ENDPOINTS", {})


# (path, body, headers besides the API key's): what a pipeline may send, right and wrong.
VARIANTS: list[tuple[str, bytes, dict[str, str]]] = [
    (
        "/deployment-events/",
        json.dumps(deploy_body(version="9.9.1", status="completed")).encode(),
        JSON,
    ),
    (
        "/deployment-events",
        json.dumps(deploy_body(version="9.9.2", status="completed")).encode(),
        JSON,
    ),
    ("/build-events/", json.dumps(build_body(version="9.9.3")).encode(), JSON),
    ("/version-events", json.dumps(build_body(version="9.9.4")).encode(), JSON),
    (
        "/build-events/",
        json.dumps(build_body(version="9.9.5")).encode(),
        {"content-type": "application/vnd.ci+json; charset=utf-8"},
    ),
    ("/deployment-events/", b'{"product_name": "api",', JSON),
    ("/deployment-events/", b"[1, 2]", JSON),
    ("/deployment-events/", b"", JSON),
    ("/deployment-events/", json.dumps(deploy_body(status="exploded")).encode(), JSON),
    ("/build-events/", json.dumps(build_body(product_name="")).encode(), JSON),
    (
        "/deployment-events/",
        json.dumps(deploy_body(version="9.9.6", status="completed")).encode(),
        {},
    ),
    (
        "/deployment-events/",
        json.dumps(deploy_body(version="9.9.7", status="completed")).encode(),
        {"content-type": "text/plain"},
    ),
]


def comparable(response: Any) -> tuple[int, Any]:
    """Status and body, with what differs between two identical requests (ids, times) left out."""
    body = response.json() if response.content else None
    if response.status_code == 200 and isinstance(body, dict):
        return 200, sorted(body)
    return response.status_code, body


async def answers(stack: Stack, headers: dict[str, str], suffix: str) -> list[tuple[int, Any]]:
    seen = []
    for path, body, extra in VARIANTS:
        # Each run deploys its own versions, so the second run is not a replay of the first.
        content = body.replace(b'"9.9.', f'"{suffix}.9.'.encode())
        response = await stack.http.post(path, content=content, headers={**headers, **extra})
        seen.append(comparable(response))
    return seen


@pytest.mark.databases("sqlite")
async def test_every_answer_is_the_frameworks_own(
    stack: Stack, served: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    key = stack.auth(await stack.api_key())

    short = await answers(stack, key, "1")
    framework_only(monkeypatch)
    framework = await answers(stack, key, "2")

    assert short == framework
    assert [status for status, _ in short] == [200] * 5 + [400, 422, 422, 422, 422, 422, 422]
    assert served == [
        "/deployment-events/",
        "/deployment-events",
        "/build-events/",
        "/version-events",
        "/build-events/",
    ]


@pytest.mark.databases("sqlite")
async def test_credentials_are_checked_as_the_endpoint_checks_them(
    stack: Stack, served: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    viewer = await stack.user("viewer")
    cases = [
        {},
        {"authorization": "Basic abc"},
        {"authorization": "Bearer "},
        stack.auth("vk_" + "x" * 40),
        stack.auth(viewer),
    ]
    body = json.dumps(deploy_body(status="completed")).encode()

    async def refusals() -> list[tuple[int, Any]]:
        return [
            comparable(
                await stack.http.post(
                    "/deployment-events/", content=body, headers={**JSON, **headers}
                )
            )
            for headers in cases
        ]

    short = await refusals()
    framework_only(monkeypatch)
    assert short == await refusals()
    assert [status for status, _ in short] == [401, 401, 401, 401, 403]
    assert len(served) == len(cases)


@pytest.mark.databases("sqlite")
async def test_a_started_served_by_the_intake_is_decided_and_recorded(
    stack: Stack, served: list[str]
) -> None:
    key = stack.auth(await stack.api_key())

    started = await stack.http.post(
        "/deployment-events/", json=deploy_body(version="2.0.0", status="started"), headers=key
    )
    second = await stack.http.post(
        "/deployment-events/", json=deploy_body(version="2.0.1", status="started"), headers=key
    )

    assert started.status_code == 200
    assert second.status_code == 409
    assert second.json()["detail"]["code"] == "DEPLOYMENT_IN_PROGRESS"
    assert len(served) == 2


@pytest.mark.parametrize(
    ("content_type", "expected"),
    [
        (b"application/json", True),
        (b"Application/JSON; charset=utf-8", True),
        (b"application/problem+json", True),
        (b"application/jsonx", False),
        (b"text/json", False),
        (b"multipart/form-data; boundary=x", False),
        (b"", False),
    ],
)
def test_json_is_what_fastapi_reads_as_json(content_type: bytes, expected: bool) -> None:
    assert is_json(content_type) is expected
