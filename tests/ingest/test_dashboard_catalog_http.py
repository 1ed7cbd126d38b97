"""The dashboard's catalog over HTTP: products, environments, versions, sign-offs, buttons."""

import html
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest

from tests.support.databases import sqlite_url
from tests.support.flows import build_body, csrf, deploy_body, signed_in
from tests.support.receiver import Receiver
from tests.support.stack import NotifierSetup, Stack, memory_stack


@pytest.fixture
async def notified_stack(tmp_path: Path) -> AsyncIterator[Stack]:
    """The stack in memory with the notifier (for deployment buttons), on SQLite."""
    setup = NotifierSetup(database_url=f"sqlite+aiosqlite:///{tmp_path / 'notifier.db'}")
    async with memory_stack(sqlite_url(tmp_path), notifier=setup) as running:
        yield running


async def deployed(stack: Stack, ci: dict[str, str], version: str = "1.0.0", **fields: Any) -> Any:
    """Build `version` of api and deploy it to staging; the deployment."""
    built = await stack.http.post(
        "/build-events/",
        json=build_body(version=version, scm_sha="abc123def456789", build_number="42", **fields),
        headers=ci,
    )
    assert built.status_code in (200, 201), built.text
    body = deploy_body(version=version, environment_name="staging", status="completed")
    sent = await stack.http.post("/deployment-events/", json=body, headers=ci)
    assert sent.status_code in (200, 201), sent.text
    return sent.json()


async def page(stack: Stack, url: str) -> str:
    response = await stack.http.get(url)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    return html.unescape(response.text)


async def product_json(stack: Stack, ref: str) -> Any:
    response = await stack.http.get(f"/products/{ref}", headers=stack.admin)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.databases("sqlite")
async def test_products_list_and_detail_show_builds_deployments_and_no_form_to_a_viewer(
    stack: Stack, ci: dict[str, str]
) -> None:
    deployment = await deployed(stack, ci)
    await stack.http.post("/build-events/", json=build_body(product_name="web"), headers=ci)
    await signed_in(stack, "viewer")
    listing = await page(stack, "/ui/products")
    product_id = deployment["product_id"]
    assert f'href="/ui/products/{product_id}">api</a>' in listing
    assert listing.index(">web</a>") < listing.index(">api</a>")  # newest first
    detail = await page(stack, f"/ui/products/{product_id}")
    assert f'href="/ui/versions/{deployment["version_id"]}">1.0.0</a>' in detail
    assert "abc123def456" in detail
    assert f'href="/ui/deployments/{deployment["id"]}"' in detail
    assert "api 1.0.0 → staging" in detail
    assert f'action="/ui/products/{product_id}"' not in detail


@pytest.mark.databases("sqlite")
async def test_a_release_manager_renames_a_product_and_its_old_name_still_resolves(
    stack: Stack, ci: dict[str, str]
) -> None:
    product_id = (await deployed(stack, ci))["product_id"]
    await signed_in(stack, "release_manager")
    detail = await page(stack, f"/ui/products/{product_id}")
    assert f'action="/ui/products/{product_id}"' in detail
    done = await stack.http.post(
        f"/ui/products/{product_id}",
        data={"csrf_token": csrf(detail), "name": "api-gateway", "description": "The front door"},
    )
    assert done.status_code == 303, done.text
    assert done.headers["location"] == f"/ui/products/{product_id}"
    after = await page(stack, f"/ui/products/{product_id}")
    assert 'class="flash"' in after
    assert "<h1>api-gateway</h1>" in after
    assert "The front door" in after
    assert "Earlier names</dt><dd>api</dd>" in after
    assert (await product_json(stack, "api"))["name"] == "api-gateway"
    versions = await page(stack, "/ui/versions?product=api")
    assert ">api-gateway</a>" in versions
    assert ">1.0.0</a>" in versions


