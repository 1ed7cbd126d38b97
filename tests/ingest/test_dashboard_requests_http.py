"""The dashboard's Deployment Requests and My tasks: pages, forms, CSRF, roles, errors."""

import re
from collections.abc import AsyncIterator, Awaitable
from typing import Any, Protocol
from uuid import uuid4

import httpx
import pytest

from tests.support.flows import csrf, deploy_body, sign_in, signed_in
from tests.support.stack import Stack


class Browser:
    """One signed-in user's browser: their pages, and their forms posted with the CSRF token."""

    def __init__(self, stack: Stack, client: httpx.AsyncClient, token: str) -> None:
        self.stack = stack
        self.client = client
        self.token = token
        self.csrf = ""

    @property
    def api(self) -> dict[str, str]:
        """This user's bearer headers, to set things up and check them over the JSON API."""
        return self.stack.auth(self.token)

    async def page(self, url: str, status: int = 200) -> str:
        response = await self.client.get(url)
        assert response.status_code == status, response.text
        if status == 200:
            self.csrf = csrf(response.text)
        return response.text

    async def post(self, url: str, data: dict[str, Any] | None = None) -> httpx.Response:
        """A form post with the page's CSRF token."""
        if not self.csrf:
            await self.page("/ui/requests")
        return await self.client.post(url, data={"csrf_token": self.csrf, **(data or {})})

    async def done(self, url: str, data: dict[str, Any] | None = None) -> str:
        """A form post that must work: where it went back to."""
        response = await self.post(url, data)
        assert response.status_code == 303, response.text
        location: str = response.headers["location"]
        return location

    async def create(self, **fields: Any) -> dict[str, Any]:
        """A draft over the API, in this user's name."""
        body = {
            "name": "release 1.4",
            "items": [{"product": "api", "version": "1.4.0"}],
            "environments": ["production"],
            "approval_slots": [{"approval_type": "qa"}],
            "pre_steps": ["announce in #releases"],
            "post_steps": ["watch the dashboards"],
            **fields,
        }
        response = await self.stack.http.post("/deployment-requests/", json=body, headers=self.api)
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    async def read(self, request_id: str) -> dict[str, Any]:
        """A request as the API shows it."""
        response = await self.stack.http.get(
            f"/deployment-requests/{request_id}", headers=self.stack.admin
        )
        assert response.status_code == 200, response.text
        found: dict[str, Any] = response.json()
        return found


class Open(Protocol):
    """Opens a browser for a new user of a role (of a given name: not for the first one)."""

    def __call__(self, role: str, name: str | None = None) -> Awaitable[Browser]: ...


@pytest.fixture
async def browser(stack: Stack) -> AsyncIterator[Open]:
    """Opens a browser for a new user of a role; the first uses the stack's own client."""
    clients: list[httpx.AsyncClient] = []

    async def open_one(role: str, name: str | None = None) -> Browser:
        if not clients:
            assert name is None
            clients.append(stack.http)
            return Browser(stack, stack.http, await signed_in(stack, role))
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=stack.app), base_url="http://ingest.test"
        )
        clients.append(client)
        token = await stack.user(role, name)
        response = await sign_in(client, token, "/ui/")
        assert response.status_code == 303, response.text
        return Browser(stack, client, token)

    yield open_one
    for client in clients[1:]:
        await client.aclose()


def forms(page: str) -> list[str]:
    """Where the page's forms post, sign-out left out."""
    return [a for a in re.findall(r'<form[^>]*action="([^"]+)"', page) if a != "/ui/logout"]


@pytest.mark.databases("sqlite")
async def test_the_create_form_makes_a_draft_and_shows_it(browser: Open) -> None:
    dev = await browser("developer")
    form = await dev.page("/ui/requests/new")
    for field in ("name", "description", "product", "version", "environments", "pre_steps"):
        assert f'name="{field}"' in form
    assert form.count('name="product"') == 5
    assert 'name="slot" value="code_review"' in form
    where = await dev.done(
        "/ui/requests/new",
        {
            "name": "spring release",
            "description": "api and web together",
            "product": ["api", "", "web", ""],
            "version": ["1.4.0", "", "2.0.0", ""],
            "environments": "staging, production\nqa-east",
            "slot": ["qa", "security"],
            "optional": ["security", "uat"],
            "pre_steps": "announce in #releases\n\n freeze merges ",
            "post_steps": "watch the dashboards",
        },
    )
    assert re.fullmatch(r"/ui/requests/[0-9a-f-]{36}", where)
    created = await dev.read(where.rsplit("/", 1)[1])
    assert created["status"] == "draft"
    assert created["items"] == [
        {"product": "api", "version": "1.4.0"},
        {"product": "web", "version": "2.0.0"},
    ]
    assert created["environments"] == ["staging", "production", "qa-east"]
    assert [(s["approval_type"], s["optional"]) for s in created["approval_slots"]] == [
        ("qa", False),
        ("security", True),
    ]
    assert [s["text"] for s in created["pre_steps"]] == ["announce in #releases", "freeze merges"]
    page = await dev.page(where)
    assert "created, in draft" in page  # the flash note
    for shown in ("spring release", "api and web together", "web", "2.0.0", "qa-east", "freeze"):
        assert shown in page
    assert "created, in draft" not in await dev.page(where)  # shown once


