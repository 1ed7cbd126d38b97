"""The notifier's database: SQLite by default (WAL, one writer), PostgreSQL at scale.

Small transactions, few of them: one per delivery state change. On SQLite every session goes
through one connection (writes are serialised there anyway, and one connection never meets
`database is locked`); PostgreSQL gets a pool.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.pool import AsyncAdaptedQueuePool

# Any constant works as long as every replica uses it; not policy's.
_ADVISORY_LOCK_KEY = 0x4E4F_5446  # "NOTF"
VERSION_TABLE = "notifier_alembic_version"


class Database:
    """Sessions on the notifier's database."""

    def __init__(self, url: str) -> None:
        self.url = make_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        if self.is_sqlite:
            if self.url.database and self.url.database != ":memory:":
                Path(self.url.database).parent.mkdir(parents=True, exist_ok=True)
            self.engine = create_async_engine(
                self.url, poolclass=AsyncAdaptedQueuePool, pool_size=1, max_overflow=0
            )

            @event.listens_for(self.engine.sync_engine, "connect")
            def _connect(dbapi_connection: Any, _record: Any) -> None:
                dbapi_connection.isolation_level = None
                cursor = dbapi_connection.cursor()
                # The busy timeout first: switching to WAL waits for a replica's migration.
                for pragma in (
                    "busy_timeout=30000",
                    "journal_mode=WAL",
                    "synchronous=NORMAL",
                    "foreign_keys=ON",
                ):
                    cursor.execute(f"PRAGMA {pragma}")
                cursor.close()

            @event.listens_for(self.engine.sync_engine, "begin")
            def _begin(conn: Any) -> None:
                conn.exec_driver_sql("BEGIN IMMEDIATE")

        else:
            self.engine = create_async_engine(
                self.url, pool_size=5, max_overflow=5, pool_pre_ping=True
            )

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A transaction: committed when the block ends, rolled back if it raises."""
        async with (
            AsyncSession(self.engine, expire_on_commit=False) as session,
            session.begin(),
        ):
            yield session

    async def migrate(self) -> None:
        """Bring the schema to the newest revision, under a lock so replicas can start together
        (an advisory lock on PostgreSQL; SQLite's `BEGIN IMMEDIATE` holds the file)."""
        async with self.engine.begin() as conn:
            if not self.is_sqlite:
                await conn.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK_KEY}
                )
            await conn.run_sync(_upgrade)

    async def dispose(self) -> None:
        """Close every connection."""
        await self.engine.dispose()


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(files("versioner.notifier") / "migrations"))
    return config


@cache
def _head() -> str | None:
    # Read once per process: the scripts ship with the code.
    return ScriptDirectory.from_config(_config()).get_current_head()


def _upgrade(connection: Connection) -> None:
    # Already at the head (every start but the first after an upgrade): alembic's environment
    # and scripts are not loaded again.
    if MigrationContext.configure(connection).get_current_revision() == _head():
        return
    config = _config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")
