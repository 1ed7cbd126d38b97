"""Migrations: applied under a lock at start, the result matching the table models."""

import asyncio
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, MetaData
from sqlmodel import SQLModel

from versioner.policy.store import tables
from versioner.policy.store.db import Database
from versioner.policy.store.migrate import current_revision, head_revision, migrate


def _policy_metadata() -> MetaData:
    """Policy's tables alone (other services may put theirs on SQLModel's shared metadata)."""
    metadata = MetaData()
    for model in vars(tables).values():
        if (
            isinstance(model, type)
            and issubclass(model, SQLModel)
            and model.__module__ == tables.__name__
        ):
            SQLModel.metadata.tables[model.__tablename__].to_metadata(metadata)  # type: ignore[index]
    return metadata


def _differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, _policy_metadata()))


async def test_a_fresh_database_is_migrated_to_the_head(empty_database_url: str) -> None:
    db = Database(empty_database_url)
    try:
        assert await current_revision(db) is None
        await migrate(db)
        assert await current_revision(db) == head_revision()
    finally:
        await db.dispose()


async def test_two_replicas_migrating_at_once_both_succeed(empty_database_url: str) -> None:
    replicas = [Database(empty_database_url), Database(empty_database_url)]
    try:
        await asyncio.gather(*(migrate(db) for db in replicas))
        for db in replicas:
            assert await current_revision(db) == head_revision()
    finally:
        for db in replicas:
            await db.dispose()


async def test_migrating_a_migrated_database_changes_nothing(empty_database_url: str) -> None:
    db = Database(empty_database_url)
    try:
        await migrate(db)
        await migrate(db)
        assert await current_revision(db) == head_revision()
    finally:
        await db.dispose()


async def test_the_migrated_schema_matches_the_table_models(empty_database_url: str) -> None:
    db = Database(empty_database_url)
    try:
        await migrate(db)
        async with db.writer.connect() as connection:
            differences = await connection.run_sync(_differences)
    finally:
        await db.dispose()
    assert differences == []


def test_the_compared_metadata_holds_policys_tables() -> None:
    names = set(_policy_metadata().tables)
    assert {"products", "deployments", "environment_states", "credentials", "outbox"} <= names
