"""Catalog reads and edits: products, environments, versions, deployments, the state matrix."""

from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from versioner.common.errors import Failure, conflict, not_found
from versioner.common.messages.management import (
    GetDeployment,
    GetEnvironment,
    GetEvent,
    GetProduct,
    GetState,
    GetVersion,
    ListDeployments,
    ListEnvironments,
    ListProducts,
    ListVersions,
    UpdateEnvironment,
    UpdateProduct,
)
from versioner.common.resources import (
    ENVIRONMENT_TYPE_ORDER,
    DeploymentPublic,
    EnvironmentPublic,
    EventStatus,
    LatestAttempt,
    Page,
    ProductPublic,
    StateCell,
    StateEnvironment,
    StateRow,
    StateView,
    VersionPublic,
)
from versioner.common.status import Status
from versioner.policy.catalog.lookup import (
    environment_names,
    environment_public,
    find_environment,
    find_product,
    product_names,
    product_public,
    version_public,
)
from versioner.policy.context import PolicyContext
from versioner.policy.deployments.views import deployments_public
from versioner.policy.logs.audit import audit
from versioner.policy.registry import handles
from versioner.policy.store import eventlog, revision
from versioner.policy.store.paging import paginate
from versioner.policy.store.sql import insert_ignore
from versioner.policy.store.sql import table as table_of
from versioner.policy.store.tables import (
    Deployment,
    Environment,
    EnvironmentName,
    EnvironmentState,
    Product,
    ProductName,
    Version,
)


def _as_uuid(ref: str) -> UUID | None:
    try:
        return UUID(ref)
    except ValueError:
        return None


async def _product_by_ref(session: AsyncSession, ref: str) -> Product | None:
    if (ident := _as_uuid(ref)) and (product := await session.get(Product, ident)):
        return product
    named = await find_product(session, ref)
    return await session.get(Product, named.id) if named else None


async def _environment_by_ref(session: AsyncSession, ref: str) -> Environment | None:
    if (ident := _as_uuid(ref)) and (environment := await session.get(Environment, ident)):
        return environment
    named = await find_environment(session, ref)
    return await session.get(Environment, named.id) if named else None


@handles(GetEvent)
async def get_event(ctx: PolicyContext, request: GetEvent) -> EventStatus | Failure:
    """What became of an event; API keys see only the events they sent."""
    async with ctx.db.read() as session:
        record = await eventlog.find(session, request.event_id)
    if record is None:
        return not_found()
    if request.actor.kind == "api_key" and record.sender_id != request.actor.id:
        return not_found()
    return eventlog.event_status(record)


@handles(ListProducts)
async def list_products(ctx: PolicyContext, request: ListProducts) -> Page[ProductPublic] | Failure:
    """Every product, newest first."""
    async with ctx.db.read() as session:
        page = await paginate(session, select(Product), Product, request.limit, request.before)
        if page is None:
            return not_found()
        products, total = page
        names = await _all_names(session, ProductName, "product_id", [p.id for p in products])
    return Page[ProductPublic](
        items=[product_public(p, names.get(p.id, [])) for p in products], total=total
    )


async def _all_names(
    session: AsyncSession, table: Any, key: str, ids: list[UUID]
) -> dict[UUID, list[str]]:
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


@handles(GetProduct)
async def get_product(ctx: PolicyContext, request: GetProduct) -> ProductPublic | Failure:
    """A product by id or any of its names."""
    async with ctx.db.read() as session:
        product = await _product_by_ref(session, request.ref)
        if product is None:
            return not_found()
        return product_public(product, await product_names(session, product.id))


