"""The append-only audit log: who did what, when."""

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert

from versioner.common.messages.actor import Actor
from versioner.policy.store.sql import Executor, Prepared, table
from versioner.policy.store.tables import AuditEntry

_INSERT = insert(table(AuditEntry))
_PREPARED = Prepared(_INSERT)


def _entry(
    *,
    actor: Actor | str,
    kind: str,
    summary: str,
    at: datetime,
    subject_id: object | None = None,
    data: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "at": at,
        "actor": actor if isinstance(actor, str) else actor.label,
        "kind": kind,
        "subject_id": None if subject_id is None else str(subject_id),
        "summary": summary,
        "data": data or {},
    }


async def audit(executor: Executor, **entry: Any) -> None:
    """Add a line to the audit log, in the caller's (async) transaction."""
    await executor.execute(_INSERT, _entry(**entry))


def audit_in(conn: Connection, **entry: Any) -> None:
    """Add a line to the audit log, in the caller's (sync) transaction."""
    _PREPARED.run(conn, _entry(**entry))
