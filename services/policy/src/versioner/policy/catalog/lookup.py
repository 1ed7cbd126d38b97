"""Products, environments and versions as management reads them: by any name they have had."""

from dataclasses import dataclass
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from versioner.common.resources import EnvironmentPublic, ProductPublic, VersionPublic
from versioner.common.rows import public
from versioner.policy.store.tables import (
    Environment,
    EnvironmentName,
    Product,
    ProductName,
    Version,
)


@dataclass(frozen=True)
class Named:
    """A product or environment as events see it: its id and current name."""

    id: UUID
    name: str


async def find_product(session: AsyncSession, name: str) -> Named | None:
    """The product that has or had this name."""
    row = (
        await session.execute(
            select(col(Product.id), col(Product.name))
            .join(ProductName, col(ProductName.product_id) == col(Product.id))
            .where(col(ProductName.name) == name)
        )
    ).first()
    return Named(row[0], row[1]) if row else None


async def find_environment(session: AsyncSession, name: str) -> Named | None:
    """The environment that has or had this name."""
    row = (
        await session.execute(
            select(col(Environment.id), col(Environment.name))
            .join(EnvironmentName, col(EnvironmentName.environment_id) == col(Environment.id))
            .where(col(EnvironmentName.name) == name)
        )
    ).first()
    return Named(row[0], row[1]) if row else None


async def product_names(session: AsyncSession, product_id: UUID) -> list[str]:
    """Every name the product has had, oldest first."""
    rows = await session.execute(
        select(col(ProductName.name))
        .where(col(ProductName.product_id) == product_id)
        .order_by(col(ProductName.created_at), col(ProductName.name))
    )
    return list(rows.scalars())


async def environment_names(session: AsyncSession, environment_id: UUID) -> list[str]:
    """Every name the environment has had, oldest first."""
    rows = await session.execute(
        select(col(EnvironmentName.name))
        .where(col(EnvironmentName.environment_id) == environment_id)
        .order_by(col(EnvironmentName.created_at), col(EnvironmentName.name))
    )
    return list(rows.scalars())


def product_public(product: Product, names: list[str]) -> ProductPublic:
    """A product as the API shows it."""
    previous = [n for n in names if n != product.name]
    return public(ProductPublic, product, metadata=product.meta, previous_names=previous)


def environment_public(environment: Environment, names: list[str]) -> EnvironmentPublic:
    """An environment as the API shows it."""
    previous = [n for n in names if n != environment.name]
    return public(
        EnvironmentPublic, environment, metadata=environment.meta, previous_names=previous
    )


def version_public(version: Version, product_name: str) -> VersionPublic:
    """A version as the API shows it."""
    return public(VersionPublic, version, product_name=product_name)