@pytest.mark.databases("sqlite")
async def test_a_form_without_its_csrf_token_changes_nothing(
    stack: Stack, ci: dict[str, str]
) -> None:
    deployment = await deployed(stack, ci)
    await signed_in(stack, "admin")
    product_id, environment_id = deployment["product_id"], deployment["environment_id"]
    for url, form in (
        (f"/ui/products/{product_id}", {"name": "renamed"}),
        (f"/ui/environments/{environment_id}", {"name": "renamed", "type": "staging"}),
        (f"/ui/versions/{deployment['version_id']}/approvals", {"approval_type": "qa"}),
    ):
        refused = await stack.http.post(url, data=form)
        assert refused.status_code == 403, url
        forged = await stack.http.post(url, data={**form, "csrf_token": "guess"})
        assert forged.status_code == 403, url
    assert (await product_json(stack, product_id))["name"] == "api"
    environment = await stack.http.get(f"/environments/{environment_id}", headers=stack.admin)
    assert environment.json()["name"] == "staging"
    approvals = await stack.http.get(
        f"/versions/{deployment['version_id']}/approvals", headers=stack.admin
    )
    assert approvals.json() == []


@pytest.mark.databases("sqlite")
async def test_a_role_that_may_not_edit_sees_no_form_and_is_refused(
    stack: Stack, ci: dict[str, str]
) -> None:
    deployment = await deployed(stack, ci)
    product_id, environment_id = deployment["product_id"], deployment["environment_id"]
    await signed_in(stack, "developer")
    detail = await page(stack, f"/ui/products/{product_id}")
    assert f'action="/ui/products/{product_id}"' not in detail
    environment = await page(stack, f"/ui/environments/{environment_id}")
    assert f'action="/ui/environments/{environment_id}"' not in environment
    token = csrf(detail)
    refused = await stack.http.post(
        f"/ui/products/{product_id}", data={"csrf_token": token, "name": "mine"}
    )
    assert refused.status_code == 403
    assert "Your role does not allow this." in refused.text
    retyped = await stack.http.post(
        f"/ui/environments/{environment_id}",
        data={"csrf_token": token, "name": "staging", "type": "production"},
    )
    assert retyped.status_code == 403
    assert (await product_json(stack, product_id))["name"] == "api"
    shown = await stack.http.get(f"/environments/{environment_id}", headers=stack.admin)
    assert shown.json()["type"] == "staging"


@pytest.mark.databases("sqlite")
async def test_invalid_forms_come_back_as_a_page_naming_the_field(
    stack: Stack, ci: dict[str, str]
) -> None:
    deployment = await deployed(stack, ci)
    await signed_in(stack, "admin")
    token = csrf(await page(stack, "/ui/products"))
    cases = [
        (f"/ui/products/{deployment['product_id']}", {"name": ""}, "name:"),
        (
            f"/ui/environments/{deployment['environment_id']}",
            {"name": "staging", "type": "moon"},
            "type:",
        ),
        (
            f"/ui/versions/{deployment['version_id']}/approvals",
            {"approval_type": "vibes"},
            "approval_type:",
        ),
    ]
    for url, form, field in cases:
        response = await stack.http.post(url, data={"csrf_token": token, **form})
        assert response.status_code == 422, url
        assert response.headers["content-type"].startswith("text/html")
        assert field in response.text, response.text
    assert (await product_json(stack, "api"))["name"] == "api"


@pytest.mark.databases("sqlite")
async def test_a_taken_name_is_refused_with_its_reason(stack: Stack, ci: dict[str, str]) -> None:
    product_id = (await deployed(stack, ci))["product_id"]
    await stack.http.post("/build-events/", json=build_body(product_name="web"), headers=ci)
    await signed_in(stack, "admin")
    token = csrf(await page(stack, "/ui/products"))
    clash = await stack.http.post(
        f"/ui/products/{product_id}", data={"csrf_token": token, "name": "web"}
    )
    assert clash.status_code == 409
    assert "The name web is taken" in clash.text


@pytest.mark.databases("sqlite")
async def test_unknown_ids_are_404_pages(stack: Stack) -> None:
    await signed_in(stack, "admin")
    token = csrf(await page(stack, "/ui/products"))
    for url in (
        f"/ui/products/{uuid4()}",
        "/ui/products/not-an-id",
        f"/ui/environments/{uuid4()}",
        "/ui/environments/staging",
        f"/ui/versions/{uuid4()}",
        "/ui/versions/1.0.0",
        f"/ui/versions/{uuid4()}/buttons/{uuid4()}/open?environment=staging",
    ):
        response = await stack.http.get(url)
        assert response.status_code == 404, url
        assert response.headers["content-type"].startswith("text/html"), url
    posted = await stack.http.post(
        f"/ui/products/{uuid4()}", data={"csrf_token": token, "name": "x"}
    )
    assert posted.status_code == 404
    assert posted.headers["content-type"].startswith("text/html")


