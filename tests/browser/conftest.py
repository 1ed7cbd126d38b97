"""Browser tests: the dashboard in real headless Chromium (Debian's), driven by Playwright.

Browsers cannot be downloaded here, so Playwright launches the system's `chromium`
(`make test` installs it). The stack runs in memory and ingest is served by uvicorn on a free
port of 127.0.0.1, so the browser talks to it over real HTTP.
"""

import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright

from tests.support.databases import sqlite_url
from tests.support.services import require
from tests.support.stack import NotifierSetup, Stack, memory_stack, serving

CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update"]


@dataclass
class Live:
    """The stack, and where a browser reaches its gateway."""

    stack: Stack
    url: str


@pytest.fixture
async def live(tmp_path: Path) -> AsyncIterator[Live]:
    """The stack in memory (with the notifier), its gateway served over HTTP."""
    notifier = NotifierSetup(database_url=f"sqlite+aiosqlite:///{tmp_path / 'notifier.db'}")
    async with (
        memory_stack(sqlite_url(tmp_path), notifier=notifier) as stack,
        serving(stack.app) as url,
    ):
        yield Live(stack=stack, url=url)


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """Headless Chromium."""
    executable = shutil.which("chromium")
    require(executable is not None, "Chromium (apt-get install chromium)")
    assert executable is not None
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=executable, args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield launched
        finally:
            await launched.close()


async def sign_in(browser: Browser, live: Live, token: str) -> Page:
    """A new browser context signed in with a personal token, on the home page."""
    context = await browser.new_context(base_url=live.url)
    page = await context.new_page()
    await page.goto("/ui/")
    await page.fill("input[name=token]", token)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{live.url}/ui/")
    return page
