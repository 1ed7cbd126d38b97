"""Lists newest first, with a `before=<id>` cursor and the total."""

from typing import Any, TypeVar
from uuid import UUID

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Select

from versioner.policy.store.sql import count

M = TypeVar("M")


async def paginate(
    session: AsyncSession,
    stmt: Select[Any],
    model: type[M],
    limit: int,
    before: UUID | None,
    *,
    order_column: str = "created_at",
) -> tuple[list[M], int] | None:
    """One page of `stmt`'s rows and the total; None when the cursor names no row."""
    created = getattr(model, order_column)
    ident = model.id  # type: ignore[attr-defined]
    total = await count(session, stmt)
    if before is not None:
        anchor = (
            await session.execute(select(created).where(ident == before))
        ).scalar_one_or_none()
        if anchor is None:
            return None
        stmt = stmt.where(or_(created < anchor, (created == anchor) & (ident < before)))
    rows = await session.execute(stmt.order_by(created.desc(), ident.desc()).limit(limit))
    return list(rows.scalars()), total
