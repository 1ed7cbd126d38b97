"""The dashboard in a real browser: signing in, the matrix updating by itself, refusals."""

import re

from playwright.async_api import Browser, expect

from tests.support.browser import Live, sign_in
from tests.support.flows import deploy_body


async def test_signing_in_lands_on_the_home_page(browser: Browser, live: Live) -> None:
    token = await live.stack.user("developer", name="dana")
    page = await sign_in(browser, live, token)
    await expect(page.locator("header.top")).to_contain_text("dana")
    await expect(page.get_by_role("heading", name="What runs where")).to_be_visible()


async def test_a_wrong_token_shows_the_form_again(browser: Browser, live: Live) -> None:
    context = await browser.new_context(base_url=live.url)
    page = await context.new_page()
    await page.goto("/ui/")
    await expect(page).to_have_url(re.compile(r"/ui/login\?next="))
    await page.fill("input[name=token]", "pat_not-a-real-token-at-all-xxxxxxxxxx")
    await page.click("button[type=submit]")
    await expect(page.get_by_role("alert")).to_contain_text("not valid")


async def test_the_matrix_updates_itself_after_a_deployment(browser: Browser, live: Live) -> None:
    token = await live.stack.user("sre")
    page = await sign_in(browser, live, token)
    ci = live.stack.auth(await live.stack.api_key())
    cell = page.locator('td[data-product="checkout"][data-environment="staging"]')
    await expect(cell).to_have_count(0)
    for status in ("started", "completed"):
        sent = await live.stack.http.post(
            "/deployment-events/",
            json=deploy_body(
                product_name="checkout", version="3.1.4", environment_name="staging", status=status
            ),
            headers=ci,
        )
        assert sent.status_code in (200, 201), sent.text
    # No reload: the page polls its live region.
    await expect(cell).to_contain_text("3.1.4", timeout=8000)


async def test_signing_out_ends_the_session(browser: Browser, live: Live) -> None:
    token = await live.stack.user("viewer")
    page = await sign_in(browser, live, token)
    await page.get_by_role("button", name="Sign out").click()
    await expect(page).to_have_url(re.compile(r"/ui/login"))
    await page.goto("/ui/")
    await expect(page).to_have_url(re.compile(r"/ui/login\?next="))