async def _rename(
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


@handles(UpdateProduct)
async def update_product(ctx: PolicyContext, request: UpdateProduct) -> ProductPublic | Failure:
    """Rename or describe a product."""
    now = ctx.clock.now()
    async with ctx.db.write() as session:
        product = await session.get(Product, request.product_id)
        if product is None:
            return not_found()
        if request.name is not None and request.name != product.name:
            if failure := await _rename(
                session, ProductName, "product_id", product.id, new_name=request.name, now=now
            ):
                return failure
            await audit(
                session,
                actor=request.actor,
                kind="product.renamed",
                summary=f"product {product.name} renamed to {request.name}",
                at=now,
                subject_id=product.id,
                data={"from": product.name, "to": request.name},
            )
            product.name = request.name
            await revision.bump(session, now)
        if request.description is not None:
            product.description = request.description
        if request.metadata is not None:
            product.meta = request.metadata
        product.updated_at = now
        names = await product_names(session, product.id)
    return product_public(product, names)


@handles(ListEnvironments)
async def list_environments(
    ctx: PolicyContext, request: ListEnvironments
) -> Page[EnvironmentPublic] | Failure:
    """Every environment, newest first."""
    stmt = select(Environment)
    if request.type:
        stmt = stmt.where(col(Environment.type) == request.type)
    async with ctx.db.read() as session:
        page = await paginate(session, stmt, Environment, request.limit, request.before)
        if page is None:
            return not_found()
        environments, total = page
        names = await _all_names(
            session, EnvironmentName, "environment_id", [e.id for e in environments]
        )
    return Page[EnvironmentPublic](
        items=[environment_public(e, names.get(e.id, [])) for e in environments], total=total
    )


@handles(GetEnvironment)
async def get_environment(
    ctx: PolicyContext, request: GetEnvironment
) -> EnvironmentPublic | Failure:
    """An environment by id or any of its names."""
    async with ctx.db.read() as session:
        environment = await _environment_by_ref(session, request.ref)
        if environment is None:
            return not_found()
        return environment_public(environment, await environment_names(session, environment.id))


@handles(UpdateEnvironment)
async def update_environment(
    ctx: PolicyContext, request: UpdateEnvironment
) -> EnvironmentPublic | Failure:
    """Rename, retype or describe an environment."""
    now = ctx.clock.now()
    async with ctx.db.write() as session:
        environment = await session.get(Environment, request.environment_id)
        if environment is None:
            return not_found()
        if request.name is not None and request.name != environment.name:
            if failure := await _rename(
                session,
                EnvironmentName,
                "environment_id",
                environment.id,
                new_name=request.name,
                now=now,
            ):
                return failure
            await audit(
                session,
                actor=request.actor,
                kind="environment.renamed",
                summary=f"environment {environment.name} renamed to {request.name}",
                at=now,
                subject_id=environment.id,
                data={"from": environment.name, "to": request.name},
            )
            environment.name = request.name
            await revision.bump(session, now)
        if request.type is not None and request.type != environment.type:
            await audit(
                session,
                actor=request.actor,
                kind="environment.retyped",
                summary=f"environment {environment.name} is now {request.type}",
                at=now,
                subject_id=environment.id,
                data={"from": environment.type, "to": request.type},
            )
            environment.type = request.type
        if request.description is not None:
            environment.description = request.description
        if request.metadata is not None:
            environment.meta = request.metadata
        environment.updated_at = now
        names = await environment_names(session, environment.id)
    return environment_public(environment, names)


@handles(ListVersions)
async def list_versions(ctx: PolicyContext, request: ListVersions) -> Page[VersionPublic] | Failure:
    """Versions, newest first, by product and SHA."""
    async with ctx.db.read() as session:
        stmt = select(Version)
        if request.product is not None:
            product = await find_product(session, request.product)
            if product is None:
                return Page[VersionPublic](items=[], total=0)
            stmt = stmt.where(col(Version.product_id) == product.id)
        if request.scm_sha is not None:
            stmt = stmt.where(col(Version.scm_sha) == request.scm_sha)
        page = await paginate(session, stmt, Version, request.limit, request.before)
        if page is None:
            return not_found()
        versions, total = page
        names = dict(
            (
                await session.execute(
                    select(col(Product.id), col(Product.name)).where(
                        col(Product.id).in_({v.product_id for v in versions})
                    )
                )
            ).all()
        )
    return Page[VersionPublic](
        items=[version_public(v, names[v.product_id]) for v in versions], total=total
    )


@handles(GetVersion)
async def get_version(ctx: PolicyContext, request: GetVersion) -> VersionPublic | Failure:
    """A version by id."""
    async with ctx.db.read() as session:
        version = await session.get(Version, request.version_id)
        if version is None:
            return not_found()
        product = await session.get(Product, version.product_id)
    assert product is not None
    return version_public(version, product.name)


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