@pytest.mark.databases("sqlite")
async def test_the_list_is_newest_first_and_filters_by_status(browser: Open) -> None:
    dev = await browser("developer")
    older = await dev.create(name="older one")
    newer = await dev.create(name="newer one")
    await dev.stack.http.post(f"/deployment-requests/{older['id']}/submit", headers=dev.api)
    page = await dev.page("/ui/requests")
    assert page.index("newer one") < page.index("older one")
    assert f'href="/ui/requests/{newer["id"]}"' in page
    assert 'href="/ui/requests/new"' in page
    drafts = await dev.page("/ui/requests?status=draft")
    assert "newer one" in drafts
    assert "older one" not in drafts
    assert '<option value="draft" selected>' in drafts
    assert "older one" in await dev.page("/ui/requests?status=in_progress")
    refused = await dev.page("/ui/requests?status=shipped", 422)
    assert "status" in refused


@pytest.mark.databases("sqlite")
async def test_moves_follow_the_status_and_each_works_through_its_form(browser: Open) -> None:
    dev = await browser("developer")
    qa = await browser("qa")
    request = await dev.create()
    url = f"/ui/requests/{request['id']}"
    assert forms(await dev.page(url)) == [
        f"{url}/submit",
        f"{url}/cancel",
    ]
    assert await dev.done(f"{url}/submit") == url
    page = await dev.page(url)
    assert "Submitted" in page
    assert f"{url}/revert" in forms(page)
    assert f"{url}/complete" not in forms(page)
    assert f"{url}/submit" not in forms(page)
    slot = request["approval_slots"][0]["id"]
    await qa.done(f"{url}/slots/{slot}/decision", {"decision": "approve", "comment": "green"})
    page = await dev.page(url)
    assert '<span class="badge approved">approved</span>' in page
    assert f"{url}/complete" in forms(page)
    await dev.done(f"{url}/complete")
    assert (await dev.read(request["id"]))["status"] == "completed"
    assert forms(await dev.page(url)) == []


@pytest.mark.databases("sqlite")
async def test_revert_and_cancel_work_through_their_forms(browser: Open) -> None:
    dev = await browser("release_manager")
    request = await dev.create()
    url = f"/ui/requests/{request['id']}"
    await dev.done(f"{url}/submit")
    await dev.done(f"{url}/revert")
    assert (await dev.read(request["id"]))["status"] == "draft"
    await dev.done(f"{url}/cancel")
    assert (await dev.read(request["id"]))["status"] == "cancelled"
    assert forms(await dev.page(url)) == []


@pytest.mark.databases("sqlite")
async def test_a_slot_is_offered_to_its_approvers_only_never_the_creator(browser: Open) -> None:
    dev = await browser("developer")
    qa = await browser("qa")
    security = await browser("security")
    request = await dev.create(
        approval_slots=[{"approval_type": "qa"}, {"approval_type": "code_review"}]
    )
    url = f"/ui/requests/{request['id']}"
    qa_slot, review_slot = (s["id"] for s in request["approval_slots"])
    assert not any("/slots/" in a for a in forms(await qa.page(url)))  # draft: nothing to decide
    await dev.done(f"{url}/submit")
    # The creator is a developer, who fills code_review, yet may not decide their own request.
    assert not any("/slots/" in a for a in forms(await dev.page(url)))
    assert not any("/slots/" in a for a in forms(await security.page(url)))
    assert [a for a in forms(await qa.page(url)) if "/slots/" in a] == [
        f"{url}/slots/{qa_slot}/decision"
    ]
    refused = await dev.post(f"{url}/slots/{review_slot}/decision", {"decision": "approve"})
    assert refused.status_code == 403
    assert "Your role does not allow this." in refused.text
    refused = await security.post(f"{url}/slots/{qa_slot}/decision", {"decision": "approve"})
    assert refused.status_code == 403
    assert all(s["status"] == "pending" for s in (await dev.read(request["id"]))["approval_slots"])
    await qa.done(f"{url}/slots/{qa_slot}/decision", {"decision": "reject", "comment": "flaky"})
    page = await dev.page(url)
    assert '<span class="badge rejected">rejected</span>' in page
    assert "flaky" in page
    assert "(qa)" in page


