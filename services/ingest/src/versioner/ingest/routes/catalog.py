"""Catalog and state: products, environments, versions, deployments, the matrix."""

from typing import Annotated, Any
from uuid import UUID

from fastapi import Query, Response
from pydantic import BaseModel, Field

from versioner.common.errors import unprocessable
from versioner.common.messages.management import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    AbortDeployment,
    GetDeployment,
    GetEnvironment,
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
    DeploymentPublic,
    EnvironmentPublic,
    EnvironmentType,
    ProductPublic,
    StateView,
    VersionPublic,
)
from versioner.common.status import DEPLOYMENT_ALIASES, Status, parse_status, status_pattern
from versioner.common.types import Name
from versioner.ingest.deps import ActorDep, GatewayDep, ident, names
from versioner.ingest.gateway import FailureError
from versioner.ingest.openapi import conflict
from versioner.ingest.web import Router, respond, respond_list

router = Router(tags=["catalog"])

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]


class ProductPatch(BaseModel):
    """Rename or describe a product; every earlier name keeps resolving to it."""

    name: Name | None = None
    description: str | None = Field(default=None, max_length=10_000)
    metadata: dict[str, Any] | None = None


class EnvironmentPatch(BaseModel):
    """Rename, retype or describe an environment; every earlier name keeps resolving to it."""

    name: Name | None = None
    type: EnvironmentType | None = None
    description: str | None = Field(default=None, max_length=10_000)
    metadata: dict[str, Any] | None = None


@router.both("/products", methods=["GET"], responses={200: {"model": list[ProductPublic]}})
async def list_products(
    actor: ActorDep, gateway: GatewayDep, limit: Limit = DEFAULT_LIMIT, before: UUID | None = None
) -> Response:
    """Every product, newest first."""
    page = await gateway.ask(ListProducts(actor=actor, limit=limit, before=before))
    return respond_list(page.items, page.total)


@router.both("/products/{ref:path}", methods=["GET"], responses={200: {"model": ProductPublic}})
async def get_product(ref: str, actor: ActorDep, gateway: GatewayDep) -> Response:
    """A product by id or by any name it has had."""
    return respond(await gateway.ask(GetProduct(actor=actor, ref=ref.rstrip("/"))))


# `{ref}` as for reading, so the path has one entry in the OpenAPI document (and one `Allow`);
# a change names the product by id.
@router.both(
    "/products/{ref:path}",
    methods=["PATCH"],
    responses={200: {"model": ProductPublic}, **conflict("The new name is, or was, another's")},
)
async def update_product(
    ref: str, patch: ProductPatch, actor: ActorDep, gateway: GatewayDep
) -> Response:
    """Rename or describe a product, named by its id (admin, release_manager)."""
    request = UpdateProduct(
        actor=actor, product_id=ident(ref.rstrip("/")), **patch.model_dump(exclude_unset=True)
    )
    return respond(await gateway.ask(request))


@router.both("/environments", methods=["GET"], responses={200: {"model": list[EnvironmentPublic]}})
async def list_environments(
    actor: ActorDep,
    gateway: GatewayDep,
    type: EnvironmentType | None = None,
    limit: Limit = DEFAULT_LIMIT,
    before: UUID | None = None,
) -> Response:
    """Every environment, newest first (`?type=production` narrows)."""
    page = await gateway.ask(
        ListEnvironments(actor=actor, type=type, limit=limit, before=before),
    )
    return respond_list(page.items, page.total)


@router.both(
    "/environments/{ref:path}", methods=["GET"], responses={200: {"model": EnvironmentPublic}}
)
async def get_environment(ref: str, actor: ActorDep, gateway: GatewayDep) -> Response:
    """An environment by id or by any name it has had."""
    return respond(await gateway.ask(GetEnvironment(actor=actor, ref=ref.rstrip("/"))))


