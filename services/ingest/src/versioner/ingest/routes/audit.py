"""The audit log."""

from fastapi import Query, Response

from versioner.common.governance import AuditEntryPublic
from versioner.common.messages.management import DEFAULT_LIMIT, ListAudit
from versioner.common.types import Instant
from versioner.ingest.deps import ActorDep, GatewayDep
from versioner.ingest.routes.catalog import Limit
from versioner.ingest.web import Router, respond_list

router = Router(tags=["audit"])


@router.both("/audit", methods=["GET"], responses={200: {"model": list[AuditEntryPublic]}})
async def list_audit(
    actor: ActorDep,
    gateway: GatewayDep,
    since: Instant | None = None,
    kind: str | None = Query(
        default=None, max_length=64, description="an action, or a prefix ending in '.'"
    ),
    by: str | None = Query(default=None, alias="actor", max_length=300),
    limit: Limit = DEFAULT_LIMIT,
    before: int | None = Query(default=None, ge=1),
) -> Response:
    """Every verdict, approval, step, rule change, override, rename and credential change."""
    request = ListAudit(actor=actor, since=since, action=kind, by=by, limit=limit, before=before)
    page = await gateway.ask(request)
    return respond_list(page.items, page.total)
