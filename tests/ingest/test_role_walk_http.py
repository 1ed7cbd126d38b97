"""Every operation of the served OpenAPI document, called by every kind of caller, held to
API.md's "Who may do what": no token is 401, a caller the row leaves out is 403 with API.md's
body, a caller it names is neither. An operation without a row fails the walk: nobody adds a
route without deciding who may call it.

Each call gets real records and a valid body (fresh ones where the call changes or uses them
up), so an allowed call really goes through and a forbidden one is refused for its role, not
for its input.
"""

import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from slack_sdk.signature import SignatureVerifier

from tests.support.databases import sqlite_url
from tests.support.flows import FORBIDDEN, ROLES, UNAUTHENTICATED, build_body, deploy_body
from tests.support.receiver import Receiver
from tests.support.stack import NotifierSetup, Stack, memory_stack

NO_TOKEN = "no token"
API_KEY = "API key"
# Between them these split every row from the others (products from environments, rules
# from channels and users, DRs from approvals, fire, listing keys, audit); every role against
# every permission is tests/common/test_roles_table.py's.
CALLERS = (NO_TOKEN, "viewer", "developer", "sre", "security", "release_manager", API_KEY, "admin")
# API.md, approval types: a type each walked role fills (admin and release_manager fill every
# one); viewers and API keys fill none, so they ask for `qa`.
FILLS = {
    "admin": "qa",
    "release_manager": "uat",
    "developer": "code_review",
    "sre": "performance",
    "security": "security",
}
SLACK_SECRET = "slack-signing-secret-for-the-walk"
# Unseen names: the walk's rules, channels and Deployment Requests never touch its events.
ELSEWHERE = "role-walk-elsewhere"


@dataclass(frozen=True)
class Row:
    """A row of API.md's "Who may do what", its roles as API.md writes them; or, where API.md
    is silent, the decision taken (and why, in `action`)."""

    action: str
    roles: str
    public: bool = False

    @property
    def callers(self) -> frozenset[str]:
        """The walked callers the row lets through."""
        if self.public:
            return frozenset(CALLERS)
        named = {
            r for r in ROLES if "every role" in self.roles or re.search(rf"\b{r}\b", self.roles)
        }
        if "API keys" in self.roles:
            named.add(API_KEY)
        return frozenset(named)


READ = Row("read catalog, state, deployments, rules, DRs, versions", "every role, API keys")
SEND_EVENTS = Row("send events", "API keys; users: admin, release_manager, developer, sre")
EDIT_PRODUCTS = Row("edit products", "admin, release_manager")
EDIT_ENVIRONMENTS = Row("edit environments", "admin, release_manager, sre")
RULES = Row("rules, deployment buttons, overrides", "admin, release_manager, sre")
CHANNELS = Row("notification channels", "admin, sre")
DRS = Row(
    "DR create / submit / revert / cancel / complete, tick steps",
    "admin, release_manager, product, developer",
)
DECIDE = Row(
    "decide a DR slot",
    "a role that may fill its approval type (admin, release_manager: every type; product: uat; "
    "qa: qa, performance; sre: performance; security; developer: code_review; compliance), "
    "never the DR's creator",
)
APPROVE = Row(
    "approve a version",
    "a role that may fill the type: admin, release_manager, product, sre, qa, security, compliance",
)
OVERRIDES = Row(
    "rules, deployment buttons, overrides: a break-glass deployment", "admin, release_manager, sre"
)
FIRE = Row("fire a deployment button", "admin, release_manager, developer, sre")
USERS = Row("users, API keys", "admin")
LIST_KEYS = Row("users, API keys: listing keys", "admin (developer may list keys)")
AUDIT = Row("audit log", "admin, release_manager, security, compliance")
PUBLIC = Row(
    "public: /health, /health/live, /docs, /redoc, /openapi.json, POST /users/redeem",
    "anyone, no token",
    public=True,
)
SLACK = Row("Slack interactivity: Slack-signed instead of a token", "anyone", public=True)
# API.md is silent on the rows below; the decisions, and why.
OWN_ACCOUNT = Row(
    "any signed-in user (own account): /users/me and rotating one's token are every user's; "
    "API keys do 'nothing else' than send and read",
    "every role",
)
EVENT_FATE = Row(
    "read an event's fate: API keys read their own events; users read what events made, so "
    "they read events too",
    "every role, API keys",
)
ABORT = Row(
    "abort a stuck deployment: closing a deployment as aborted is what an `aborted` event "
    "does, so who may send events",
    "API keys; users: admin, release_manager, developer, sre",
)
INSIGHTS = Row("insights: the DORA keys, the gate, incidents", "every role, API keys")
READ_BUTTONS = Row(
    "read deployment buttons, their firings and previews: every person (they deploy with "
    "them); not API keys, which read only what API.md lists",
    "every role",
)


