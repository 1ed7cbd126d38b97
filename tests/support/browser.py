"""Helpers of the browser tests: Chromium's arguments, the served stack (`Live`) and signing in
(fixtures in tests/browser/conftest.py)."""

from dataclasses import dataclass

from playwright.async_api import Browser, Page

from tests.support.stack import Stack

CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update"]


@dataclass
class Live:
    """The stack, and where a browser reaches its gateway."""

    stack: Stack
    url: str


async def sign_in(browser: Browser, live: Live, token: str) -> Page:
    """A new browser context signed in with a personal token, on the home page."""
    context = await browser.new_context(base_url=live.url)
    page = await context.new_page()
    await page.goto("/ui/")
    await page.fill("input[name=token]", token)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{live.url}/ui/")
    return page
