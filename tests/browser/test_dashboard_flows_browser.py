"""The dashboard's flows in a real browser: renaming a product, making a rule and switching its
mode, a Deployment Request approved by a second user, firing a deployment button, refusals."""

import re
from typing import Any

from playwright.async_api import Browser, Locator, Page, expect

from tests.support.browser import Live, sign_in
from tests.support.flows import build_body
from tests.support.receiver import Receiver


async def built(live: Live, product: str = "checkout", version: str = "1.0.0") -> dict[str, Any]:
    """A build of `product` `version` sent by CI; the event as accepted (with its ids)."""
    ci = live.stack.auth(await live.stack.api_key())
    response = await live.stack.http.post(
        "/build-events/", json=build_body(product_name=product, version=version), headers=ci
    )
    assert response.status_code in (200, 201), response.text
    accepted: dict[str, Any] = response.json()
    return accepted


async def api_get(live: Live, path: str) -> dict[str, Any]:
    """A resource as the admin reads it over the JSON API."""
    response = await live.stack.http.get(path, headers=live.stack.admin)
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def flash(page: Page) -> Locator:
    """The line saying what the last form did."""
    return page.get_by_role("status")


async def test_an_admin_renames_a_product_and_the_old_name_still_resolves(
    browser: Browser, live: Live
) -> None:
    product_id = (await built(live))["product_id"]
    page = await sign_in(browser, live, await live.stack.user("admin", name="ada"))
    await page.goto(f"/ui/products/{product_id}")
    await expect(page.get_by_role("heading", level=1)).to_have_text("checkout")
    await page.get_by_label("Name", exact=True).fill("payments")
    await page.get_by_role("button", name="Save").click()
    await expect(flash(page)).to_have_text("Saved payments.")
    await expect(page.get_by_role("heading", level=1)).to_have_text("payments")
    await expect(page.locator("dt:has-text('Earlier names') + dd")).to_have_text("checkout")
    by_old_name = await api_get(live, "/products/checkout")
    assert (by_old_name["id"], by_old_name["name"]) == (product_id, "payments")


async def test_a_rule_made_through_its_form_is_switched_to_report_only_on_the_list(
    browser: Browser, live: Live
) -> None:
    page = await sign_in(browser, live, await live.stack.user("sre", name="sam"))
    await page.get_by_role("link", name="Rules", exact=True).click()
    await page.get_by_role("link", name="Flow", exact=True).click()
    await expect(page).to_have_url(re.compile(r"/ui/rules/new\?type=flow$"))
    await page.get_by_label("Name", exact=True).fill("staging before production")
    await page.get_by_label("Target environment", exact=True).fill("production")
    await page.get_by_label("Prerequisites", exact=True).fill("staging")
    await page.get_by_role("button", name="Create rule").click()
    await expect(flash(page)).to_have_text("Rule staging before production created.")
    await expect(page.get_by_role("heading", level=1)).to_contain_text("enabled")
    rule_id = page.url.rsplit("/", 1)[-1]

    await page.get_by_role("link", name="All rules").click()
    row = page.locator(f'tr[data-rule="{rule_id}"]')
    await expect(row.get_by_role("button", name="enabled", exact=True)).to_be_disabled()
    await row.get_by_role("button", name="report-only").click()
    await expect(flash(page)).to_have_text("Rule now report-only.")
    switched = row.get_by_role("button", name="report-only")
    await expect(switched).to_have_attribute("aria-pressed", "true")
    await expect(switched).to_be_disabled()
    await expect(row.get_by_role("button", name="enabled", exact=True)).to_be_enabled()
    assert (await api_get(live, f"/deployment-rules/{rule_id}"))["mode"] == "report_only"