@dataclass(frozen=True)
class Call:
    """One request of the walk: path parameters beyond the world's ids, a body, and whether
    the caller uses a credential of their own kind made for this call."""

    params: Mapping[str, str] = field(default_factory=dict)
    json: Any = None
    content: bytes | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    fresh_credential: bool = False


def unique(prefix: str) -> str:
    """A name no other call of the walk uses."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


class World:
    """The records the walk calls on, and fresh ones for calls that change or use them up."""

    def __init__(self, stack: Stack, receiver: Receiver) -> None:
        self.stack = stack
        self.receiver = receiver
        self.headers: dict[str, dict[str, str]] = {NO_TOKEN: {}}
        self.ids: dict[str, str] = {}
        self.owner: dict[str, str] = {}

    async def ok(
        self, method: str, url: str, body: Any = None, headers: Mapping[str, str] | None = None
    ) -> Any:
        """A setup call (the admin's by default) that must succeed; its body."""
        response = await self.stack.http.request(
            method, url, json=body, headers=headers or self.stack.admin
        )
        assert response.is_success, (method, url, response.status_code, response.text)
        return response.json()

    async def setup(self) -> None:
        """Callers, and one record of every kind the paths name."""
        for caller in CALLERS:
            if caller != NO_TOKEN:
                self.headers[caller] = await self.credential(caller)
        self.owner = self.stack.auth(await self.stack.user("release_manager"))
        built = await self.ok("POST", "/build-events/", build_body(), self.headers[API_KEY])
        deployed = await self.ok("POST", "/deployment-events/", deploy_body(status="completed"))
        target = await self.ok("POST", "/users/", {"name": unique("target"), "role": "viewer"})
        rule = await self.ok("POST", "/deployment-rules/", self.rule())
        request = await self.ok("POST", "/deployment-requests/", self.request(), self.owner)
        channel = await self.ok("POST", "/notification-channels/", self.channel())
        button = await self.ok("POST", "/deployment-buttons/", self.button("production"))
        self.ids = {
            "event_id": built["id"],
            "product_id": built["product_id"],
            "ref": "api",
            "environment_id": deployed["environment_id"],
            "version_id": built["version_id"],
            "product": "api",
            "version": "1.0.0",
            "deployment_id": deployed["id"],
            "user_id": target["id"],
            "rule_id": rule["id"],
            "request_id": request["id"],
            "channel_id": channel["id"],
            "button_id": button["id"],
        }

    async def credential(self, caller: str) -> dict[str, str]:
        """Headers of a new credential of the caller's kind."""
        if caller == NO_TOKEN:
            return {}
        if caller == API_KEY:
            return self.stack.auth(await self.stack.api_key(unique("ci")))
        return self.stack.auth(await self.stack.user(caller))

    def rule(self) -> dict[str, Any]:
        """A report-only freeze over products nobody deploys."""
        return {
            "name": unique("walk freeze"),
            "rule_type": "schedule",
            "mode": "report_only",
            "products": [ELSEWHERE],
            "config": {
                "kind": "deny",
                "timezone": "Europe/Berlin",
                "windows": [{"start": "2026-12-23T00:00", "end": "2027-01-02T00:00"}],
            },
        }

    def request(self, **fields: Any) -> dict[str, Any]:
        """A draft Deployment Request for a version nobody deploys."""
        return {
            "name": unique("walk release"),
            "items": [{"product": ELSEWHERE, "version": "9.9.9"}],
            "environments": [ELSEWHERE],
            **fields,
        }

    def channel(self) -> dict[str, Any]:
        """A webhook channel to the receiver, for products nobody deploys."""
        return {
            "name": unique("walk hook"),
            "kind": "webhook",
            "config": {"url": self.receiver.url("/hook"), "secret": "whsec-" + "w" * 24},
            "events": ["build.completed"],
            "filters": {"products": [ELSEWHERE], "environments": []},
        }

    def button(self, environment: str) -> dict[str, Any]:
        """A webhook button of `api`, posting to the receiver."""
        return {
            "product": "api",
            "environments": [environment],
            "kind": "webhook",
            "url_template": self.receiver.url("/deploy?version={vi_version}"),
            "secret": "btn-" + "b" * 24,
        }

    async def new_request(self, *, submit: bool = False, **fields: Any) -> dict[str, Any]:
        """A new Deployment Request (the owner's, so no walked caller is its creator)."""
        created: dict[str, Any] = await self.ok(
            "POST", "/deployment-requests/", self.request(**fields), self.owner
        )
        if submit:
            created = await self.ok(
                "POST", f"/deployment-requests/{created['id']}/submit", headers=self.owner
            )
        return created

    # Calls, one function per operation that needs more than the world's ids.

    async def new_rule_body(self, caller: str) -> Call:
        return Call(json=self.rule())

    async def rule_mode(self, caller: str) -> Call:
        return Call(json={"mode": "report_only"})

    async def fresh_rule(self, caller: str) -> Call:
        rule = await self.ok("POST", "/deployment-rules/", self.rule())
        return Call({"rule_id": rule["id"]})

    async def new_request_body(self, caller: str) -> Call:
        return Call(json=self.request())

    async def request_description(self, caller: str) -> Call:
        return Call(json={"description": f"walked by {caller}"})

    async def fresh_draft(self, caller: str) -> Call:
        return Call({"request_id": (await self.new_request())["id"]})

    async def fresh_in_progress(self, caller: str) -> Call:
        slots = [{"approval_type": "qa"}]
        return Call(
            {"request_id": (await self.new_request(submit=True, approval_slots=slots))["id"]}
        )

    async def fresh_approved(self, caller: str) -> Call:
        # No slot: nothing to wait for, approved on submission.
        return Call({"request_id": (await self.new_request(submit=True))["id"]})

    async def fresh_slot(self, caller: str) -> Call:
        slots = [{"approval_type": FILLS.get(caller, "qa")}]
        request = await self.new_request(submit=True, approval_slots=slots)
        return Call(
            {"request_id": request["id"], "slot_id": request["approval_slots"][0]["id"]},
            json={"decision": "approve", "comment": "walked"},
        )

    async def fresh_step(self, caller: str) -> Call:
        request = await self.new_request(submit=True, pre_steps=["announce it"])
        return Call({"request_id": request["id"], "step_id": request["pre_steps"][0]["id"]})

    async def approval_body(self, caller: str) -> Call:
        return Call(json={"approval_type": FILLS.get(caller, "qa"), "comment": "walked"})

    async def fresh_approval(self, caller: str) -> Call:
        # Revoked by its approver or by a role that fills its type: one the caller fills.
        approval = await self.ok(
            "POST",
            f"/versions/{self.ids['version_id']}/approvals",
            {"approval_type": FILLS.get(caller, "qa")},
        )
        return Call({"approval_id": approval["id"]})

    async def product_description(self, caller: str) -> Call:
        # A change names the product by id.
        body = {"description": f"walked by {caller}"}
        return Call({"ref": self.ids["product_id"]}, json=body)

    async def environment_description(self, caller: str) -> Call:
        body = {"description": f"walked by {caller}"}
        return Call({"ref": self.ids["environment_id"]}, json=body)

    async def fresh_started_deployment(self, caller: str) -> Call:
        started = await self.ok(
            "POST", "/deployment-events/", deploy_body(environment_name=unique("abort"))
        )
        return Call({"deployment_id": started["id"]})

    async def break_glass(self, caller: str) -> Call:
        body = deploy_body(environment_name=unique("glass"), override_reason="walked")
        return Call(json=body)

    async def break_glass_in_metadata(self, caller: str) -> Call:
        # What Versioner's own clients can send: metadata only.
        body = deploy_body(
            environment_name=unique("glass"), extra_metadata={"override_reason": "walked"}
        )
        return Call(json=body)

    async def production(self, caller: str) -> Call:
        return Call({"ref": "production"})

    async def build_event(self, caller: str) -> Call:
        return Call(json=build_body())

    async def deployment_event(self, caller: str) -> Call:
        return Call(json=deploy_body(status="completed"))

    async def incident_event(self, caller: str) -> Call:
        body = deploy_body()
        return Call(
            json={
                "product_name": body["product_name"],
                "environment_name": body["environment_name"],
                "incident_id": unique("INC"),
                "status": "opened",
                "title": "Checkout is slow",
            }
        )

    async def new_user_body(self, caller: str) -> Call:
        return Call(json={"name": unique("invited"), "role": "viewer"})

    async def fresh_invite(self, caller: str) -> Call:
        invited = await self.ok("POST", "/users/", {"name": unique("invited"), "role": "viewer"})
        return Call(json={"invite_token": invited["invite_token"]})

    async def own_token(self, caller: str) -> Call:
        # Rotating a token retires it: the caller's kind, a credential of its own.
        return Call(fresh_credential=True)

    async def user_email(self, caller: str) -> Call:
        return Call(json={"email": "walked@example.com"})

    async def new_key_body(self, caller: str) -> Call:
        return Call(json={"name": unique("ci")})

    async def fresh_key(self, caller: str) -> Call:
        created = await self.ok("POST", "/api-keys/", {"name": unique("ci")})
        return Call({"key_id": created["id"]})

    async def new_channel_body(self, caller: str) -> Call:
        return Call(json=self.channel())

    async def channel_events(self, caller: str) -> Call:
        return Call(json={"events": ["build.completed", "build.failed"]})

    async def fresh_channel(self, caller: str) -> Call:
        channel = await self.ok("POST", "/notification-channels/", self.channel())
        return Call({"channel_id": channel["id"]})

    async def new_button_body(self, caller: str) -> Call:
        return Call(json=self.button(unique("env")))

    async def button_label(self, caller: str) -> Call:
        return Call(json={"label": "Ship it"})

    async def fresh_button(self, caller: str) -> Call:
        button = await self.ok("POST", "/deployment-buttons/", self.button(unique("env")))
        return Call({"button_id": button["id"]})

    async def target(self, caller: str) -> Call:
        return Call(json={"version": "1.0.0", "environment": "production"})

    async def slack_click(self, caller: str) -> Call:
        body = b"payload=%7B%7D"
        timestamp = str(int(time.time()))
        signature = SignatureVerifier(SLACK_SECRET).generate_signature(
            timestamp=timestamp, body=body
        )
        assert signature is not None
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": signature,
        }
        return Call(content=body, headers=headers)


