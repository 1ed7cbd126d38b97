"""Browser tests: the dashboard in real headless Chromium (Debian's), driven by Playwright.

Browsers cannot be downloaded here, so Playwright launches the system's `chromium`
(`make test` installs it). The stack runs in memory and ingest is served by uvicorn on a free
port of 127.0.0.1, so the browser talks to it over real HTTP."""

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, async_playwright

from tests.support.browser import (
    CHROMIUM_ARGS,
    Live,
)
from tests.support.databases import sqlite_url
from tests.support.services import require
from tests.support.stack import NotifierSetup, memory_stack, serving


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
