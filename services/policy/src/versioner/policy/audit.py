"""The append-only audit log: who did what, when."""

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from versioner.common.messages.actor import Actor
from versioner.policy.tables import AuditEntry


def audit(
    session: AsyncSession,
    *,
    actor: Actor | str,
    kind: str,
    summary: str,
    at: datetime,
    subject_id: object | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    """Add a line to the audit log, in the caller's transaction."""
    session.add(
        AuditEntry(
            at=at,
            actor=actor if isinstance(actor, str) else actor.label,
            kind=kind,
            subject_id=None if subject_id is None else str(subject_id),
            summary=summary,
            data=data or {},
        )
    )
