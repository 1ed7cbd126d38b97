"""Version approvals."""

from urllib.parse import unquote

from fastapi import Request, Response
from pydantic import BaseModel, Field

from versioner.common.governance import VersionApprovalPublic
from versioner.common.messages.management import (
    ApproveVersion,
    ListVersionApprovals,
    RevokeVersionApproval,
)
from versioner.common.roles import ApprovalType
from versioner.common.types import Name
from versioner.ingest.deps import ActorDep, GatewayDep, ident
from versioner.ingest.openapi import conflict
from versioner.ingest.web import Router, respond, respond_list

router = Router(tags=["version approvals"])


class ApprovalIn(BaseModel):
    """A sign-off; `environment` null: it counts wherever a rule asks for it."""

    approval_type: ApprovalType
    environment: Name | None = None
    comment: str | None = Field(default=None, max_length=5000)


_ONE = {201: {"model": VersionApprovalPublic}}
_REVOKED = conflict("The sign-off was revoked already")


@router.both("/versions/{version_id}/approvals", methods=["POST"], status_code=201, responses=_ONE)
async def approve_version(
    version_id: str, body: ApprovalIn, actor: ActorDep, gateway: GatewayDep
) -> Response:
    """Sign a version off (a role that may fill the approval type)."""
    request = ApproveVersion(actor=actor, version_id=ident(version_id), **body.model_dump())
    return respond(await gateway.ask(request), 201)


@router.both(
    "/versions/{version_id}/approvals",
    methods=["GET"],
    responses={200: {"model": list[VersionApprovalPublic]}},
)
async def list_approvals(version_id: str, actor: ActorDep, gateway: GatewayDep) -> Response:
    """A version's sign-offs, newest first."""
    page = await gateway.ask(ListVersionApprovals(actor=actor, version_id=ident(version_id)))
    return respond_list(page.items, page.total)


@router.both(
    "/versions/{version_id}/approvals/{approval_id}",
    methods=["DELETE"],
    responses={200: {"model": VersionApprovalPublic}, **_REVOKED},
)
async def revoke_approval(
    version_id: str, approval_id: str, actor: ActorDep, gateway: GatewayDep
) -> Response:
    """Withdraw a sign-off (404 when it is not that version's)."""
    request = RevokeVersionApproval(
        actor=actor, version_id=ident(version_id), approval_id=ident(approval_id)
    )
    return respond(await gateway.ask(request))


@router.both(
    "/versions/{product:path}/{version}/approvals",
    methods=["POST"],
    status_code=201,
    responses=_ONE,
)
async def approve_named_version(
    product: str,
    version: str,
    body: ApprovalIn,
    actor: ActorDep,
    gateway: GatewayDep,
    http: Request,
) -> Response:
    """Sign a version off, naming it by product and version (percent-encoded segments)."""
    product, version = _split_names(http, product, version)
    request = ApproveVersion(actor=actor, product=product, version=version, **body.model_dump())
    return respond(await gateway.ask(request), 201)


def _split_names(http: Request, product: str, version: str, tail: int = 1) -> tuple[str, str]:
    """Product and version as the client encoded them.

    Routing sees the decoded path, where `org%2Fapi/release%2F2.0` reads `org/api/release/2.0`
    and the last slash wins. The raw path keeps the client's segments: the version is the last
    one before the `tail` segments (`approvals`, and an approval id), the product everything
    before it (unencoded slashes in a product still work).
    """
    raw = http.scope.get("raw_path")
    if not isinstance(raw, bytes):
        return product, version
    segments = raw.decode("latin-1").rstrip("/").split("/")[:-tail]  # without "approvals[/id]"
    wanted = f"{product}/{version}"
    for size in range(2, len(segments) + 1):
        named = segments[-size:]
        if unquote("/".join(named)) == wanted:
            return unquote("/".join(named[:-1])), unquote(named[-1])
    return product, version


@router.both(
    "/versions/{product:path}/{version}/approvals",
    methods=["GET"],
    responses={200: {"model": list[VersionApprovalPublic]}},
)
async def list_named_approvals(
    product: str, version: str, actor: ActorDep, gateway: GatewayDep, http: Request
) -> Response:
    """A version's sign-offs, naming it by product and version."""
    product, version = _split_names(http, product, version)
    request = ListVersionApprovals(actor=actor, product=product, version=version)
    page = await gateway.ask(request)
    return respond_list(page.items, page.total)


@router.both(
    "/versions/{product:path}/{version}/approvals/{approval_id}",
    methods=["DELETE"],
    responses={200: {"model": VersionApprovalPublic}, **_REVOKED},
)
async def revoke_named_approval(
    product: str,
    version: str,
    approval_id: str,
    actor: ActorDep,
    gateway: GatewayDep,
    http: Request,
) -> Response:
    """Withdraw a sign-off, naming its version by product and version."""
    product, version = _split_names(http, product, version, tail=2)
    request = RevokeVersionApproval(
        actor=actor, product=product, version=version, approval_id=ident(approval_id)
    )
    return respond(await gateway.ask(request))
