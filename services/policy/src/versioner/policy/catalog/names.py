"""Products and environments by name or id, and their names: listed, and renamed."""

from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from versioner.common.errors import Failure, conflict
from versioner.policy.catalog.lookup import (
    find_environment,
    find_product,
)
from versioner.policy.store.sql import insert_ignore
from versioner.policy.store.sql import table as table_of
from versioner.policy.store.tables import (
    Environment,
    Product,
)


def as_uuid(ref: str) -> UUID | None:
    """The reference as an id, if it is one."""
    try:
        return UUID(ref)
    except ValueError:
        return None


async def product_by_ref(session: AsyncSession, ref: str) -> Product | None:
    """A product by id or by any of its names."""
    if (ident := as_uuid(ref)) and (product := await session.get(Product, ident)):
        return product
    named = await find_product(session, ref)
    return await session.get(Product, named.id) if named else None


async def environment_by_ref(session: AsyncSession, ref: str) -> Environment | None:
    """An environment by id or by any of its names."""
    if (ident := as_uuid(ref)) and (environment := await session.get(Environment, ident)):
        return environment
    named = await find_environment(session, ref)
    return await session.get(Environment, named.id) if named else None


async def all_names(
    session: AsyncSession, table: Any, key: str, ids: list[UUID]
) -> dict[UUID, list[str]]:
    """Every name of each record (`key`: the names table's column holding its id)."""
    names: dict[UUID, list[str]] = {}
    if not ids:
        return names
    column = getattr(table, key)
    rows = await session.execute(
        select(column, table.name).where(column.in_(ids)).order_by(table.created_at, table.name)
    )
    for owner, name in rows.all():
        names.setdefault(owner, []).append(name)
    return names


async def rename(
    session: AsyncSession, table: Any, key: str, record_id: UUID, *, new_name: str, now: Any
) -> Failure | None:
    """Give a record a new name; every old one stays its own (and reserved)."""
    owner = (
        await session.execute(select(getattr(table, key)).where(table.name == new_name))
    ).scalar_one_or_none()
    if owner is not None and owner != record_id:
        return conflict(f"The name {new_name} is taken")
    if owner is None and not await insert_ignore(
        session, table_of(table), {"name": new_name, key: record_id, "created_at": now}
    ):
        return conflict(f"The name {new_name} is taken")
    return None
