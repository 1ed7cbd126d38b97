"""A fresh policy database per test: a SQLite file, or a PostgreSQL database cloned from a
migrated template (cloning is much faster than migrating every time)."""

import hashlib
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.resources import files
from pathlib import Path

import asyncpg
from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine

from tests.support.services import POSTGRES_ADMIN_URL
from versioner.policy.store.db import Database
from versioner.policy.store.migrate import migrate


def _migrations_digest() -> str:
    folder = files("versioner.policy.store") / "migrations" / "versions"
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


# Databases cloned for this process and reset for the next test: cloning one costs about half
# a second (PostgreSQL copies the template's catalogs), emptying one a few milliseconds.
_free: list[str] = []
_template_tables: frozenset[str] = frozenset()
# What the migrations themselves put in (everything else is a test's own data).
_SEED = "INSERT INTO policy_revision (id, revision, updated_at) VALUES (1, 0, CURRENT_TIMESTAMP)"


async def _tables(conn: asyncpg.Connection) -> set[str]:
    rows = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    return {row["tablename"] for row in rows}


async def _create() -> str:
    global _template_tables  # noqa: PLW0603 - learnt once per test process
    name = f"versioner_test_{uuid.uuid4().hex[:12]}"
    conn = await _admin()
    try:
        await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{_TEMPLATE}"')
    finally:
        await conn.close()
    if not _template_tables:
        fresh = await asyncpg.connect(_asyncpg_url(name).replace("+asyncpg", ""))
        try:
            _template_tables = frozenset(await _tables(fresh))
        finally:
            await fresh.close()
    return name


async def _drop(name: str) -> None:
    conn = await _admin()
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def _reset(name: str) -> None:
    """Back to the freshly migrated state: other services' tables gone, policy's emptied."""
    admin = await _admin()
    try:
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = $1 AND pid <> pg_backend_pid()",
            name,
        )
    finally:
        await admin.close()
    conn = await asyncpg.connect(_asyncpg_url(name).replace("+asyncpg", ""))
    try:
        tables = await _tables(conn)
        async with conn.transaction():
            for extra in sorted(tables - _template_tables):
                await conn.execute(f'DROP TABLE IF EXISTS "{extra}" CASCADE')
            # DELETE, not TRUNCATE: a test leaves a few rows, and TRUNCATE makes new files for
            # every table. Foreign keys are not checked meanwhile (the tables end up empty).
            await conn.execute("SET LOCAL session_replication_role = replica")
            for table in sorted((tables & _template_tables) - {"alembic_version"}):
                await conn.execute(f'DELETE FROM "{table}"')
            sequences = await conn.fetch(
                "SELECT sequencename FROM pg_sequences WHERE schemaname = 'public'"
            )
            for row in sequences:
                await conn.execute("SELECT setval($1::regclass, 1, false)", row["sequencename"])
            await conn.execute(_SEED)
    finally:
        await conn.close()


async def drop_pooled() -> None:
    """Drop the databases this process kept for reuse (at the end of the session)."""
    while _free:
        await _drop(_free.pop())


@asynccontextmanager
async def postgres_database() -> AsyncIterator[str]:
    """The URL of a freshly migrated PostgreSQL database: a clone of the template, or one
    emptied after an earlier test of this process."""
    await _ensure_template()
    name = _free.pop() if _free else await _create()
    try:
        yield _asyncpg_url(name)
    finally:
        try:
            await _reset(name)
        except (OSError, asyncpg.PostgresError):
            await _drop(name)
        else:
            _free.append(name)


_sqlite_template: Path | None = None


def _migrated_sqlite_template() -> Path:
    """A SQLite file migrated to the head once per test process, to copy for each test."""
    global _sqlite_template  # noqa: PLW0603 - one template per test process
    if _sqlite_template is None:
        folder = Path(tempfile.mkdtemp(prefix="versioner-sqlite-template-"))
        path = folder / "policy.db"
        engine = create_engine(f"sqlite:///{path}")
        with engine.begin() as connection:
            config = Config()
            config.set_main_option(
                "script_location", str(files("versioner.policy.store") / "migrations")
            )
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
        engine.dispose()
        _sqlite_template = path
    return _sqlite_template


def sqlite_url(folder: Path) -> str:
    """The URL of a freshly migrated SQLite file in a test's own folder (a copy of a template
    migrated once: migrating every time cost a tenth of a second per test)."""
    path = folder / "policy.db"
    if not path.exists():
        shutil.copyfile(_migrated_sqlite_template(), path)
    return f"sqlite+aiosqlite:///{path}"


def empty_sqlite_url(folder: Path) -> str:
    """The URL of a SQLite file with no schema at all."""
    return f"sqlite+aiosqlite:///{folder / 'empty.db'}"
