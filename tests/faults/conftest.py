"""Fixtures of the fault tests."""

from pathlib import Path

import pytest

from tests.support.stack import NotifierSetup


@pytest.fixture
def notifier(tmp_path: Path) -> NotifierSetup:
    """The notifier in the stack, on a SQLite database of the test's own."""
    return NotifierSetup(database_url=f"sqlite+aiosqlite:///{tmp_path / 'notifier.db'}")
