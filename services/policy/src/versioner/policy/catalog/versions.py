"""Versions of a product: listed and read."""

from sqlmodel import col, select

from versioner.common.errors import Failure, not_found
from versioner.common.messages.management import (
    GetVersion,
    ListVersions,
)
from versioner.common.resources import (
    Page,
    VersionPublic,
)
from versioner.policy.catalog.lookup import (
    find_product,
    version_public,
)
from versioner.policy.context import PolicyContext
from versioner.policy.registry import handles
from versioner.policy.store.paging import paginate
from versioner.policy.store.tables import (
    Product,
    Version,
)


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