Prepare = Callable[[World, str], Awaitable[Call]]


async def _ids_only(world: World, caller: str) -> Call:
    return Call()


@dataclass(frozen=True)
class Op:
    """An operation's row, and how the walk calls it (the world's ids by default)."""

    row: Row
    prepare: Prepare = _ids_only


W = World
# Every operation the gateway serves ("METHOD /path" as in /openapi.json) → its row.
OPERATIONS: dict[str, Op] = {
    "POST /build-events": Op(SEND_EVENTS, W.build_event),
    "POST /deployment-events": Op(SEND_EVENTS, W.deployment_event),
    "GET /events/{event_id}": Op(EVENT_FATE),
    "POST /deployment-rules": Op(RULES, W.new_rule_body),
    "GET /deployment-rules": Op(READ),
    # The violations log (blocked attempts) is read with the rules it names.
    "GET /deployment-rules/violations": Op(READ),
    "GET /deployment-rules/{rule_id}": Op(READ),
    "PATCH /deployment-rules/{rule_id}": Op(RULES, W.rule_mode),
    "DELETE /deployment-rules/{rule_id}": Op(RULES, W.fresh_rule),
    "GET /deployment-rules/{rule_id}/windows": Op(READ),
    "POST /deployment-requests": Op(DRS, W.new_request_body),
    "GET /deployment-requests": Op(READ),
    "GET /deployment-requests/{request_id}": Op(READ),
    # API.md is silent on editing a draft: whoever may create one may shape it.
    "PATCH /deployment-requests/{request_id}": Op(DRS, W.request_description),
    "POST /deployment-requests/{request_id}/submit": Op(DRS, W.fresh_draft),
    "POST /deployment-requests/{request_id}/revert": Op(DRS, W.fresh_in_progress),
    "POST /deployment-requests/{request_id}/complete": Op(DRS, W.fresh_approved),
    "POST /deployment-requests/{request_id}/cancel": Op(DRS, W.fresh_draft),
    "POST /deployment-requests/{request_id}/slots/{slot_id}/decision": Op(DECIDE, W.fresh_slot),
    "POST /deployment-requests/{request_id}/steps/{step_id}/complete": Op(DRS, W.fresh_step),
    "POST /versions/{version_id}/approvals": Op(APPROVE, W.approval_body),
    # A version's sign-offs are read with the version.
    "GET /versions/{version_id}/approvals": Op(READ),
    # API.md: `DELETE` revokes; revoking a sign-off is the approver's row.
    "DELETE /versions/{version_id}/approvals/{approval_id}": Op(APPROVE, W.fresh_approval),
    "POST /versions/{product}/{version}/approvals": Op(APPROVE, W.approval_body),
    "GET /versions/{product}/{version}/approvals": Op(READ),
    "DELETE /versions/{product}/{version}/approvals/{approval_id}": Op(APPROVE, W.fresh_approval),
    "GET /products": Op(READ),
    "GET /products/{ref}": Op(READ),
    "PATCH /products/{ref}": Op(EDIT_PRODUCTS, W.product_description),
    "GET /environments": Op(READ),
    "GET /environments/{ref}": Op(READ, W.production),
    "PATCH /environments/{ref}": Op(EDIT_ENVIRONMENTS, W.environment_description),
    "GET /versions": Op(READ),
    "GET /versions/{version_id}": Op(READ),
    "GET /deployments": Op(READ),
    "GET /deployments/{deployment_id}": Op(READ),
    "POST /deployments/{deployment_id}/abort": Op(ABORT, W.fresh_started_deployment),
    "GET /state": Op(READ),
    "POST /users": Op(USERS, W.new_user_body),
    "GET /users": Op(USERS),
    "POST /users/redeem": Op(PUBLIC, W.fresh_invite),
    "GET /users/me": Op(OWN_ACCOUNT),
    "POST /users/me/token": Op(OWN_ACCOUNT, W.own_token),
    # API.md lists no `GET /users/{id}`: another user is the admin's to read (oneself is
    # `/users/me`); the walk reads a third user.
    "GET /users/{user_id}": Op(USERS),
    "PATCH /users/{user_id}": Op(USERS, W.user_email),
    "POST /api-keys": Op(USERS, W.new_key_body),
    "GET /api-keys": Op(LIST_KEYS),
    "DELETE /api-keys/{key_id}": Op(USERS, W.fresh_key),
    "GET /audit": Op(AUDIT),
    "GET /insights/dora": Op(INSIGHTS),
    "GET /insights/gate": Op(INSIGHTS),
    "POST /incident-events": Op(SEND_EVENTS, W.incident_event),
    "GET /incidents": Op(INSIGHTS),
    "POST /notification-channels": Op(CHANNELS, W.new_channel_body),
    "GET /notification-channels": Op(CHANNELS),
    "GET /notification-channels/{channel_id}": Op(CHANNELS),
    "PATCH /notification-channels/{channel_id}": Op(CHANNELS, W.channel_events),
    "DELETE /notification-channels/{channel_id}": Op(CHANNELS, W.fresh_channel),
    "POST /notification-channels/{channel_id}/test": Op(CHANNELS),
    "GET /notification-channels/{channel_id}/deliveries": Op(CHANNELS),
    "POST /deployment-buttons": Op(RULES, W.new_button_body),
    "GET /deployment-buttons": Op(READ_BUTTONS),
    "GET /deployment-buttons/{button_id}": Op(READ_BUTTONS),
    "PATCH /deployment-buttons/{button_id}": Op(RULES, W.button_label),
    "DELETE /deployment-buttons/{button_id}": Op(RULES, W.fresh_button),
    "POST /deployment-buttons/{button_id}/preview": Op(READ_BUTTONS, W.target),
    "POST /deployment-buttons/{button_id}/fire": Op(FIRE, W.target),
    "GET /deployment-buttons/{button_id}/firings": Op(READ_BUTTONS),
    "POST /slack/interactions": Op(SLACK, W.slack_click),
    "GET /health/live": Op(PUBLIC),
    "GET /health": Op(PUBLIC),
    "GET /openapi.json": Op(PUBLIC),
    "GET /docs": Op(PUBLIC),
    "GET /redoc": Op(PUBLIC),
}
# Public pages API.md names that the OpenAPI document does not list: walked all the same.
UNLISTED = ("GET /openapi.json", "GET /docs", "GET /redoc")
# Calls of an operation that another row governs, for what their body asks.
VARIANTS: dict[str, tuple[Op, ...]] = {
    "POST /deployment-events": (
        Op(OVERRIDES, W.break_glass),
        Op(OVERRIDES, W.break_glass_in_metadata),
    ),
}


