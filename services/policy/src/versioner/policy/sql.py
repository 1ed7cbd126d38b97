"""Small SQL helpers that differ by engine."""

from typing import Any, cast

from sqlalchemy import Table, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Select
from sqlmodel import SQLModel


async def insert_ignore(session: AsyncSession, table: Table, values: dict[str, Any]) -> bool:
    """Insert a row unless it clashes with a unique key; whether it was inserted."""
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    result = await session.execute(insert(table).values(**values).on_conflict_do_nothing())
    return bool(getattr(result, "rowcount", 0))


def is_postgres(session: AsyncSession) -> bool:
    """Whether this session talks to PostgreSQL."""
    return session.bind is not None and session.bind.dialect.name == "postgresql"


async def count(session: AsyncSession, stmt: Select[Any]) -> int:
    """How many rows a query returns."""
    total = await session.execute(select(func.count()).select_from(stmt.order_by(None).subquery()))
    return int(total.scalar_one())


def table(model: type[SQLModel]) -> Table:
    """The SQLAlchemy table behind a SQLModel class."""
    return cast("Table", model.__table__)  # type: ignore[attr-defined]
