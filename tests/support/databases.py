"""A fresh policy database per test: a SQLite file, or a PostgreSQL database cloned from a
migrated template (cloning is much faster than migrating every time)."""

import hashlib
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.resources import files
from pathlib import Path

import asyncpg

from tests.support.services import POSTGRES_ADMIN_URL
from versioner.policy.db import Database
from versioner.policy.migrate import migrate


def _migrations_digest() -> str:
    folder = files("versioner.policy") / "migrations" / "versions"
    digest = hashlib.sha256()
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".py"):
            digest.update(entry.name.encode())
            digest.update(entry.read_bytes())
    return digest.hexdigest()[:12]


# Named by the migrations' content: test processes running at once share it, and a changed
# migration gets a new template instead of a stale one.
_TEMPLATE = f"versioner_test_template_{_migrations_digest()}"
_template_ready = False


def _asyncpg_url(database: str) -> str:
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
    return f"{base.replace('postgresql://', 'postgresql+asyncpg://')}/{database}"


async def _admin() -> asyncpg.Connection:
    return await asyncpg.connect(POSTGRES_ADMIN_URL)


async def _exists(conn: asyncpg.Connection, name: str) -> bool:
    return bool(await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name))


async def _ensure_template() -> None:
    """Build the template once: migrated under a private name, then renamed into place."""
    global _template_ready  # noqa: PLW0603 - one template per test process
    if _template_ready:
        return
    conn = await _admin()
    try:
        if not await _exists(conn, _TEMPLATE):
            building = f"{_TEMPLATE}_{os.getpid()}"
            await conn.execute(f'DROP DATABASE IF EXISTS "{building}" WITH (FORCE)')
            await conn.execute(f'CREATE DATABASE "{building}"')
            db = Database(_asyncpg_url(building))
            await migrate(db)
            await db.dispose()
            try:
                await conn.execute(f'ALTER DATABASE "{building}" RENAME TO "{_TEMPLATE}"')
            except asyncpg.DuplicateDatabaseError:
                await conn.execute(f'DROP DATABASE "{building}" WITH (FORCE)')
    finally:
        await conn.close()
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
