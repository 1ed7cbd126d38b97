"""Migrations: applied under a lock at start, the result matching the table models."""

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, MetaData, insert, select
from sqlmodel import SQLModel

from versioner.policy.store import tables
from versioner.policy.store.db import Database
from versioner.policy.store.migrate import _config, current_revision, head_revision, migrate
from versioner.policy.store.sql import table


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


async def test_insights_migration_fills_what_existing_rows_already_tell(
    empty_database_url: str,
) -> None:
    """0005: a finished deployment ended when its event said it completed, else when it was
    received; a version's lead time starts from its builds; when it first completed."""
    db = Database(empty_database_url)
    ids = {name: uuid4() for name in ("product", "environment", "version", "first", "second")}
    t = datetime(2026, 3, 2, 9, tzinfo=UTC)
    try:
        async with db.writer.begin() as conn:
            await conn.run_sync(lambda c: command.upgrade(_config(c), "0004"))
            await conn.run_sync(_history_at_0004, ids, t)
        await migrate(db)
        async with db.reader.connect() as conn:
            ended = dict(
                (
                    await conn.execute(
                        select(table(tables.Deployment).c.id, table(tables.Deployment).c.ended_at)
                    )
                ).all()
            )
            version = (await conn.execute(select(table(tables.Version)))).mappings().one()
    finally:
        await db.dispose()
    assert ended == {ids["first"]: t + timedelta(hours=2), ids["second"]: t + timedelta(hours=5)}
    assert version["committed_at"] == t - timedelta(hours=3)
    assert version["build_started_at"] == t - timedelta(hours=1)
    assert version["first_built_at"] == t
    assert version["first_completed_at"] == t + timedelta(hours=2)


def _history_at_0004(connection: Connection, ids: dict[str, UUID], t: datetime) -> None:
    """A product, an environment, a version built twice and deployed twice, as 0004 kept them
    (only the columns 0004 has are written)."""

    def add(model: type[SQLModel], **values: Any) -> None:
        connection.execute(insert(table(model)).values(**values))

    add(tables.Product, id=ids["product"], name="api", meta={}, created_at=t, updated_at=t)
    add(
        tables.Environment,
        id=ids["environment"],
        name="production",
        type="production",
        meta={},
        created_at=t,
        updated_at=t,
    )
    add(
        tables.Version,
        id=ids["version"],
        product_id=ids["product"],
        version="1.0",
        registered=False,
        created_at=t,
    )
    # Committed at 08:00+02:00 (06:00 UTC, three hours before t), started an hour before t.
    for hours, started, metadata in (
        (0, t - timedelta(hours=1), {"vi_commit_timestamp": "2026-03-02T08:00:00+02:00"}),
        (1, None, {}),
    ):
        add(
            tables.Build,
            id=uuid4(),
            product_id=ids["product"],
            version_id=ids["version"],
            status="completed",
            started_at=started,
            extra_metadata=metadata,
            created_at=t + timedelta(hours=hours),
            updated_at=t,
        )
    for key, completed, finished in (("first", 2, 3), ("second", None, 5)):
        add(
            tables.Deployment,
            id=ids[key],
            product_id=ids["product"],
            version_id=ids["version"],
            environment_id=ids["environment"],
            status="completed",
            deployed_at=t,
            completed_at=None if completed is None else t + timedelta(hours=completed),
            finished_at=t + timedelta(hours=finished),
            sha_mismatch=False,
            extra_metadata={},
            updated_at=t,
        )