@pytest.mark.databases("sqlite")
async def test_environments_are_listed_and_an_sre_edits_one(
    stack: Stack, ci: dict[str, str]
) -> None:
    deployment = await deployed(stack, ci)
    environment_id = deployment["environment_id"]
    await signed_in(stack, "sre")
    listing = await page(stack, "/ui/environments")
    assert f'href="/ui/environments/{environment_id}">staging</a>' in listing
    detail = await page(stack, f"/ui/environments/{environment_id}")
    assert "api 1.0.0 → staging" in detail
    assert f'href="/ui/products/{deployment["product_id"]}">api</a>' in detail  # runs here
    assert f'action="/ui/environments/{environment_id}"' in detail
    done = await stack.http.post(
        f"/ui/environments/{environment_id}",
        data={
            "csrf_token": csrf(detail),
            "name": "preprod",
            "type": "test",
            "description": "Last stop",
        },
    )
    assert done.status_code == 303, done.text
    after = await page(stack, f"/ui/environments/{environment_id}")
    assert "preprod" in after
    assert 'class="badge env-test">test' in after
    assert "Last stop" in after
    assert "Earlier names</dt><dd>staging</dd>" in after
    by_old_name = await stack.http.get("/environments/staging", headers=stack.admin)
    assert by_old_name.json()["name"] == "preprod"


@pytest.mark.databases("sqlite")
async def test_versions_are_listed_and_narrowed_by_product(
    stack: Stack, ci: dict[str, str]
) -> None:
    deployment = await deployed(stack, ci)
    await stack.http.post(
        "/build-events/",
        json=build_body(product_name="web", version="9.9.9", status="started"),
        headers=ci,
    )
    await signed_in(stack, "viewer")
    listing = await page(stack, "/ui/versions")
    assert f'href="/ui/versions/{deployment["version_id"]}">1.0.0</a>' in listing
    assert "abc123def456" in listing
    assert "9.9.9" in listing
    assert listing.index("9.9.9") < listing.index("1.0.0")  # newest first
    assert 'class="badge completed">built' in listing
    assert "not yet" in listing  # web 9.9.9 only started building
    narrowed = await page(stack, "/ui/versions?product=web")
    assert "9.9.9" in narrowed
    assert "1.0.0" not in narrowed


@pytest.mark.databases("sqlite")
async def test_an_approver_signs_a_version_off_with_only_the_types_their_role_fills(
    stack: Stack, ci: dict[str, str]
) -> None:
    version_id = (await deployed(stack, ci))["version_id"]
    await signed_in(stack, "qa")
    detail = await page(stack, f"/ui/versions/{version_id}")
    assert f'action="/ui/versions/{version_id}/approvals"' in detail
    assert '<option value="qa">' in detail
    assert '<option value="performance">' in detail
    assert '<option value="security">' not in detail
    assert '<option value="staging">' in detail
    done = await stack.http.post(
        f"/ui/versions/{version_id}/approvals",
        data={
            "csrf_token": csrf(detail),
            "approval_type": "qa",
            "environment": "staging",
            "comment": "regression suite green",
        },
    )
    assert done.status_code == 303, done.text
    after = await page(stack, f"/ui/versions/{version_id}")
    assert "<strong>qa</strong> in staging" in after
    assert "regression suite green" in after
    other = await stack.http.post(
        f"/ui/versions/{version_id}/approvals",
        data={"csrf_token": csrf(detail), "approval_type": "security"},
    )
    assert other.status_code == 403
    approvals = await stack.http.get(f"/versions/{version_id}/approvals", headers=stack.admin)
    assert [a["approval_type"] for a in approvals.json()] == ["qa"]


