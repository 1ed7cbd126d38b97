"""Small SQL helpers that differ by engine, and the rows-as-data conventions of the lanes."""

import sqlite3
from collections.abc import Sequence
from typing import Any, Protocol, TypeVar, cast

from sqlalchemy import Connection, Executable, Float, Table, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Result
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import Select
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
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


def dialect_insert(dialect: str, target: Table) -> Any:
    """An INSERT that can take `on_conflict_do_nothing/update` on this dialect."""
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(target)


def upsert_insert(executor: Any, target: Table) -> Any:
    """An INSERT that can take `on_conflict_do_nothing/update` on either engine."""
    return dialect_insert(dialect_of(executor), target)


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


class _Compiled:
    """A statement compiled for one dialect and parameter set, ready for the DB-API cursor."""

    __slots__ = ("binds", "results", "sql")

    def __init__(self, compiled: Any, columns: Any, dialect: Any) -> None:
        self.sql: str = compiled.string
        # (name, the value written into the statement if any, the type's bind processor)
        self.binds: list[tuple[str, Any, Any]] = [
            (name, bind.effective_value, bind.type.dialect_impl(dialect).bind_processor(dialect))
            for name in compiled.positiontup or ()
            for bind in (compiled.binds[name],)
        ]
        self.results: list[Any] = [
            c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns
        ]

    def parameters(self, params: dict[str, Any]) -> list[Any]:
        values = []
        for name, default, process in self.binds:
            value = params.get(name, default)
            values.append(process(value) if process is not None else value)
        return values

    def row(self, raw: tuple[Any, ...]) -> tuple[Any, ...]:
        return tuple(
            process(value) if process is not None else value
            for process, value in zip(self.results, raw, strict=True)
        )


class Prepared:
    """A Core statement that the lanes run on SQLite's DB-API cursor directly.

    SQLAlchemy's execution machinery (an execution context, parameter and result wrapping, a
    cache lookup) cost 0.15–0.25 ms of CPU per statement on the lanes' writer, several
    times what SQLite itself spends, and a verdict runs a dozen statements (issue 8). Here the
    statement is compiled once per parameter set, and its parameters and columns pass through
    the same type processors SQLAlchemy uses, so what is written and read is identical.
    Statements that need more than that (Python-side defaults, expanding IN lists) and every
    other engine go through `Connection.execute` as usual.
    """

    def __init__(self, stmt: Any) -> None:
        self.stmt = stmt
        self.keys = [c.key for c in getattr(stmt, "selected_columns", ())]
        self._dml = not hasattr(stmt, "selected_columns")
        self._compiled: dict[tuple[str, ...], _Compiled | None] = {}

    def _for(self, conn: Connection, params: dict[str, Any]) -> _Compiled | None:
        if conn.dialect.name != "sqlite":
            return None
        keys = tuple(params) if self._dml else ()
        if keys not in self._compiled:
            compiled = self.stmt.compile(dialect=conn.dialect, column_keys=list(keys) or None)
            simple = not (
                compiled.insert_prefetch
                or compiled.update_prefetch
                or any(b.expanding for b in compiled.binds.values())
            )
            columns = getattr(self.stmt, "selected_columns", ())
            self._compiled[keys] = _Compiled(compiled, columns, conn.dialect) if simple else None
        return self._compiled[keys]

    def _cursor(self, conn: Connection, compiled: _Compiled, params: dict[str, Any]) -> Any:
        values = compiled.parameters(params)
        try:
            return conn.connection.dbapi_connection.execute(  # type: ignore[union-attr]
                compiled.sql, values
            )
        except sqlite3.Error as exc:  # as SQLAlchemy raises it: IntegrityError and the like
            raise DBAPIError.instance(compiled.sql, values, exc, sqlite3.Error) from exc

    def rows(self, conn: Connection, params: dict[str, Any] | None = None) -> list[Sequence[Any]]:
        """Every row the statement returns."""
        params = params or {}
        compiled = self._for(conn, params)
        if compiled is None:
            return list(conn.execute(self.stmt, params))
        return [compiled.row(raw) for raw in self._cursor(conn, compiled, params).fetchall()]

    def first(self, conn: Connection, params: dict[str, Any] | None = None) -> Sequence[Any] | None:
        """The first row, or None."""
        params = params or {}
        compiled = self._for(conn, params)
        if compiled is None:
            return conn.execute(self.stmt, params).first()
        raw = self._cursor(conn, compiled, params).fetchone()
        return None if raw is None else compiled.row(raw)

    def record(
        self, conn: Connection, params: dict[str, Any] | None = None
    ) -> dict[str, Any] | None:
        """The first row as a mapping of column keys, or None."""
        row = self.first(conn, params)
        return None if row is None else dict(zip(self.keys, row, strict=True))

    def scalar(self, conn: Connection, params: dict[str, Any] | None = None) -> Any:
        """The first column of the first row (None when there is no row)."""
        row = self.first(conn, params)
        return None if row is None else row[0]

    def run(self, conn: Connection, params: dict[str, Any]) -> int:
        """Execute a data change; how many rows it touched."""
        compiled = self._for(conn, params)
        if compiled is None:
            return int(getattr(conn.execute(self.stmt, params), "rowcount", 0))
        return int(self._cursor(conn, compiled, params).rowcount)


class epoch(FunctionElement[float]):  # noqa: N801 (an SQL function, named like one)
    """A timestamp column as seconds since the Unix epoch (UTC), a float, computed by the
    database: reports that read tens of thousands of times need numbers to subtract and
    bucket, and parsing each into an aware `datetime` cost them a third of their time.
    SQLite keeps milliseconds of it (`julianday`), rounded so that a whole second stays whole
    (midnight must not fall in the day before)."""

    type = Float()
    inherit_cache = True
    name = "epoch"


@compiles(epoch, "sqlite")
def _epoch_sqlite(element: epoch, compiler: SQLCompiler, **kw: Any) -> str:
    # Our timestamps are stored as naive UTC text, which `julianday` reads as UTC.
    at = compiler.process(element.clauses, **kw)
    return f"round((julianday({at}) - 2440587.5) * 86400.0, 3)"


@compiles(epoch, "postgresql")
def _epoch_postgres(element: epoch, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST(EXTRACT(EPOCH FROM {compiler.process(element.clauses, **kw)}) AS FLOAT)"
