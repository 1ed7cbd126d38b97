"""Deployment Requests over HTTP: who creates and moves them, slot decisions, `?awaiting=me`,
step ticks, the detail with its progress grid, and what an open request does to a deployment."""

from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest

from tests.support.flows import FORBIDDEN, NOT_FOUND, ROLES, deploy_body, is_utc
from tests.support.stack import Stack

DR_MANAGERS = ("admin", "release_manager", "product", "developer")
REQUEST_FIELDS = {
    "id",
    "name",
    "description",
    "status",
    "created_by",
    "created_by_id",
    "items",
    "environments",
    "approval_slots",
    "pre_steps",
    "post_steps",
    "progress",
    "created_at",
    "updated_at",
    "submitted_at",
    "closed_at",
}


def request_body(**fields: Any) -> dict[str, Any]:
    """A request shipping api 1.4.0 to production, with a qa slot and one step each side."""
    return {
        "name": "release 1.4",
        "description": "the spring release",
        "items": [{"product": "api", "version": "1.4.0"}],
        "environments": ["production"],
        "approval_slots": [{"approval_type": "qa"}],
        "pre_steps": ["announce in #releases"],
        "post_steps": ["watch the dashboards"],
        **fields,
    }


class Requests:
    """Deployment Request calls on one stack."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack

    async def create(self, headers: dict[str, str], **fields: Any) -> dict[str, Any]:
        """A new draft; it must be created."""
        response = await self.stack.http.post(
            "/deployment-requests/", json=request_body(**fields), headers=headers
        )
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    async def move(self, headers: dict[str, str], request_id: str, action: str) -> httpx.Response:
        """Submit, revert, complete or cancel."""
        return await self.stack.http.post(
            f"/deployment-requests/{request_id}/{action}", headers=headers
        )

    async def moved(self, headers: dict[str, str], request_id: str, action: str) -> dict[str, Any]:
        """A move that must succeed."""
        response = await self.move(headers, request_id, action)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def decide(
        self,
        headers: dict[str, str],
        request: dict[str, Any],
        slot: int = 0,
        decision: str = "approve",
        comment: str | None = None,
    ) -> httpx.Response:
        """Decide one of a request's slots (by position)."""
        slot_id = request["approval_slots"][slot]["id"]
        return await self.stack.http.post(
            f"/deployment-requests/{request['id']}/slots/{slot_id}/decision",
            json={"decision": decision, "comment": comment},
            headers=headers,
        )

    async def tick(
        self, headers: dict[str, str], request: dict[str, Any], step_id: str
    ) -> httpx.Response:
        """Tick a step."""
        return await self.stack.http.post(
            f"/deployment-requests/{request['id']}/steps/{step_id}/complete", headers=headers
        )

    async def get(self, request_id: str) -> dict[str, Any]:
        """One request, as the admin sees it."""
        response = await self.stack.http.get(
            f"/deployment-requests/{request_id}", headers=self.stack.admin
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def awaiting(self, headers: dict[str, str]) -> list[str]:
        """The names of the requests `?awaiting=me` lists for the caller."""
        response = await self.stack.http.get(
            "/deployment-requests/", params={"awaiting": "me"}, headers=headers
        )
        assert response.status_code == 200, response.text
        assert response.headers["x-total-count"] == str(len(response.json()))
        return [r["name"] for r in response.json()]


async def deploy(stack: Stack, headers: dict[str, str], **fields: Any) -> httpx.Response:
    """api 1.4.0 to production, started unless told otherwise."""
    return await stack.http.post(
        "/deployment-events/", json=deploy_body(**{"version": "1.4.0", **fields}), headers=headers
    )


def codes(response: httpx.Response) -> list[str]:
    """The codes of a block's violations."""
    assert response.status_code in (409, 428), response.text
    return [v["code"] for v in response.json()["detail"]["details"]["violations"]]


# Creating ----------------------------------------------------------------------------------


@pytest.mark.databases("sqlite")
async def test_create_answers_201_with_a_draft(stack: Stack) -> None:
    token = await stack.user("developer", name="dana")
    response = await stack.http.post(
        "/deployment-requests/",
        json=request_body(
            items=[{"product": "api", "version": "1.4.0"}, {"product": "web", "version": "2.0"}],
            environments=["staging", "production", "staging"],
            approval_slots=[{"approval_type": "qa"}, {"approval_type": "uat", "optional": True}],
        ),
        headers=stack.auth(token),
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == REQUEST_FIELDS
    UUID(body["id"])
    assert (body["name"], body["description"]) == ("release 1.4", "the spring release")
    assert body["status"] == "draft"
    assert body["created_by"] == "dana"
    assert body["items"] == [
        {"product": "api", "version": "1.4.0"},
        {"product": "web", "version": "2.0"},
    ]
    assert body["environments"] == ["staging", "production"]
    qa, uat = body["approval_slots"]
    for slot in (qa, uat):
        UUID(slot["id"])
        assert slot["status"] == "pending"
        assert slot["decided_by"] is slot["decided_role"] is slot["decided_at"] is None
    assert (qa["approval_type"], qa["optional"]) == ("qa", False)
    assert (uat["approval_type"], uat["optional"]) == ("uat", True)
    [pre] = body["pre_steps"]
    [post] = body["post_steps"]
    UUID(pre["id"])
    UUID(post["id"])
    assert pre == {
        "id": pre["id"],
        "text": "announce in #releases",
        "completed_by": None,
        "completed_at": None,
    }
    assert post["text"] == "watch the dashboards"
    assert sorted((c["product"], c["environment"], c["status"]) for c in body["progress"]) == [
        ("api", "production", "not_deployed"),
        ("api", "staging", "not_deployed"),
        ("web", "production", "not_deployed"),
        ("web", "staging", "not_deployed"),
    ]
    assert is_utc(body["created_at"])
    assert body["submitted_at"] is body["closed_at"] is None


@pytest.mark.databases("sqlite")
async def test_who_may_create_a_request(stack: Stack, ci: dict[str, str]) -> None:
    for role in ROLES:
        response = await stack.http.post(
            "/deployment-requests/",
            json=request_body(name=f"by {role}"),
            headers=stack.auth(await stack.user(role)),
        )
        if role in DR_MANAGERS:
            assert response.status_code == 201, (role, response.text)
            assert response.json()["status"] == "draft"
        else:
            assert response.status_code == 403, (role, response.text)
            assert response.json() == FORBIDDEN
    by_key = await stack.http.post(
        "/deployment-requests/", json=request_body(name="by ci"), headers=ci
    )
    assert by_key.status_code == 403, by_key.text
    assert by_key.json() == FORBIDDEN
    listed = await stack.http.get("/deployment-requests", headers=ci)
    assert sorted(r["name"] for r in listed.json()) == sorted(f"by {r}" for r in DR_MANAGERS)


@pytest.mark.databases("sqlite")
async def test_the_list_newest_first_with_a_status_filter(stack: Stack) -> None:
    drs = Requests(stack)
    admin = stack.admin
    first = await drs.create(admin, name="first")
    await drs.create(admin, name="second")
    await drs.moved(admin, first["id"], "submit")
    for path in ("/deployment-requests", "/deployment-requests/"):
        response = await stack.http.get(path, headers=admin)
        assert response.status_code == 200
        assert [r["name"] for r in response.json()] == ["second", "first"]
        assert response.headers["x-total-count"] == "2"
    submitted = await stack.http.get(
        "/deployment-requests/", params={"status": "in_progress"}, headers=admin
    )
    assert [r["name"] for r in submitted.json()] == ["first"]
    assert submitted.headers["x-total-count"] == "1"
    page = await stack.http.get("/deployment-requests/", params={"limit": 1}, headers=admin)
    assert [r["name"] for r in page.json()] == ["second"]
    rest = await stack.http.get(
        "/deployment-requests/", params={"before": page.json()[0]["id"]}, headers=admin
    )
    assert [r["name"] for r in rest.json()] == ["first"]
    bad = await stack.http.get("/deployment-requests/", params={"status": "open"}, headers=admin)
    assert bad.status_code == 422


# Moves -------------------------------------------------------------------------------------


@pytest.mark.databases("sqlite")
async def test_submit_then_approve_then_complete(stack: Stack) -> None:
    drs, admin = Requests(stack), stack.admin
    qa = stack.auth(await stack.user("qa", name="quinn"))
    draft = await drs.create(admin)
    submitted = await drs.moved(admin, draft["id"], "submit")
    assert submitted["status"] == "in_progress"
    assert is_utc(submitted["submitted_at"])
    for action in ("submit", "complete"):
        refused = await drs.move(admin, draft["id"], action)
        assert refused.status_code == 409, (action, refused.text)
        assert refused.json() == {
            "detail": f"Deployment Request release 1.4 is in_progress; it cannot {action}"
        }
    decided = await drs.decide(qa, submitted, comment="regression suite green")
    assert decided.status_code == 200, decided.text
    assert decided.json()["status"] == "approved"
    completed = await drs.moved(admin, draft["id"], "complete")
    assert completed["status"] == "completed"
    assert is_utc(completed["closed_at"])
    for action in ("submit", "revert", "complete", "cancel"):
        assert (await drs.move(admin, draft["id"], action)).status_code == 409, action


@pytest.mark.databases("sqlite")
async def test_submit_without_items_is_422(stack: Stack) -> None:
    drs, admin = Requests(stack), stack.admin
    empty = await drs.create(admin, items=[])
    response = await drs.move(admin, empty["id"], "submit")
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["body", "items"]
    assert (await drs.get(empty["id"]))["status"] == "draft"


@pytest.mark.databases("sqlite")
async def test_revert_and_cancel(stack: Stack) -> None:
    drs, admin = Requests(stack), stack.admin
    qa = stack.auth(await stack.user("qa"))
    draft = await drs.create(admin)
    submitted = await drs.moved(admin, draft["id"], "submit")
    [pre] = submitted["pre_steps"]
    assert (await drs.tick(admin, submitted, pre["id"])).status_code == 200
    rejected = await drs.decide(qa, submitted, decision="reject", comment="flaky login")
    assert rejected.json()["status"] == "rejected"
    assert rejected.json()["approval_slots"][0]["status"] == "rejected"
    assert (await drs.move(admin, draft["id"], "complete")).status_code == 409

    reverted = await drs.moved(admin, draft["id"], "revert")
    assert reverted["status"] == "draft"
    [slot] = reverted["approval_slots"]
    assert (slot["status"], slot["decided_by"], slot["comment"]) == ("pending", None, None)
    assert reverted["pre_steps"][0]["completed_at"] is None
    assert (await drs.move(admin, draft["id"], "revert")).status_code == 409

    # Only a draft changes.
    changed = await stack.http.patch(
        f"/deployment-requests/{draft['id']}",
        json={"environments": ["staging"]},
        headers=admin,
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["environments"] == ["staging"]
    await drs.moved(admin, draft["id"], "submit")
    frozen = await stack.http.patch(
        f"/deployment-requests/{draft['id']}", json={"name": "renamed"}, headers=admin
    )
    assert frozen.status_code == 409, frozen.text

    cancelled = await drs.moved(admin, draft["id"], "cancel")
    assert cancelled["status"] == "cancelled"
    assert is_utc(cancelled["closed_at"])
    for action in ("submit", "revert", "complete", "cancel"):
        assert (await drs.move(admin, draft["id"], action)).status_code == 409, action
    # A draft may be cancelled too.
    other = await drs.create(admin, name="never mind")
    assert (await drs.moved(admin, other["id"], "cancel"))["status"] == "cancelled"


@pytest.mark.databases("sqlite")
async def test_moves_by_roles_that_may_not_and_unknown_requests(
    stack: Stack, ci: dict[str, str]
) -> None:
    drs, admin = Requests(stack), stack.admin
    draft = await drs.create(admin)
    qa = stack.auth(await stack.user("qa"))
    sre = stack.auth(await stack.user("sre"))
    for headers in (qa, sre, ci):
        for action in ("submit", "cancel"):
            response = await drs.move(headers, draft["id"], action)
            assert response.status_code == 403, response.text
            assert response.json() == FORBIDDEN
    assert (await drs.get(draft["id"]))["status"] == "draft"
    # Another manager, not the creator, moves it.
    product = stack.auth(await stack.user("product"))
    assert (await drs.moved(product, draft["id"], "submit"))["status"] == "in_progress"
    for missing in (str(uuid4()), "nope"):
        response = await drs.move(admin, missing, "submit")
        assert response.status_code == 404
        assert response.json() == NOT_FOUND
        got = await stack.http.get(f"/deployment-requests/{missing}", headers=admin)
        assert got.status_code == 404


# Slot decisions ----------------------------------------------------------------------------


@pytest.mark.databases("sqlite")
async def test_qa_approves_a_qa_slot(stack: Stack) -> None:
    drs, admin = Requests(stack), stack.admin
    qa = stack.auth(await stack.user("qa", name="quinn"))
    draft = await drs.create(
        admin,
        approval_slots=[{"approval_type": "qa"}, {"approval_type": "uat", "optional": True}],
    )
    submitted = await drs.moved(admin, draft["id"], "submit")
    response = await drs.decide(qa, submitted, comment="all green")
    assert response.status_code == 200, response.text
    body = response.json()
    qa_slot, uat_slot = body["approval_slots"]
    assert qa_slot["id"] == submitted["approval_slots"][0]["id"]
    assert qa_slot["status"] == "approved"
    assert (qa_slot["decided_by"], qa_slot["decided_role"]) == ("quinn", "qa")
    assert is_utc(qa_slot["decided_at"])
    assert qa_slot["comment"] == "all green"
    # An optional slot left pending does not hold the request back.
    assert uat_slot["status"] == "pending"
    assert body["status"] == "approved"
    again = await drs.decide(qa, submitted)
    assert again.status_code == 409, again.text
    assert again.json() == {"detail": "The qa slot is already approved"}
    # The optional one may still be decided while approved.
    product = stack.auth(await stack.user("product"))
    late = await drs.decide(product, submitted, slot=1)
    assert late.status_code == 200, late.text
    assert late.json()["approval_slots"][1]["status"] == "approved"


@pytest.mark.databases("sqlite")
async def test_who_may_decide_a_slot(stack: Stack, ci: dict[str, str]) -> None:
    drs = Requests(stack)
    creator = stack.auth(await stack.user("admin", name="the-creator"))
    draft = await drs.create(
        creator,
        approval_slots=[
            {"approval_type": "qa"},
            {"approval_type": "performance"},
            {"approval_type": "code_review"},
        ],
    )
    # Deciding a draft's slot is 409 for whoever may decide it.
    qa = stack.auth(await stack.user("qa"))
    assert (await drs.decide(qa, draft)).status_code == 409
    submitted = await drs.moved(creator, draft["id"], "submit")

    # The creator never decides, although an admin fills every type.
    for slot in range(3):
        response = await drs.decide(creator, submitted, slot=slot)
        assert response.status_code == 403, response.text
        assert response.json() == FORBIDDEN
    # Roles that may not fill the type, and API keys.
    refusals = {
        0: ("developer", "sre", "security", "product", "viewer"),
        1: ("developer", "security", "compliance"),
        2: ("qa", "sre", "product"),
    }
    for slot, roles in refusals.items():
        for role in roles:
            response = await drs.decide(stack.auth(await stack.user(role)), submitted, slot=slot)
            assert response.status_code == 403, (slot, role, response.text)
        assert (await drs.decide(ci, submitted, slot=slot)).status_code == 403
    assert all(s["status"] == "pending" for s in (await drs.get(draft["id"]))["approval_slots"])

    assert (await drs.decide(qa, submitted, slot=0)).status_code == 200
    sre = stack.auth(await stack.user("sre"))
    assert (await drs.decide(sre, submitted, slot=1)).status_code == 200
    developer = stack.auth(await stack.user("developer"))
    done = await drs.decide(developer, submitted, slot=2)
    assert done.status_code == 200, done.text
    assert [s["decided_role"] for s in done.json()["approval_slots"]] == [
        "qa",
        "sre",
        "developer",
    ]
    assert done.json()["status"] == "approved"


@pytest.mark.databases("sqlite")
async def test_slot_ids_belong_to_their_request(stack: Stack) -> None:
    drs, admin = Requests(stack), stack.admin
    qa = stack.auth(await stack.user("qa"))
    one = await drs.moved(admin, (await drs.create(admin, name="one"))["id"], "submit")
    two = await drs.moved(admin, (await drs.create(admin, name="two"))["id"], "submit")
    crossed = await stack.http.post(
        f"/deployment-requests/{one['id']}/slots/{two['approval_slots'][0]['id']}/decision",
        json={"decision": "approve"},
        headers=qa,
    )
    assert crossed.status_code == 404
    unknown = await stack.http.post(
        f"/deployment-requests/{one['id']}/slots/{uuid4()}/decision",
        json={"decision": "approve"},
        headers=qa,
    )
    assert unknown.status_code == 404
    bad = await stack.http.post(
        f"/deployment-requests/{one['id']}/slots/{one['approval_slots'][0]['id']}/decision",
        json={"decision": "maybe"},
        headers=qa,
    )
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["body", "decision"]


@pytest.mark.databases("sqlite")
async def test_awaiting_me_lists_what_the_caller_may_decide_now(
    stack: Stack, ci: dict[str, str]
) -> None:
    drs = Requests(stack)
    dev = stack.auth(await stack.user("developer", name="dev-one"))
    other_dev = stack.auth(await stack.user("developer", name="dev-two"))
    qa = stack.auth(await stack.user("qa"))
    security = stack.auth(await stack.user("security"))

    async def submitted(name: str, *types: str) -> dict[str, Any]:
        draft = await drs.create(
            dev, name=name, approval_slots=[{"approval_type": t} for t in types]
        )
        return await drs.moved(dev, draft["id"], "submit")

    await submitted("needs qa", "qa")
    await submitted("needs security", "security")
    await drs.create(dev, name="qa draft")
    decided = await submitted("qa decided", "qa")
    assert (await drs.decide(qa, decided)).json()["status"] == "approved"
    await submitted("code review", "code_review")
    both = await submitted("qa and security", "qa", "security")
    assert (await drs.decide(qa, both)).json()["status"] == "in_progress"
    closed = await submitted("cancelled qa", "qa")
    await drs.moved(dev, closed["id"], "cancel")

    assert await drs.awaiting(qa) == ["needs qa"]
    assert await drs.awaiting(security) == ["qa and security", "needs security"]
    # Its creator never decides it; another developer may.
    assert await drs.awaiting(dev) == []
    assert await drs.awaiting(other_dev) == ["code review"]
    assert await drs.awaiting(stack.admin) == [
        "qa and security",
        "code review",
        "needs security",
        "needs qa",
    ]
    assert await drs.awaiting(ci) == []
    for path in ("/deployment-requests", "/deployment-requests/"):
        bad = await stack.http.get(path, params={"awaiting": "you"}, headers=qa)
        assert bad.status_code == 422


@pytest.mark.databases("sqlite")
async def test_awaiting_me_pages_and_narrows_by_status(stack: Stack) -> None:
    drs = Requests(stack)
    dev = stack.auth(await stack.user("developer"))
    qa = stack.auth(await stack.user("qa"))
    for n in range(5):
        draft = await drs.create(
            dev,
            name=f"release {n}",
            approval_slots=[
                {"approval_type": "qa"},
                {"approval_type": "performance", "optional": True},
            ],
        )
        submitted = await drs.moved(dev, draft["id"], "submit")
        if n == 1:
            approved = await drs.decide(qa, submitted)
            assert approved.json()["status"] == "approved"

    async def names(**params: str) -> tuple[list[str], str]:
        response = await stack.http.get(
            "/deployment-requests/", params={"awaiting": "me", **params}, headers=qa
        )
        assert response.status_code == 200, response.text
        return [r["name"] for r in response.json()], response.headers["x-total-count"]

    # The approved one still has its optional performance slot open, which qa may fill.
    everything, total = await names()
    assert everything == [f"release {n}" for n in (4, 3, 2, 1, 0)]
    assert total == "5"
    first, _ = await names(limit="2")
    assert first == ["release 4", "release 3"]
    listed = await stack.http.get(
        "/deployment-requests/", params={"awaiting": "me", "limit": "2"}, headers=qa
    )
    cursor = listed.json()[-1]["id"]
    assert (await names(limit="2", before=cursor))[0] == ["release 2", "release 1"]
    assert await names(status="approved") == (["release 1"], "1")
    assert await names(status="draft") == ([], "0")
    unknown = await stack.http.get(
        "/deployment-requests/",
        params={"awaiting": "me", "before": str(uuid4())},
        headers=qa,
    )
    assert unknown.status_code == 404


# Steps and the detail ----------------------------------------------------------------------


@pytest.mark.databases("sqlite")
async def test_ticking_steps(stack: Stack) -> None:
    drs, admin = Requests(stack), stack.admin
    dev = stack.auth(await stack.user("developer", name="dana"))
    draft = await drs.create(admin)
    [pre] = draft["pre_steps"]
    [post] = draft["post_steps"]
    assert (await drs.tick(dev, draft, pre["id"])).status_code == 409
    await drs.moved(admin, draft["id"], "submit")
    ticked = await drs.tick(dev, draft, pre["id"])
    assert ticked.status_code == 200, ticked.text
    [done] = ticked.json()["pre_steps"]
    assert (done["id"], done["completed_by"]) == (pre["id"], "dana")
    assert is_utc(done["completed_at"])
    again = await drs.tick(admin, draft, pre["id"])
    assert again.status_code == 409
    assert again.json() == {"detail": "The step was completed by dana already"}
    for role in ("qa", "viewer", "sre"):
        refused = await drs.tick(stack.auth(await stack.user(role)), draft, post["id"])
        assert refused.status_code == 403, role
    assert (await drs.tick(admin, draft, str(uuid4()))).status_code == 404
    assert (await drs.tick(dev, draft, post["id"])).json()["post_steps"][0][
        "completed_by"
    ] == "dana"


async def test_the_detail_shows_slot_and_step_ids_and_the_progress_grid(
    stack: Stack, ci: dict[str, str]
) -> None:
    drs, admin = Requests(stack), stack.admin
    draft = await drs.create(
        admin,
        items=[{"product": "api", "version": "1.4.0"}, {"product": "web", "version": "2.0"}],
        environments=["staging", "production"],
        approval_slots=[{"approval_type": "uat", "optional": True}],
        pre_steps=[],
    )
    await drs.moved(admin, draft["id"], "submit")
    staging = await deploy(stack, ci, environment_name="staging")
    assert staging.status_code == 200, staging.text
    assert (
        await deploy(stack, ci, environment_name="staging", status="success")
    ).status_code == 200
    running = await deploy(stack, ci, product_name="web", version="2.0")
    assert running.status_code == 200, running.text
    failed = await deploy(
        stack, ci, product_name="web", version="2.0", environment_name="staging", status="failed"
    )
    assert failed.status_code == 200, failed.text

    for path in (f"/deployment-requests/{draft['id']}", f"/deployment-requests/{draft['id']}/"):
        response = await stack.http.get(path, headers=ci)
        assert response.status_code == 200, response.text
        detail = response.json()
        assert [s["id"] for s in detail["post_steps"]] == [s["id"] for s in draft["post_steps"]]
        assert [s["id"] for s in detail["approval_slots"]] == [
            s["id"] for s in draft["approval_slots"]
        ]
        cells = {(c["product"], c["environment"]): c for c in detail["progress"]}
        assert {key: cell["status"] for key, cell in cells.items()} == {
            ("api", "staging"): "deployed",
            ("api", "production"): "not_deployed",
            ("web", "staging"): "failed",
            ("web", "production"): "in_progress",
        }
        assert cells[("api", "staging")]["deployment_id"] == staging.json()["id"]
        assert cells[("web", "production")]["deployment_id"] == running.json()["id"]
        assert cells[("api", "production")]["deployment_id"] is None
        assert {(c["version"]) for c in detail["progress"]} == {"1.4.0", "2.0"}


# What an open request does to a deployment ------------------------------------------------


async def test_an_open_request_blocks_until_approved_and_its_steps_are_done(
    stack: Stack, ci: dict[str, str]
) -> None:
    drs, admin = Requests(stack), stack.admin
    dev = stack.auth(await stack.user("developer"))
    qa = stack.auth(await stack.user("qa"))
    draft = await drs.create(dev)
    # A draft covers nothing.
    assert (await deploy(stack, ci)).status_code == 200
    assert (await deploy(stack, ci, status="aborted")).status_code == 200
    submitted = await drs.moved(dev, draft["id"], "submit")

    blocked = await deploy(stack, ci)
    assert codes(blocked) == ["APPROVAL_REQUIRED", "CHECKLIST_INCOMPLETE"]
    detail = blocked.json()["detail"]
    assert blocked.status_code == 428
    assert detail["code"] == "APPROVAL_REQUIRED"
    assert detail["details"]["rule_name"] == "release 1.4"
    approval, checklist = detail["details"]["violations"]
    assert approval["rule_type"] == checklist["rule_type"] == "deployment_request"
    assert approval["details"] == {
        "request_id": draft["id"],
        "request_name": "release 1.4",
        "required_approvals": 1,
        "current_approvals": 0,
        "pending": ["qa"],
        "approver_roles": ["admin", "qa", "release_manager"],
    }
    assert checklist["details"]["pending_steps"] == ["announce in #releases"]
    assert "announce in #releases" in checklist["message"]
    # Other versions and environments are not covered.
    assert (await deploy(stack, ci, environment_name="staging")).status_code == 200

    assert (await drs.decide(qa, submitted)).status_code == 200
    assert codes(await deploy(stack, ci)) == ["CHECKLIST_INCOMPLETE"]
    assert (await drs.tick(dev, submitted, submitted["pre_steps"][0]["id"])).status_code == 200
    through = await deploy(stack, ci)
    assert through.status_code == 200, through.text
    assert (await deploy(stack, ci, status="completed")).status_code == 200
    assert (await drs.moved(admin, draft["id"], "complete"))["status"] == "completed"


@pytest.mark.databases("sqlite")
async def test_a_rejected_request_blocks_until_reverted_or_cancelled(
    stack: Stack, ci: dict[str, str]
) -> None:
    drs = Requests(stack)
    dev = stack.auth(await stack.user("developer"))
    qa = stack.auth(await stack.user("qa"))
    draft = await drs.create(dev, pre_steps=[])
    submitted = await drs.moved(dev, draft["id"], "submit")
    assert (await drs.decide(qa, submitted, decision="reject")).json()["status"] == "rejected"
    blocked = await deploy(stack, ci)
    assert codes(blocked) == ["APPROVAL_REQUIRED"]
    assert "was rejected" in blocked.json()["detail"]["message"]
    assert blocked.json()["detail"]["details"]["rejected"] == ["qa"]
    await drs.moved(dev, draft["id"], "cancel")
    assert (await deploy(stack, ci)).status_code == 200


@pytest.mark.databases("sqlite")
async def test_a_dr_required_rule_is_met_by_a_submitted_request_with_the_slots(
    stack: Stack, ci: dict[str, str]
) -> None:
    drs = Requests(stack)
    rule = await stack.http.post(
        "/deployment-rules/",
        json={
            "name": "prod needs qa and security",
            "rule_type": "dr_required",
            "environments": ["production"],
            "config": {"approval_types": ["qa", "security"]},
        },
        headers=stack.admin,
    )
    assert rule.status_code == 201, rule.text
    blocked = await deploy(stack, ci)
    assert codes(blocked) == ["DR_REQUIRED"]
    assert blocked.json()["detail"]["details"]["approval_types"] == ["qa", "security"]
    assert blocked.json()["detail"]["details"]["rule_name"] == "prod needs qa and security"

    dev = stack.auth(await stack.user("developer"))
    # A request without a security slot does not meet it.
    qa_only = await drs.create(dev, name="qa only", pre_steps=[])
    await drs.moved(dev, qa_only["id"], "submit")
    assert codes(await deploy(stack, ci)) == ["DR_REQUIRED", "APPROVAL_REQUIRED"]
    await drs.moved(dev, qa_only["id"], "cancel")

    both = await drs.create(
        dev,
        name="qa and security",
        pre_steps=[],
        approval_slots=[{"approval_type": "qa"}, {"approval_type": "security"}],
    )
    submitted = await drs.moved(dev, both["id"], "submit")
    # Submitted meets the rule; its own slots still have to be approved.
    assert codes(await deploy(stack, ci)) == ["APPROVAL_REQUIRED"]
    assert (await drs.decide(stack.auth(await stack.user("qa")), submitted)).status_code == 200
    security = stack.auth(await stack.user("security"))
    assert (await drs.decide(security, submitted, slot=1)).json()["status"] == "approved"
    assert (await deploy(stack, ci)).status_code == 200


@pytest.mark.databases("sqlite")
async def test_a_request_without_required_slots_is_approved_when_submitted(
    stack: Stack,
) -> None:
    drs, admin = Requests(stack), stack.admin
    checklist = await drs.create(admin, name="checklist only", approval_slots=[])
    submitted = await drs.moved(admin, checklist["id"], "submit")
    assert submitted["status"] == "approved"
    assert (await drs.move(admin, checklist["id"], "complete")).status_code == 200


@pytest.mark.databases("sqlite")
async def test_rejecting_only_an_optional_slot_does_not_reject_the_request(
    stack: Stack,
) -> None:
    drs, admin = Requests(stack), stack.admin
    dev = stack.auth(await stack.user("developer"))
    draft = await drs.create(
        dev,
        approval_slots=[{"approval_type": "qa"}, {"approval_type": "uat", "optional": True}],
    )
    submitted = await drs.moved(dev, draft["id"], "submit")
    rejected = await drs.decide(admin, submitted, slot=1, decision="reject")
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["status"] == "in_progress"
    assert rejected.json()["approval_slots"][1]["status"] == "rejected"