async def served_operations(stack: Stack) -> list[str]:
    """Every operation of the served OpenAPI document, as "METHOD /path" (dashboard pages
    left out: they answer with a session cookie, not a token)."""
    response = await stack.http.get("/openapi.json")
    assert response.status_code == 200, response.text
    return [
        f"{method.upper()} {path}"
        for path, operations in response.json()["paths"].items()
        if not path.startswith("/ui/")
        for method in operations
        if method in {"get", "post", "put", "patch", "delete"}
    ]


def filled(path: str, params: Mapping[str, str]) -> str:
    """A path template with its parameters filled (a parameter nobody knows: a random id)."""
    return re.sub(r"\{(\w+)\}", lambda m: params.get(m.group(1), str(uuid.uuid4())), path)


def _body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text


def mismatch(row: Row, caller: str, response: httpx.Response) -> str | None:
    """What is wrong with an answer to a caller, held to the row; None when it is right."""
    status = response.status_code
    got = f"got {status} {response.text[:200]}"
    if status == 422:
        got += " (does the walk send this operation a valid body?)"
    if caller == NO_TOKEN and not row.public:
        if status != 401 or _body(response) != UNAUTHENTICATED:
            return f"no token must be 401 {UNAUTHENTICATED}, {got}"
        return None
    if caller not in row.callers:
        if status != 403 or _body(response) != FORBIDDEN:
            return f"{caller} is not in '{row.roles}': must be 403 {FORBIDDEN}, {got}"
        return None
    if status in (401, 403) or status >= 500:
        return f"{caller} is in '{row.roles}': must go through, {got}"
    return None


