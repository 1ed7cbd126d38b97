"""Deployments as the API shows them."""

from datetime import datetime
from uuid import UUID

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from versioner.common.resources import DeploymentPublic
from versioner.common.rows import public
from versioner.common.status import Status
from versioner.policy.store.hot_path import DeploymentRecord
from versioner.policy.store.tables import Deployment, Environment, Product, Version


def deployment_public(
    d: Deployment | DeploymentRecord,
    product: str,
    version: str,
    environment: str,
    soak_hours: float | None,
) -> DeploymentPublic:
    """A deployment with its names and soak time."""
    return public(
        DeploymentPublic,
        d,
        product_name=product,
        version=version,
        environment_name=environment,
        soak_time_hours=soak_hours,
    )


async def last_completed(
    session: AsyncSession, pairs: set[tuple[UUID, UUID]]
) -> dict[tuple[UUID, UUID], datetime]:
    """When each (version, environment) last completed a deployment."""
    if not pairs:
        return {}
    versions = {v for v, _ in pairs}
    environments = {e for _, e in pairs}
    rows = await session.execute(
        select(
            col(Deployment.version_id),
            col(Deployment.environment_id),
            func.max(col(Deployment.finished_at)),
        )
        .where(
            col(Deployment.version_id).in_(versions),
            col(Deployment.environment_id).in_(environments),
            col(Deployment.status) == Status.COMPLETED,
        )
        .group_by(col(Deployment.version_id), col(Deployment.environment_id))
    )
    return {(v, e): at for v, e, at in rows.all() if at is not None and (v, e) in pairs}


def hours_since(moment: datetime | None, now: datetime) -> float | None:
    """Hours from a moment to now, or None without one."""
    if moment is None:
        return None
    return round(max((now - moment).total_seconds(), 0.0) / 3600, 6)


async def deployments_public(
    session: AsyncSession, deployments: list[Deployment], now: datetime
) -> list[DeploymentPublic]:
    """Many deployments with their names and soak times, in a constant number of queries."""
    if not deployments:
        return []
    products = dict(
        (
            await session.execute(
                select(col(Product.id), col(Product.name)).where(
                    col(Product.id).in_({d.product_id for d in deployments})
                )
            )
        ).all()
    )
    environments = dict(
        (
            await session.execute(
                select(col(Environment.id), col(Environment.name)).where(
                    col(Environment.id).in_({d.environment_id for d in deployments})
                )
            )
        ).all()
    )
    versions = dict(
        (
            await session.execute(
                select(col(Version.id), col(Version.version)).where(
                    col(Version.id).in_({d.version_id for d in deployments})
                )
            )
        ).all()
    )
    done = await last_completed(session, {(d.version_id, d.environment_id) for d in deployments})
    return [
        deployment_public(
            d,
            products[d.product_id],
            versions[d.version_id],
            environments[d.environment_id],
            hours_since(done.get((d.version_id, d.environment_id)), now),
        )
        for d in deployments
    ]
