"""Bring the database to the newest schema at start, under a lock, so replicas can start together.

PostgreSQL: a transaction-scoped advisory lock. SQLite: the migration runs inside one
`BEGIN IMMEDIATE` transaction, which holds the database's write lock until it commits; a
second process waits (busy timeout) and then finds nothing left to do.
"""

from functools import cache
from importlib.resources import files

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text

from versioner.policy.store.db import Database

# Any constant works; it only has to be the same in every replica.
_ADVISORY_LOCK_KEY = 0x5645_5253  # "VERS"


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(files("versioner.policy.store") / "migrations"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def _upgrade(connection: Connection) -> None:
    # A database already at the head (every start but the first after an upgrade) is left
    # without loading alembic's environment and scripts again: a tenth of a start's time.
    if _current(connection) != head_revision():
        command.upgrade(_config(connection), "head")


@cache
def head_revision() -> str | None:
    """The newest revision the code knows (read once per process: the scripts ship with it)."""
    return ScriptDirectory.from_config(_config()).get_current_head()


def _current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def migrate(db: Database) -> None:
    """Apply every migration not applied yet."""
    async with db.writer.begin() as conn:
        if not db.is_sqlite:
            await conn.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK_KEY}
            )
        await conn.run_sync(_upgrade)


async def current_revision(db: Database) -> str | None:
    """The revision the database is at."""
    async with db.reader.connect() as conn:
        return await conn.run_sync(_current)
