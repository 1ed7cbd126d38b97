"""Deployments listed and read, and the state matrix: what runs where."""

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from versioner.common.errors import Failure, not_found
from versioner.common.messages.management import (
    GetDeployment,
    GetState,
    ListDeployments,
)
from versioner.common.resources import (
    ENVIRONMENT_TYPE_ORDER,
    DeploymentPublic,
    LatestAttempt,
    Page,
    StateCell,
    StateEnvironment,
    StateRow,
    StateView,
)
from versioner.common.status import Status
from versioner.policy.catalog.lookup import (
    find_environment,
    find_product,
)
from versioner.policy.context import PolicyContext
from versioner.policy.deployments.views import deployments_public
from versioner.policy.registry import handles
from versioner.policy.store.paging import paginate
from versioner.policy.store.tables import (
    Deployment,
    Environment,
    EnvironmentName,
    EnvironmentState,
    Product,
    ProductName,
    Version,
)


@handles(ListDeployments)
async def list_deployments(
    ctx: PolicyContext, request: ListDeployments
) -> Page[DeploymentPublic] | Failure:
    """Deployments, newest first."""
    async with ctx.db.read() as session:
        stmt = select(Deployment)
        if request.product is not None:
            product = await find_product(session, request.product)
            if product is None:
                return Page[DeploymentPublic](items=[], total=0)
            stmt = stmt.where(col(Deployment.product_id) == product.id)
        if request.environment is not None:
            environment = await find_environment(session, request.environment)
            if environment is None:
                return Page[DeploymentPublic](items=[], total=0)
            stmt = stmt.where(col(Deployment.environment_id) == environment.id)
        if request.status is not None:
            stmt = stmt.where(col(Deployment.status) == request.status)
        page = await paginate(
            session, stmt, Deployment, request.limit, request.before, order_column="deployed_at"
        )
        if page is None:
            return not_found()
        deployments, total = page
        items = await deployments_public(session, deployments, ctx.clock.now())
    return Page[DeploymentPublic](items=items, total=total)


@handles(GetDeployment)
async def get_deployment(ctx: PolicyContext, request: GetDeployment) -> DeploymentPublic | Failure:
    """A deployment by id."""
    async with ctx.db.read() as session:
        deployment = await session.get(Deployment, request.deployment_id)
        if deployment is None:
            return not_found()
        [public] = await deployments_public(session, [deployment], ctx.clock.now())
    return public


@handles(GetState)
async def get_state(ctx: PolicyContext, request: GetState) -> StateView | Failure:
    """The state matrix: every product by every environment, narrowed by names."""
    async with ctx.db.read() as session:
        products = await _narrowed(session, Product, ProductName, "product_id", request.products)
        environments = await _narrowed(
            session, Environment, EnvironmentName, "environment_id", request.environments
        )
        environments.sort(key=lambda e: (ENVIRONMENT_TYPE_ORDER.get(e.type, 9), e.name))
        states = (
            (
                await session.execute(
                    select(EnvironmentState).where(
                        col(EnvironmentState.product_id).in_([p.id for p in products]),
                        col(EnvironmentState.environment_id).in_([e.id for e in environments]),
                    )
                )
            )
            .scalars()
            .all()
        )
        wanted = {s.current_deployment_id for s in states} | {
            s.latest_deployment_id for s in states
        }
        wanted.discard(None)
        deployments = {
            d.id: d
            for d in (
                await session.execute(select(Deployment).where(col(Deployment.id).in_(wanted)))
            ).scalars()
        }
        versions = dict(
            (
                await session.execute(
                    select(col(Version.id), col(Version.version)).where(
                        col(Version.id).in_({d.version_id for d in deployments.values()})
                    )
                )
            ).all()
        )
    by_pair = {(s.product_id, s.environment_id): s for s in states}
    rows = []
    for product in sorted(products, key=lambda p: p.name):
        cells: dict[str, StateCell] = {}
        for environment in environments:
            state = by_pair.get((product.id, environment.id))
            if state is None:
                continue
            current = (
                deployments.get(state.current_deployment_id)
                if state.current_deployment_id
                else None
            )
            latest = (
                deployments.get(state.latest_deployment_id) if state.latest_deployment_id else None
            )
            if current is None and latest is None:
                continue
            cells[environment.name] = StateCell(
                version=versions[current.version_id] if current else None,
                deployment_id=current.id if current else None,
                deployed_at=current.deployed_at if current else None,
                deployed_by=current.deployed_by if current else None,
                status=Status(current.status) if current else None,
                latest=None
                if latest is None or (current is not None and latest.id == current.id)
                else LatestAttempt(
                    version=versions[latest.version_id],
                    status=Status(latest.status),
                    deployment_id=latest.id,
                ),
            )
        shown = {cell.version for cell in cells.values() if cell.version is not None}
        rows.append(
            StateRow(product=product.name, product_id=product.id, drift=len(shown) > 1, cells=cells)
        )
    return StateView(
        environments=[StateEnvironment(name=e.name, type=e.type) for e in environments],
        products=rows,
    )


async def _narrowed(
    session: AsyncSession, model: Any, names_table: Any, key: str, names: list[str]
) -> list[Any]:
    stmt = select(model)
    if names:
        ids = select(getattr(names_table, key)).where(names_table.name.in_(names))
        stmt = stmt.where(model.id.in_(ids))
    return list((await session.execute(stmt)).scalars())