@pytest.mark.databases("sqlite")
async def test_my_tasks_lists_what_i_may_decide_with_the_forms_inline(browser: Open) -> None:
    dev = await browser("developer")
    qa = await browser("qa")
    mine = await dev.create(name="needs qa")
    other = await dev.create(name="needs security", approval_slots=[{"approval_type": "security"}])
    draft = await dev.create(name="still a draft")
    for request in (mine, other):
        await dev.stack.http.post(f"/deployment-requests/{request['id']}/submit", headers=dev.api)
    tasks = await qa.page("/ui/tasks")
    assert "needs qa" in tasks
    assert "needs security" not in tasks
    assert draft["name"] not in tasks
    slot = mine["approval_slots"][0]["id"]
    action = f"/ui/requests/{mine['id']}/slots/{slot}/decision"
    assert forms(tasks) == [action]
    assert "Nothing waits for you" in await dev.page("/ui/tasks")  # the creator decides nothing
    assert await qa.done(action, {"decision": "approve", "back": "/ui/tasks"}) == "/ui/tasks"
    after = await qa.page("/ui/tasks")
    assert "Approved." in after
    assert "needs qa" not in after
    decided = (await dev.read(mine["id"]))["approval_slots"][0]
    assert decided["status"] == "approved"
    assert decided["comment"] is None


@pytest.mark.databases("sqlite")
async def test_a_namesake_of_the_creator_finds_their_slot_in_my_tasks(browser: Open) -> None:
    dev = await browser("developer")
    me = await dev.stack.http.get("/users/me", headers=dev.api)
    namesake = await browser("qa", me.json()["name"])
    request = await dev.create()
    await dev.stack.http.post(f"/deployment-requests/{request['id']}/submit", headers=dev.api)
    slot = request["approval_slots"][0]["id"]
    action = f"/ui/requests/{request['id']}/slots/{slot}/decision"
    assert forms(await namesake.page("/ui/tasks")) == [action]
    await namesake.done(action, {"decision": "approve", "back": "/ui/tasks"})
    assert (await dev.read(request["id"]))["status"] == "approved"


@pytest.mark.databases("sqlite")
async def test_steps_are_ticked_through_their_form_with_who_and_when(browser: Open) -> None:
    dev = await browser("product")
    viewer = await browser("viewer")
    request = await dev.create()
    url = f"/ui/requests/{request['id']}"
    step = request["pre_steps"][0]["id"]
    tick = f"{url}/steps/{step}/complete"
    assert tick not in forms(await dev.page(url))  # a draft's steps are not open
    await dev.stack.http.post(f"/deployment-requests/{request['id']}/submit", headers=dev.api)
    assert tick in forms(await dev.page(url))
    assert forms(await viewer.page(url)) == []
    refused = await viewer.post(tick)
    assert refused.status_code == 403
    assert (await dev.read(request["id"]))["pre_steps"][0]["completed_at"] is None
    await dev.done(tick)
    ticked = (await dev.read(request["id"]))["pre_steps"][0]
    assert ticked["completed_by"].startswith("product-")
    page = await dev.page(url)
    assert ticked["completed_by"] in page
    assert tick not in forms(page)


@pytest.mark.databases("sqlite")
async def test_a_form_without_the_csrf_token_changes_nothing(browser: Open) -> None:
    dev = await browser("admin")
    request = await dev.create()
    url = f"/ui/requests/{request['id']}"
    step = request["pre_steps"][0]["id"]
    slot = request["approval_slots"][0]["id"]
    posts = {
        "/ui/requests/new": {"name": "sneaky", "product": "api", "version": "1"},
        f"{url}/submit": {},
        f"{url}/cancel": {},
        f"{url}/steps/{step}/complete": {},
        f"{url}/slots/{slot}/decision": {"decision": "approve"},
    }
    for target, data in posts.items():
        for token in (None, "guess"):
            sent = data if token is None else {**data, "csrf_token": token}
            response = await dev.client.post(target, data=sent)
            assert response.status_code == 403, target
    after = await dev.read(request["id"])
    assert after["status"] == "draft"
    assert after["pre_steps"][0]["completed_at"] is None
    listed = await dev.stack.http.get("/deployment-requests/", headers=dev.api)
    assert [r["name"] for r in listed.json()] == ["release 1.4"]


