"""The notifier's logs (deliveries, firings): newest first, paged by a cursor id."""

from typing import Any, TypeVar
from uuid import UUID

from pydantic import BaseModel
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from versioner.common.errors import Failure, not_found
from versioner.common.resources import Page
from versioner.common.rows import public
from versioner.notifier.tables import Delivery, Firing

Row = TypeVar("Row", Delivery, Firing)
View = TypeVar("View", bound=BaseModel)


async def page(
    session: AsyncSession,
    model: type[Row],
    where: list[ColumnElement[Any]],
    *,
    before: UUID | None,
    limit: int,
    view: type[View],
) -> Page[View] | Failure:
    """Rows matching `where`, newest first (by insertion), from the row `before` on; the total
    counts every match. An unknown cursor is 404."""
    total = (
        await session.execute(select(func.count()).select_from(model).where(*where))
    ).scalar_one()
    if before is not None:
        cursor = (
            await session.execute(select(col(model.seq)).where(col(model.id) == before))
        ).scalar_one_or_none()
        if cursor is None:
            return not_found()
        where = [*where, col(model.seq) < cursor]
    found = await session.execute(
        select(model).where(*where).order_by(col(model.seq).desc()).limit(limit)
    )
    items = [public(view, row) for row in found.scalars()]
    return Page[view](items=items, total=total)  # type: ignore[valid-type]
