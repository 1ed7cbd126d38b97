"""A fresh policy database per test: a SQLite file, or a PostgreSQL database cloned from a
migrated template (cloning is much faster than migrating every time)."""

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg

from tests.support.services import POSTGRES_ADMIN_URL
from versioner.policy.db import Database
from versioner.policy.migrate import head_revision, migrate

_TEMPLATE = f"versioner_test_template_{head_revision()}"
_template_ready = False


def _asyncpg_url(database: str) -> str:
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
    return f"{base.replace('postgresql://', 'postgresql+asyncpg://')}/{database}"


async def _admin() -> asyncpg.Connection:
    return await asyncpg.connect(POSTGRES_ADMIN_URL)


async def _ensure_template() -> None:
    global _template_ready  # noqa: PLW0603 - one template per test process
    if _template_ready:
        return
    conn = await _admin()
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{_TEMPLATE}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{_TEMPLATE}"')
    finally:
        await conn.close()
    db = Database(_asyncpg_url(_TEMPLATE))
    await migrate(db)
    await db.dispose()
    _template_ready = True


@asynccontextmanager
async def postgres_database() -> AsyncIterator[str]:
    """The URL of a new, migrated PostgreSQL database, dropped afterwards."""
    await _ensure_template()
    name = f"versioner_test_{uuid.uuid4().hex[:12]}"
    conn = await _admin()
    try:
        await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{_TEMPLATE}"')
    finally:
        await conn.close()
    try:
        yield _asyncpg_url(name)
    finally:
        conn = await _admin()
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


def sqlite_url(folder: Path) -> str:
    """The URL of a SQLite file in a test's own folder."""
    return f"sqlite+aiosqlite:///{folder / 'policy.db'}"
