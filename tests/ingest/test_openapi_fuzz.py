"""Schemathesis fuzzes every operation of the served OpenAPI document, as three callers.

An admin and a viewer (personal tokens) and an API key each get a fresh installation: the
stack in memory with the notifier, ingest served by uvicorn on 127.0.0.1 from a thread of its
own, so schemathesis talks real HTTP to what `/openapi.json` describes. Every operation gets
positive and negative data with every check schemathesis has (`test_every_operation`, one
subtest per operation); then chains of calls along the links schemathesis infers, create
first (`test_workflows`, where `use_after_free` and `ensure_resource_availability` apply).

Nothing leaves the machine: the notifier resolves every name to 127.0.0.1 and the HTTP client
its egress guard sends through answers every request itself.
"""

import asyncio
import contextlib
import importlib
import pkgutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import Case, CheckContext, Response
from schemathesis.engine import events
from schemathesis.specs.openapi.checks import positive_data_acceptance
from schemathesis.specs.openapi.schemas import OpenApiSchema

from tests.support.databases import sqlite_url
from tests.support.stack import NotifierSetup, Stack, memory_stack, serving

# Minutes of CPU: in `make test`, not in `make test-fast`.
pytestmark = pytest.mark.fuzz


def _import_all(package: ModuleType) -> None:
    """Import every module of `package` now. schemathesis imports much of itself only when
    first needed, in the middle of a run (a check's module), and CPython 3.11.7 compiling
    in two threads at once (that import here, a template or model being built in the served
    stack's thread) fails with "SystemError: AST constructor recursion depth mismatch"
    (fixed in later CPython releases; seen once in four loaded runs)."""
    for module in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
        with contextlib.suppress(Exception):
            importlib.import_module(module.name)


_import_all(schemathesis)

CALLERS = ("admin", "viewer", "api_key")
# Fuzzed cases per operation and workflows per caller (of at most STEPS calls): enough to
# reach every branch the document describes, few enough that the file stays near a minute on
# two cores. The coverage phase adds its boundary and wrong-type cases to the fuzzed ones.
MAX_EXAMPLES = 5
WORKFLOWS = 15
STEPS = 8
SEED = 20260101

# What JSON Schema cannot state, checked all the same (the operations' descriptions and
# API.md say what): a request the document allows may be refused with a 422 naming these
# places, and only there. A rule's configuration: windows end after they start, on days the
# calendar has; an RRULE parses; a flow's target is not its own prerequisite and its scope is
# [] or [target]; a change keeps the rule's type. Only a schedule rule has windows. A button
# names a product that exists; a body template meant as JSON is JSON once filled in, within
# 64 KiB of UTF-8. A channel's changed config is whole for its kind. A Deployment Request is
# submitted with items. A report's period starts before it ends and is at most 1,200 buckets
# long; an incident resolves after it opened, and only with status resolved.
BEYOND_SCHEMA: dict[str, tuple[tuple[str, ...], ...]] = {
    "POST /deployment-rules": (("body", "config"), ("body", "environments")),
    "PATCH /deployment-rules/{rule_id}": (("body", "config"), ("body", "environments")),
    "GET /deployment-rules/{rule_id}/windows": (("path", "rule_id"),),
    "POST /deployment-buttons": (("body", "product"), ("body", "body_template")),
    "PATCH /deployment-buttons/{button_id}": (("body", "body_template"),),
    "PATCH /notification-channels/{channel_id}": (("body", "config"),),
    "POST /deployment-requests/{request_id}/submit": (("body", "items"),),
    "GET /insights/dora": (("query", "since"), ("query", "bucket")),
    "GET /insights/gate": (("query", "since"), ("query", "bucket")),
    "POST /incident-events": (("body", "resolved_at"),),
}


def refused_beyond_schema(case: Case[Any], response: Response) -> bool:
    """A 422 whose every error is at a place the operation checks beyond its schema."""
    places = BEYOND_SCHEMA.get(case.operation.label, ())
    if response.status_code != 422 or not places:
        return False
    errors = response.json().get("detail")
    return isinstance(errors, list) and all(
        any(tuple(error.get("loc", ()))[: len(place)] == place for place in places)
        for error in errors
    )


@schemathesis.check
def positive_data_accepted(ctx: CheckContext, response: Response, case: Case[Any]) -> bool | None:
    """schemathesis' `positive_data_acceptance`, less the refusals above."""
    if refused_beyond_schema(case, response):
        return None
    return positive_data_acceptance(ctx, response, case)


class LoopbackResolver:
    """Every host name resolves to 127.0.0.1 (allowed below): nothing is looked up."""

    async def resolve(self, host: str, port: int) -> list[str]:
        """127.0.0.1, whatever the name."""
        return ["127.0.0.1"]


def _answer_locally(request: httpx.Request) -> httpx.Response:
    # Streamed, as a real answer is: the egress reads it in bounded chunks.
    return httpx.Response(204, stream=httpx.ByteStream(b""))


@dataclass
class Caller:
    """Where the gateway listens, and the credential the fuzzer sends."""

    role: str
    url: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        """`Authorization: Bearer …`."""
        return {"Authorization": f"Bearer {self.token}"}


async def _credential(stack: Stack, role: str) -> str:
    if role == "api_key":
        return await stack.api_key()
    return await stack.user(role)


