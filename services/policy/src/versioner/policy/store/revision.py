"""The policy revision: read (shared) by every verdict, bumped by every change verdicts read.

On PostgreSQL the verdict holds `FOR SHARE` on the one row for its transaction and a change
takes it exclusively, so a rule enabled, a request rejected or an approval revoked is never
missed by a verdict that commits after it. SQLite has one writer: the same order holds.
"""

from datetime import datetime

from sqlalchemy import Connection, select, update

from versioner.policy.store.sql import Executor, Prepared, is_postgres, table
from versioner.policy.store.tables import PolicyRevision

_REVISION = table(PolicyRevision)
_SELECT = select(_REVISION.c.revision).where(_REVISION.c.id == 1)
_READ = Prepared(_SELECT)
_READ_SHARED = Prepared(_SELECT.with_for_update(read=True))


def read(conn: Connection) -> int:
    """The current revision, held for this transaction."""
    return int((_READ_SHARED if is_postgres(conn) else _READ).scalar(conn))


async def bump(executor: Executor, now: datetime) -> None:
    """A change verdicts read: the next revision (waits for verdicts in flight on PostgreSQL)."""
    await executor.execute(
        update(_REVISION)
        .where(_REVISION.c.id == 1)
        .values(revision=_REVISION.c.revision + 1, updated_at=now)
    )
