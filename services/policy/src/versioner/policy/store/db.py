"""Engines and transactions for SQLite (the default) and PostgreSQL (at scale).

Two kinds of transaction:

- `run(work)`: a plain function over a SQLAlchemy `Connection` (Core statements, `Prepared`
  ones on the driver), the ordered lanes' hot path. On PostgreSQL it runs through
  `run_sync` over asyncpg, lanes in parallel.
  On SQLite it runs on the event loop itself, on a pysqlite connection of its own: the
  aiosqlite adapter costs three or four thread hand-offs per statement (cursor, execute,
  fetch, close), some sixty for a verdict of ten statements; one writer thread still cost a
  hand-off each way, 0.4–0.6 ms per verdict at one connection against 0.75 ms for the
  transaction itself, and more CPU than the transaction under load (issue 8). SQLite writes
  one transaction at a time anyway, so the loop only waits for what SQLite would make it
  wait for; the price is that nothing else runs on the loop during a transaction (a
  verdict's takes under a millisecond; another process holding the database's write lock,
  which only a migration does, stalls the loop up to the busy timeout). What is queued
  while a batch is written goes in the next one together (group commit): each piece of work
  in its own SAVEPOINT, so one that fails rolls back alone, and one COMMIT for the batch.
- `write()` / `read()`: ORM sessions over aiosqlite or asyncpg, for management commands.

SQLite has a single writer anyway, so writes (both kinds) take an in-process lock and never
contend inside SQLite, and a write transaction starts with `BEGIN IMMEDIATE`, holding the
database from its first read. Reads run beside writes (WAL). PostgreSQL gets one pool;
correctness there comes from row locks and unique constraints, not from this process.

The decision and its measurements: docs/adr/0002-sqlite-writes-on-the-event-loop.md.
"""

import asyncio
import contextvars
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, DateTime, Engine, create_engine, event
from sqlalchemy.engine import URL, Dialect, make_url
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.pool import AsyncAdaptedQueuePool, StaticPool
from sqlalchemy.types import TypeDecorator

T = TypeVar("T")

# Pieces of work committed together at most; a batch holds the database that long.
_MAX_BATCH = 64


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back aware, whatever the engine."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Store UTC; SQLite keeps it naive."""
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Read back aware, in UTC."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# How long a statement waits for another connection's lock (SQLite's busy timeout).
_BUSY_TIMEOUT_S = 30


def _switch_to_wal(cursor: Any) -> None:
    """Put a new database in WAL mode (it stays so). The switch needs the database to itself
    and SQLite refuses it at once, without the busy wait, while another connection holds a
    lock: a replica starting at the same moment, which switches it or already did. Tried
    again until the busy timeout."""
    deadline = time.monotonic() + _BUSY_TIMEOUT_S
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except Exception as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
        time.sleep(0.05)


def _sqlite_listeners(engine: Engine, begin: str | None) -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event issue BEGIN, so we choose IMMEDIATE or DEFERRED.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_S * 1000}")
        cursor.execute("PRAGMA journal_mode")
        if str(cursor.fetchone()[0]).lower() != "wal":
            _switch_to_wal(cursor)
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    if begin is None:  # the caller begins and ends its transactions on the driver
        return

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql(begin)


def _sqlite_batch_engine(url: URL) -> Engine:
    """pysqlite on the same file, for `run`'s batches (one connection, on the event loop).

    Batches begin, commit and roll back on the driver itself (`Database._write_batch`):
    SQLAlchemy's transaction objects cost as much as a small verdict's statements (issue 8).
    """
    engine = create_engine(
        url.set(drivername="sqlite+pysqlite"),
        poolclass=StaticPool,
        # Used on the loop's thread only; the pool may still close it from another at exit.
        connect_args={"check_same_thread": False},
    )
    _sqlite_listeners(engine, None)
    return engine