@contextmanager
def served(tmp_path: Path, role: str) -> Iterator[Caller]:
    """The stack on an event loop of its own in a thread, ingest served over HTTP (the
    fuzzer's calls block, so the stack cannot share the test's loop)."""
    ready = threading.Event()
    found: dict[str, Any] = {}

    async def main() -> None:
        notifier = NotifierSetup(
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'notifier.db'}",
            allow_hosts="127.0.0.1",
            resolver=LoopbackResolver(),
        )
        async with memory_stack(sqlite_url(tmp_path), notifier=notifier) as stack:
            assert stack.notifier is not None
            # A URL may name an address and skip the resolver: the client the egress guard
            # sends through answers every request itself.
            egress = stack.notifier.egress
            await egress._client.aclose()
            egress._client = httpx.AsyncClient(transport=httpx.MockTransport(_answer_locally))
            async with serving(stack.app) as url:
                stop = asyncio.Event()
                loop = asyncio.get_running_loop()
                found["stop"] = lambda: loop.call_soon_threadsafe(stop.set)
                token = await _credential(stack, role)
                found["caller"] = Caller(role=role, url=url, token=token)
                ready.set()
                await stop.wait()

    def run() -> None:
        try:
            asyncio.run(main())
        except BaseException as exc:
            found["error"] = exc
        finally:
            ready.set()

    thread = threading.Thread(target=run, name=f"fuzzed-{role}", daemon=True)
    thread.start()
    ready.wait(60)
    if "caller" not in found:
        thread.join(5)
        raise AssertionError(f"the stack did not start: {found.get('error')!r}")
    try:
        yield found["caller"]
    finally:
        found["stop"]()
        thread.join(30)
        assert not thread.is_alive(), "the served stack did not stop"
        if "error" in found:
            raise found["error"]


@pytest.fixture(params=CALLERS)
def caller(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Caller]:
    """A fresh installation, and one of the three callers."""
    with served(tmp_path, request.param) as running:
        yield running


def _config(caller: Caller, phases: dict[str, Any]) -> schemathesis.Config:
    return schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "headers": caller.headers,
            "generation": {
                "mode": "all",
                "max-examples": MAX_EXAMPLES,
                "deterministic": True,
                # The credential goes with every request, so a case that "leaves out" the
                # Authorization header would carry it all the same; `ignored_auth` sends
                # requests without it and with a forged one instead.
                "with-security-parameters": False,
            },
            "phases": phases,
            "checks": {
                "enabled": True,
                # As `positive_data_accepted`, which knows what the schema cannot say.
                "positive_data_acceptance": {"enabled": False},
            },
        }
    )


@pytest.fixture
def api(caller: Caller, request: pytest.FixtureRequest) -> OpenApiSchema:
    """The document the gateway serves, every check on."""
    # schemathesis 4.32's `from_fixture` renames the test by `node._nodeid`, an attribute
    # pytest 9.2 no longer has (the id is `node.nodeid`); it reads it after this fixture.
    request.node._nodeid = request.node.nodeid
    # Every caller meets every operation; the coverage phase's negative cases (a wrong type
    # for each field, each bound crossed) are the same for every role, refused before the
    # role is looked at, so they are the admin's, who also reaches what the others may not.
    mode = "all" if caller.role == "admin" else "positive"
    phases = {
        "examples": {"enabled": True},
        "coverage": {"enabled": True, "generation": {"mode": mode}},
        "fuzzing": {"enabled": True},
        "stateful": {"enabled": False},
    }
    return schemathesis.openapi.from_url(
        f"{caller.url}/openapi.json", config=_config(caller, phases)
    )


# Slack's interactivity endpoint is signed by Slack (an HMAC of the raw body with the signing
# secret), not called with a bearer token: a generated request can only be refused, and this
# stack has no signing secret, so it answers 503 by design (API.md).
schema = schemathesis.pytest.from_fixture("api").exclude(path="/slack/interactions")


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)
def test_every_operation(case: Case[Any], caller: Caller) -> None:
    """Every check passes on every answer."""
    response = case.call_and_validate(headers=caller.headers)
    if case.operation.path == "/users/me/token" and response.status_code == 200:
        caller.token = response.json()["token"]


# A viewer creates nothing, so it has no workflow to follow: every link starts at a create.
@pytest.mark.parametrize("caller", ["admin", "api_key"], indirect=True)
def test_workflows(caller: Caller) -> None:
    """Chains of calls along the links schemathesis infers (create, then read, change or
    delete what was created), every check on each answer, schemathesis' engine running them
    as its command line does (a workflow replayed meets the server in another state)."""
    phases = {
        "examples": {"enabled": False},
        "coverage": {"enabled": False},
        "fuzzing": {"enabled": False},
        "stateful": {
            "enabled": True,
            "max-steps": STEPS,
            "generation": {"max-examples": WORKFLOWS},
        },
    }
    loaded = schemathesis.openapi.from_url(
        f"{caller.url}/openapi.json", config=_config(caller, phases)
    )
    # A new token would leave the rest of the workflow with a dead one (the operation is
    # fuzzed above, where the test follows the rotation).
    workflows = loaded.exclude(path="/slack/interactions").exclude(path="/users/me/token")
    failures: list[str] = []
    for event in schemathesis.engine.from_schema(workflows).execute():
        if isinstance(event, events.ScenarioFinished):
            for checks in event.recorder.checks.values():
                failures += [
                    f"{check.name}: {check.failure_info.failure.title}\n"
                    f"{check.failure_info.failure.message}\n{check.failure_info.code_sample}"
                    for check in checks
                    if check.failure_info is not None
                ]
        elif isinstance(event, events.NonFatalError | events.FatalError):
            failures.append(f"error: {event!r}")
    assert not failures, "\n\n".join(dict.fromkeys(failures))
