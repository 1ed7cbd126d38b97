"""Small SQL helpers that differ by engine, and the rows-as-data conventions of the lanes."""

from typing import Any, Protocol, TypeVar, cast

from sqlalchemy import Executable, Table, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Result
from sqlalchemy.sql import Select
from sqlmodel import SQLModel

M = TypeVar("M", bound=SQLModel)


class Executor(Protocol):
    """An `AsyncConnection` or an `AsyncSession`: anything that runs a statement."""

    async def execute(self, statement: Executable, parameters: Any = None) -> Result[Any]:
        """Run one statement."""
        ...


def table(model: type[SQLModel]) -> Table:
    """The SQLAlchemy table behind a SQLModel class."""
    return cast("Table", model.__table__)  # type: ignore[attr-defined]


def dialect_of(executor: Any) -> str:
    """`sqlite` or `postgresql`, for a session or a connection, sync or async."""
    dialect = getattr(executor, "dialect", None)
    if dialect is None:
        bind = getattr(executor, "bind", None) or getattr(executor, "engine", None)
        dialect = getattr(bind, "dialect", None)
    return str(dialect.name) if dialect is not None else "sqlite"


def is_postgres(executor: Any) -> bool:
    """Whether this runs on PostgreSQL."""
    return dialect_of(executor) == "postgresql"


def upsert_insert(executor: Any, target: Table) -> Any:
    """An INSERT that can take `on_conflict_do_nothing/update` on either engine."""
    return (postgresql.insert if is_postgres(executor) else sqlite.insert)(target)


async def insert_ignore(executor: Executor, target: Table, values: dict[str, Any]) -> bool:
    """Insert a row unless it clashes with a unique key; whether it was inserted."""
    result = await executor.execute(
        upsert_insert(executor, target).values(**values).on_conflict_do_nothing()
    )
    return bool(getattr(result, "rowcount", 0))


async def count(executor: Executor, stmt: Select[Any]) -> int:
    """How many rows a query returns."""
    total = await executor.execute(select(func.count()).select_from(stmt.order_by(None).subquery()))
    return int(total.scalar_one())


def row_values(record: SQLModel) -> dict[str, Any]:
    """A model instance's column values, for a Core INSERT."""
    return {column.name: getattr(record, column.name) for column in table(type(record)).columns}


def from_row(model: type[M], row: Any) -> M:
    """A model instance from a Core row (a plain data holder, not attached to a session)."""
    return model(**dict(row._mapping))
