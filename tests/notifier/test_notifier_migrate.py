"""The notifier's migrations: the migrated schema matches its table models."""

from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection

from tests.support.databases import empty_sqlite_url
from versioner.notifier.db import Database
from versioner.notifier.tables import NotifierModel


def _differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "version_table": "notifier_alembic_version"}
    )
    return list(compare_metadata(context, NotifierModel.metadata))


async def test_the_migrated_schema_is_what_the_tables_say(tmp_path: Path) -> None:
    db = Database(empty_sqlite_url(tmp_path))
    try:
        await db.migrate()
        async with db.engine.connect() as connection:
            assert await connection.run_sync(_differences) == []
    finally:
        await db.dispose()