class Database:
    """Policy's database: transactions to write, sessions to read."""

    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = make_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        self._lock: asyncio.Lock | None = None
        self._queue: list[tuple[Callable[[Connection], Any], asyncio.Future[Any]]] = []
        self._urgent: list[tuple[Callable[[Connection], Any], asyncio.Future[Any]]] = []
        self._writing: asyncio.Task[None] | None = None
        self._batch_engine: Engine | None = None
        self._batch_connection: Connection | None = None
        if self.is_sqlite:
            if self.url.database and self.url.database != ":memory:":
                Path(self.url.database).parent.mkdir(parents=True, exist_ok=True)
            self.writer = create_async_engine(
                self.url, poolclass=AsyncAdaptedQueuePool, pool_size=1, max_overflow=0
            )
            _sqlite_listeners(self.writer.sync_engine, "BEGIN IMMEDIATE")
            self.reader = create_async_engine(
                self.url, poolclass=AsyncAdaptedQueuePool, pool_size=4, max_overflow=0
            )
            _sqlite_listeners(self.reader.sync_engine, "BEGIN")
            self._batch_engine = _sqlite_batch_engine(self.url)
        else:
            # Connections kept, none opened per burst: an overflow connection closed on return
            # was opened again (TLS negotiation included) under every burst of lane messages.
            # No ping per checkout (a round trip per transaction): after a database restart
            # the first statement on a stale connection fails, SQLAlchemy drops the pool's
            # connections, and the lane or management message is tried again (issue 8:
            # PostgreSQL 117 → 151 requests/s at 32 connections with both).
            self.writer = create_async_engine(self.url, pool_size=2 * pool_size, max_overflow=0)
            self.reader = self.writer

    @property
    def dialect(self) -> str:
        """`sqlite` or `postgresql`."""
        return self.url.get_backend_name()

    @asynccontextmanager
    async def _serialised(self) -> AsyncIterator[None]:
        """SQLite: one write transaction at a time in this process."""
        if not self.is_sqlite:
            yield
            return
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            yield

    def _write_batch(self, works: list[Callable[[Connection], Any]]) -> list[tuple[bool, Any]]:
        """Run a batch in one transaction, each piece of work in a savepoint of its own."""
        if self._batch_connection is None:
            assert self._batch_engine is not None
            self._batch_connection = self._batch_engine.connect()
        connection = self._batch_connection
        driver = connection.connection.dbapi_connection
        assert driver is not None
        outcomes: list[tuple[bool, Any]] = []
        try:
            driver.execute("BEGIN IMMEDIATE")
            if len(works) == 1:
                # Alone in its batch: the transaction is its own; no savepoint needed.
                outcomes.append((True, works[0](connection)))
            else:
                for work in works:
                    driver.execute("SAVEPOINT work")
                    try:
                        value = work(connection)
                    except Exception as exc:  # handed to that work's caller
                        driver.execute("ROLLBACK TO work")
                        driver.execute("RELEASE work")
                        outcomes.append((False, exc))
                    else:
                        driver.execute("RELEASE work")
                        outcomes.append((True, value))
            driver.execute("COMMIT")
        except Exception as exc:  # nothing was written
            if driver.in_transaction:
                driver.execute("ROLLBACK")
            return [(False, exc)] * len(works)
        finally:
            # Statements run through SQLAlchemy opened its idea of a transaction; the driver's
            # is over, so this only resets SQLAlchemy's (pysqlite has nothing to roll back).
            if connection.in_transaction():
                connection.rollback()
        return outcomes

    async def _write_queued(self) -> None:
        while self._urgent or self._queue:
            batch, self._urgent = self._urgent[:_MAX_BATCH], self._urgent[_MAX_BATCH:]
            room = _MAX_BATCH - len(batch)
            batch, self._queue = batch + self._queue[:room], self._queue[room:]
            async with self._serialised():
                outcomes = self._write_batch([work for work, _ in batch])
            for (_, future), (ok, value) in zip(batch, outcomes, strict=True):
                if future.done():
                    continue
                if ok:
                    future.set_result(value)
                else:
                    future.set_exception(value)
        self._writing = None

    async def run(self, work: Callable[[Connection], T], *, urgent: bool = False) -> T:
        """Run `work` in a write transaction: committed if it returns, rolled back on raise.

        On SQLite, `urgent` work goes into the next batch ahead of everything waiting: for
        small writes whose order against the lanes' does not matter, which a backlog on the
        lanes must not hold up (notes of events answered 202, behind which a management
        queue's pings would wait).
        """
        if self._batch_engine is None:
            async with self.writer.begin() as connection:
                return await connection.run_sync(work)
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        # In the caller's context, whichever task writes the batch: what it logs and what it
        # puts in the outbox carry the caller's event and request ids (and trace).
        context = contextvars.copy_context()

        def in_context(connection: Connection) -> T:
            return context.run(work, connection)

        (self._urgent if urgent else self._queue).append((in_context, future))
        if self._writing is None:
            self._writing = asyncio.create_task(self._write_queued(), name="sqlite-writer")
        return await future

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """A write transaction: committed when the block ends, rolled back if it raises.

        No autoflush: ORM changes go out in one flush at commit, or where the code flushes.
        """
        async with (
            self._serialised(),
            AsyncSession(self.writer, expire_on_commit=False, autoflush=False) as session,
            session.begin(),
        ):
            yield session

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A read-only session."""
        async with AsyncSession(self.reader, expire_on_commit=False) as session:
            yield session

    async def dispose(self) -> None:
        """Close every connection."""
        await self.writer.dispose()
        if self.reader is not self.writer:
            await self.reader.dispose()
        if self._batch_connection is not None:
            self._batch_connection.close()
            self._batch_connection = None
        if self._batch_engine is not None:
            self._batch_engine.dispose()
