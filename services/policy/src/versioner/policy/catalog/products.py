"""Products: listed, read, renamed and described."""

from sqlmodel import select

from versioner.common.errors import Failure, not_found
from versioner.common.messages.management import (
    GetProduct,
    ListProducts,
    UpdateProduct,
)
from versioner.common.resources import (
    Page,
    ProductPublic,
)
from versioner.policy.catalog.lookup import (
    product_names,
    product_public,
)
from versioner.policy.catalog.names import all_names, product_by_ref, rename
from versioner.policy.context import PolicyContext
from versioner.policy.logs.audit import audit
from versioner.policy.registry import handles
from versioner.policy.store import revision
from versioner.policy.store.paging import paginate
from versioner.policy.store.tables import (
    Product,
    ProductName,
)


@handles(ListProducts)
async def list_products(ctx: PolicyContext, request: ListProducts) -> Page[ProductPublic] | Failure:
    """Every product, newest first."""
    async with ctx.db.read() as session:
        page = await paginate(session, select(Product), Product, request.limit, request.before)
        if page is None:
            return not_found()
        products, total = page
        names = await all_names(session, ProductName, "product_id", [p.id for p in products])
    return Page[ProductPublic](
        items=[product_public(p, names.get(p.id, [])) for p in products], total=total
    )


@handles(GetProduct)
async def get_product(ctx: PolicyContext, request: GetProduct) -> ProductPublic | Failure:
    """A product by id or any of its names."""
    async with ctx.db.read() as session:
        product = await product_by_ref(session, request.ref)
        if product is None:
            return not_found()
        return product_public(product, await product_names(session, product.id))


@handles(UpdateProduct)
async def update_product(ctx: PolicyContext, request: UpdateProduct) -> ProductPublic | Failure:
    """Rename or describe a product."""
    now = ctx.clock.now()
    async with ctx.db.write() as session:
        product = await session.get(Product, request.product_id)
        if product is None:
            return not_found()
        if request.name is not None and request.name != product.name:
            if failure := await rename(
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