async def test_a_deployment_request_is_approved_by_a_second_user_from_my_tasks(
    browser: Browser, live: Live
) -> None:
    dev = await sign_in(browser, live, await live.stack.user("developer", name="dana"))
    await dev.get_by_role("link", name="Requests", exact=True).click()
    await dev.get_by_role("link", name="New request").click()
    await dev.get_by_label("Name", exact=True).fill("checkout 2.0")
    await dev.get_by_label("Product").first.fill("checkout")
    await dev.get_by_label("Version").first.fill("2.0.0")
    await dev.get_by_label("Environments").fill("production")
    await dev.get_by_label("ask for qa", exact=True).check()
    await dev.get_by_role("button", name="Create in draft").click()
    await expect(flash(dev)).to_have_text("Deployment Request checkout 2.0 created, in draft.")
    await dev.get_by_role("button", name="Submit").click()
    await expect(flash(dev)).to_contain_text("Submitted")
    status = dev.get_by_role("heading", level=1).locator(".badge")
    await expect(status).to_have_text("in progress")

    qa = await sign_in(browser, live, await live.stack.user("qa", name="quinn"))
    await qa.get_by_role("link", name="My tasks", exact=True).click()
    task = qa.locator("section.card", has=qa.get_by_role("link", name="checkout 2.0"))
    await task.get_by_label("Comment on qa").fill("smoke tests pass")
    await task.get_by_role("button", name="Approve").click()
    await expect(flash(qa)).to_have_text("Approved.")
    await expect(qa.get_by_text("Nothing waits for you.")).to_be_visible()

    await dev.reload()
    await expect(status).to_have_text("approved")
    slot = dev.locator("li[id^=slot-]", has=dev.locator("strong", has_text="qa"))
    await expect(slot.locator(".badge")).to_have_text("approved")
    await expect(slot).to_contain_text("quinn (qa)")
    await expect(slot.locator("blockquote")).to_have_text("smoke tests pass")


async def test_a_developer_fires_a_deployment_button_from_the_version_page(
    browser: Browser, live: Live, receiver: Receiver
) -> None:
    version_id = (await built(live, version="2.1.0"))["version_id"]
    created = await live.stack.http.post(
        "/deployment-buttons/",
        json={
            "product": "checkout",
            "environments": ["production"],
            "label": "Ship",
            "kind": "webhook",
            "url_template": receiver.url("/deploy?VERSION={vi_version}&ENV={vi_environment_name}"),
        },
        headers=live.stack.admin,
    )
    assert created.status_code == 201, created.text
    page = await sign_in(browser, live, await live.stack.user("developer", name="dana"))
    await page.goto(f"/ui/versions/{version_id}")
    await page.get_by_role("button", name="Ship → production").click()
    await expect(flash(page)).to_have_text("Fired Ship for checkout 2.1.0 → production.")
    [call] = await receiver.wait_for(1)
    assert dict(call.query) == {"VERSION": "2.1.0", "ENV": "production"}
    assert len(receiver.requests) == 1


async def test_a_viewer_is_offered_no_rename_or_mode_switch_and_is_refused_both(
    browser: Browser, live: Live
) -> None:
    product_id = (await built(live))["product_id"]
    rule = await live.stack.http.post(
        "/deployment-rules/",
        json={
            "name": "staging before production",
            "rule_type": "flow",
            "config": {"prerequisites": ["staging"], "target": "production"},
        },
        headers=live.stack.admin,
    )
    assert rule.status_code == 201, rule.text
    rule_id = rule.json()["id"]
    page = await sign_in(browser, live, await live.stack.user("viewer", name="vic"))

    await page.goto(f"/ui/products/{product_id}")
    await expect(page.get_by_role("heading", level=1)).to_have_text("checkout")
    await expect(page.get_by_role("heading", name="Rename or describe")).to_have_count(0)
    await expect(page.get_by_label("Name", exact=True)).to_have_count(0)
    await expect(page.get_by_role("button", name="Save")).to_have_count(0)

    await page.get_by_role("link", name="Rules", exact=True).click()
    row = page.locator(f'tr[data-rule="{rule_id}"]')
    await expect(row.locator(".badge")).to_have_text("enabled")
    await expect(row.get_by_role("button")).to_have_count(0)
    await expect(page.get_by_role("link", name="New rule")).to_have_count(0)

    # The page's own token, from the one form it does offer (signing out).
    csrf = await page.locator("form.who input[name=csrf_token]").get_attribute("value")
    assert csrf
    renamed = await page.request.post(
        f"/ui/products/{product_id}", form={"csrf_token": csrf, "name": "payments"}
    )
    assert renamed.status == 403
    # Refused for the role, not for the token (that refusal says the form was not this page's).
    assert "not sent by this page" not in await renamed.text()
    switched = await page.request.post(
        f"/ui/rules/{rule_id}/mode", form={"csrf_token": csrf, "mode": "disabled"}
    )
    assert switched.status == 403
    assert "not sent by this page" not in await switched.text()
    assert (await api_get(live, f"/products/{product_id}"))["name"] == "checkout"
    assert (await api_get(live, f"/deployment-rules/{rule_id}"))["mode"] == "enabled"