@pytest.mark.databases("sqlite")
async def test_roles_that_may_not_approve_see_no_form_and_are_refused(
    stack: Stack, ci: dict[str, str]
) -> None:
    version_id = (await deployed(stack, ci))["version_id"]
    await signed_in(stack, "developer")
    detail = await page(stack, f"/ui/versions/{version_id}")
    assert "/approvals" not in detail
    assert "Deployment buttons are unavailable" in detail  # no notifier in this stack
    refused = await stack.http.post(
        f"/ui/versions/{version_id}/approvals",
        data={"csrf_token": csrf(detail), "approval_type": "code_review"},
    )
    assert refused.status_code == 403
    approvals = await stack.http.get(f"/versions/{version_id}/approvals", headers=stack.admin)
    assert approvals.json() == []


async def _buttons(stack: Stack, receiver: Receiver) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """api 1.0.0 built and deployed, a link button to two environments and a webhook button
    to production; the version id and the two buttons."""
    ci = stack.auth(await stack.api_key())
    version_id: str = (await deployed(stack, ci))["version_id"]
    link = await stack.http.post(
        "/deployment-buttons/",
        json={
            "product": "api",
            "environments": ["staging", "qa"],
            "label": "Open pipeline",
            "kind": "link",
            "method": "GET",
            "url_template": "https://ci.example.com/deploy?v={vi_version}&env={vi_environment_name}",
        },
        headers=stack.admin,
    )
    assert link.status_code == 201, link.text
    webhook = await stack.http.post(
        "/deployment-buttons/",
        json={
            "product": "api",
            "environments": ["production"],
            "label": "Ship",
            "kind": "webhook",
            "url_template": receiver.url("/deploy?VERSION={vi_version}&ENV={vi_environment_name}"),
        },
        headers=stack.admin,
    )
    assert webhook.status_code == 201, webhook.text
    return version_id, link.json(), webhook.json()


async def test_a_link_button_opens_its_rendered_url_for_every_role(
    notified_stack: Stack, receiver: Receiver
) -> None:
    version_id, link, webhook = await _buttons(notified_stack, receiver)
    await signed_in(notified_stack, "viewer")
    detail = await page(notified_stack, f"/ui/versions/{version_id}")
    opened = f"/ui/versions/{version_id}/buttons/{link['id']}/open?environment="
    assert '<details class="menu">' in detail  # two environments: a menu
    assert f'href="{opened}staging"' in detail
    assert f'href="{opened}qa"' in detail
    assert f"/buttons/{webhook['id']}/fire" not in detail  # a viewer may not fire
    response = await notified_stack.http.get(opened + "qa")
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "https://ci.example.com/deploy?v=1.0.0&env=qa"
    elsewhere = await notified_stack.http.get(opened + "production")
    assert elsewhere.status_code == 422
    assert "environment:" in elsewhere.text
    token = csrf(detail)
    refused = await notified_stack.http.post(
        f"/ui/versions/{version_id}/buttons/{webhook['id']}/fire",
        data={"csrf_token": token, "environment": "production"},
    )
    assert refused.status_code == 403
    assert receiver.requests == []


async def test_a_developer_fires_a_webhook_button_through_its_form(
    notified_stack: Stack, receiver: Receiver
) -> None:
    version_id, _link, webhook = await _buttons(notified_stack, receiver)
    await signed_in(notified_stack, "developer")
    detail = await page(notified_stack, f"/ui/versions/{version_id}")
    fire = f"/ui/versions/{version_id}/buttons/{webhook['id']}/fire"
    assert f'action="{fire}"' in detail
    assert "Ship → production" in detail  # one environment: one button
    unsigned = await notified_stack.http.post(fire, data={"environment": "production"})
    assert unsigned.status_code == 403
    wrong = await notified_stack.http.post(
        fire, data={"csrf_token": csrf(detail), "environment": "staging"}
    )
    assert wrong.status_code == 422
    assert "environment:" in wrong.text
    assert receiver.requests == []
    fired = await notified_stack.http.post(
        fire, data={"csrf_token": csrf(detail), "environment": "production"}
    )
    assert fired.status_code == 303, fired.text
    assert fired.headers["location"] == f"/ui/versions/{version_id}"
    assert "Fired Ship" in html.unescape(await page(notified_stack, fired.headers["location"]))
    [request] = await receiver.wait_for(1)
    assert dict(request.query) == {"VERSION": "1.0.0", "ENV": "production"}