@pytest.fixture
async def walked(tmp_path: Path, receiver: Receiver) -> AsyncIterator[World]:
    """The stack in memory with the notifier and Slack interactivity, on SQLite, its records
    and callers made."""
    setup = NotifierSetup(database_url=f"sqlite+aiosqlite:///{tmp_path / 'notifier.db'}")
    async with memory_stack(
        sqlite_url(tmp_path), notifier=setup, slack_signing_secret=SLACK_SECRET
    ) as stack:
        world = World(stack, receiver)
        await world.setup()
        yield world


@pytest.mark.databases("sqlite")
async def test_every_served_operation_has_a_row(stack: Stack) -> None:
    served = await served_operations(stack)
    unmapped = [operation for operation in served if operation not in OPERATIONS]
    gone = [o for o in {*OPERATIONS, *VARIANTS} if o not in served and o not in UNLISTED]
    assert not unmapped, (
        "operations without a row of API.md's role table: add each to OPERATIONS in "
        f"{Path(__file__).name}, deciding who may call it: {unmapped}"
    )
    assert not gone, f"OPERATIONS names operations the gateway no longer serves: {gone}"


async def test_every_caller_gets_what_the_role_table_says(walked: World) -> None:
    mismatches: list[str] = []
    walks = 0
    for operation in [*await served_operations(walked.stack), *UNLISTED]:
        if operation not in OPERATIONS:
            continue  # test_every_served_operation_has_a_row names it
        method, path = operation.split(" ", 1)
        for op in (OPERATIONS[operation], *VARIANTS.get(operation, ())):
            for caller in CALLERS:
                call = await op.prepare(walked, caller)
                credential = (
                    await walked.credential(caller)
                    if call.fresh_credential
                    else walked.headers[caller]
                )
                response = await walked.stack.http.request(
                    method,
                    filled(path, {**walked.ids, **call.params}),
                    json=call.json,
                    content=call.content,
                    headers={**credential, **call.headers},
                )
                walks += 1
                if (wrong := mismatch(op.row, caller, response)) is not None:
                    mismatches.append(f"{operation} [{op.row.action}] as {caller}: {wrong}")
    walked_all = sum(1 + len(VARIANTS.get(o, ())) for o in OPERATIONS) * len(CALLERS)
    assert walks == walked_all, "OPERATIONS names operations not served: see the test above"
    assert not mismatches, (
        f"{len(mismatches)} of {walks} calls disagree with API.md:\n" + "\n".join(mismatches)
    )