@router.both(
    "/environments/{ref:path}",
    methods=["PATCH"],
    responses={200: {"model": EnvironmentPublic}, **conflict("The new name is, or was, another's")},
)
async def update_environment(
    ref: str, patch: EnvironmentPatch, actor: ActorDep, gateway: GatewayDep
) -> Response:
    """Rename, retype or describe an environment, named by its id (admin, release_manager,
    sre)."""
    request = UpdateEnvironment(
        actor=actor, environment_id=ident(ref.rstrip("/")), **patch.model_dump(exclude_unset=True)
    )
    return respond(await gateway.ask(request))


@router.both("/versions", methods=["GET"], responses={200: {"model": list[VersionPublic]}})
async def list_versions(
    actor: ActorDep,
    gateway: GatewayDep,
    product: str | None = None,
    scm_sha: str | None = None,
    limit: Limit = DEFAULT_LIMIT,
    before: UUID | None = None,
) -> Response:
    """Every version any event created, newest first (`registered` once a build pinned it)."""
    request = ListVersions(
        actor=actor, product=product, scm_sha=scm_sha, limit=limit, before=before
    )
    page = await gateway.ask(request)
    return respond_list(page.items, page.total)


@router.both("/versions/{version_id}", methods=["GET"], responses={200: {"model": VersionPublic}})
async def get_version(version_id: str, actor: ActorDep, gateway: GatewayDep) -> Response:
    """A version by id."""
    return respond(await gateway.ask(GetVersion(actor=actor, version_id=ident(version_id))))


@router.both("/deployments", methods=["GET"], responses={200: {"model": list[DeploymentPublic]}})
async def list_deployments(
    actor: ActorDep,
    gateway: GatewayDep,
    product: str | None = None,
    environment: str | None = None,
    status: str | None = Query(
        default=None,
        description="A status in the events' vocabulary (any alias, any case)",
        json_schema_extra={"pattern": status_pattern(DEPLOYMENT_ALIASES)},
    ),
    limit: Limit = DEFAULT_LIMIT,
    before: UUID | None = None,
) -> Response:
    """Deployments, newest first (`limit=1` gives the current one)."""
    wanted: Status | None = None
    if status is not None:
        try:
            wanted = parse_status(status, DEPLOYMENT_ALIASES)
        except ValueError as exc:
            failure = unprocessable("status", str(exc))
            failure.body.detail[0]["loc"] = ["query", "status"]  # type: ignore[index]
            raise FailureError(failure) from exc
    request = ListDeployments(
        actor=actor,
        product=product,
        environment=environment,
        status=wanted,
        limit=limit,
        before=before,
    )
    page = await gateway.ask(request)
    return respond_list(page.items, page.total)


@router.both(
    "/deployments/{deployment_id}", methods=["GET"], responses={200: {"model": DeploymentPublic}}
)
async def get_deployment(deployment_id: str, actor: ActorDep, gateway: GatewayDep) -> Response:
    """A deployment by id (blocked attempts are not deployments)."""
    return respond(
        await gateway.ask(GetDeployment(actor=actor, deployment_id=ident(deployment_id)))
    )


@router.both(
    "/deployments/{deployment_id}/abort",
    methods=["POST"],
    responses={200: {"model": DeploymentPublic}, **conflict("The deployment is not in progress")},
)
async def abort_deployment(deployment_id: str, actor: ActorDep, gateway: GatewayDep) -> Response:
    """Close a stuck deployment as aborted, so its environment takes deployments again."""
    return respond(
        await gateway.ask(AbortDeployment(actor=actor, deployment_id=ident(deployment_id)))
    )


@router.both("/state", methods=["GET"], responses={200: {"model": StateView}})
async def get_state(
    actor: ActorDep,
    gateway: GatewayDep,
    products: str | None = None,
    environments: str | None = None,
) -> Response:
    """What runs where: products by environments (dev, test, staging, production, then by name)."""
    request = GetState(actor=actor, products=names(products), environments=names(environments))
    return respond(await gateway.ask(request))