@pytest.mark.databases("sqlite")
async def test_a_role_that_may_not_manage_requests_sees_no_actions_and_is_refused(
    browser: Open,
) -> None:
    dev = await browser("developer")
    qa = await browser("qa")
    request = await dev.create()
    url = f"/ui/requests/{request['id']}"
    listing = await qa.page("/ui/requests")
    assert "release 1.4" in listing
    assert "/ui/requests/new" not in listing
    assert forms(await qa.page(url)) == []
    await qa.page("/ui/requests/new", 403)
    created = await qa.post("/ui/requests/new", {"name": "mine", "product": "api", "version": "1"})
    assert created.status_code == 403
    for move in ("submit", "cancel"):
        assert (await qa.post(f"{url}/{move}")).status_code == 403
    listed = await dev.stack.http.get("/deployment-requests/", headers=dev.api)
    assert [(r["name"], r["status"]) for r in listed.json()] == [("release 1.4", "draft")]


@pytest.mark.databases("sqlite")
async def test_invalid_forms_come_back_as_a_page_naming_the_field(browser: Open) -> None:
    dev = await browser("developer")
    cases: list[tuple[dict[str, Any], str]] = [
        ({"name": " "}, "name"),
        ({"name": "x", "product": ["api"], "version": [""]}, "items 1, version"),
        ({"name": "x", "slot": ["cake"]}, "approval_slots 1, approval_type"),
        ({"name": "x" * 300}, "name"),
    ]
    for data, field in cases:
        response = await dev.post("/ui/requests/new", data)
        assert response.status_code == 422, data
        assert response.headers["content-type"].startswith("text/html")
        assert f"{field}:" in response.text, response.text
    request = await dev.create(items=[])
    url = f"/ui/requests/{request['id']}"
    unsubmittable = await dev.post(f"{url}/submit")
    assert unsubmittable.status_code == 422
    assert "items" in unsubmittable.text
    slot = request["approval_slots"][0]["id"]
    qa = await browser("qa")
    undecided = await qa.post(f"{url}/slots/{slot}/decision", {"decision": "maybe"})
    assert undecided.status_code == 422
    assert "decision:" in undecided.text
    conflict = await dev.post(f"{url}/complete")  # a draft is not approved
    assert conflict.status_code == 409
    assert "draft" in conflict.text
    listed = await dev.stack.http.get("/deployment-requests/", headers=dev.api)
    assert [r["status"] for r in listed.json()] == ["draft"]


@pytest.mark.databases("sqlite")
async def test_unknown_ids_are_404_pages(browser: Open) -> None:
    dev = await browser("admin")
    request = await dev.create()
    url = f"/ui/requests/{request['id']}"
    for missing in ("/ui/requests/not-an-id", f"/ui/requests/{uuid4()}"):
        page = await dev.client.get(missing)
        assert page.status_code == 404
        assert page.headers["content-type"].startswith("text/html")
    await dev.page(url)
    for target in (
        f"/ui/requests/{uuid4()}/submit",
        f"{url}/slots/{uuid4()}/decision",
        f"{url}/slots/nope/decision",
        f"{url}/steps/{uuid4()}/complete",
        f"{url}/launch",
    ):
        response = await dev.post(target, {"decision": "approve"})
        assert response.status_code == 404, target
        assert response.headers["content-type"].startswith("text/html")


@pytest.mark.databases("sqlite")
async def test_the_progress_grid_shows_each_item_in_each_environment(
    browser: Open, ci: dict[str, str]
) -> None:
    dev = await browser("developer")
    request = await dev.create(environments=["staging", "production"])
    sent = await dev.stack.http.post(
        "/deployment-events/",
        json=deploy_body(version="1.4.0", environment_name="staging", status="completed"),
        headers=ci,
    )
    assert sent.status_code == 200, sent.text
    page = await dev.page(f"/ui/requests/{request['id']}")
    staging = re.search(r'data-environment="staging">(.*?)</td>', page, re.S)
    production = re.search(r'data-environment="production">(.*?)</td>', page, re.S)
    assert staging
    assert production
    assert f'href="/ui/deployments/{sent.json()["id"]}"' in staging.group(1)
    assert "deployed" in staging.group(1)
    assert "not deployed" in production.group(1)
