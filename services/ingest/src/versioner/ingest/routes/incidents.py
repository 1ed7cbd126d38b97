"""Incidents: sent by a pager or a pipeline, attached to the deployment running where they
opened (API.md, "Insights")."""

from typing import Literal
from uuid import UUID

from fastapi import Query, Response

from versioner.common.errors import ErrorBody
from versioner.common.events import IncidentEventIn
from versioner.common.insights import IncidentPublic
from versioner.common.messages.management import DEFAULT_LIMIT, ListIncidents, RecordIncident
from versioner.common.types import utcnow
from versioner.ingest.deps import ActorDep, EventSenderDep, GatewayDep
from versioner.ingest.routes.catalog import Limit
from versioner.ingest.web import Router, respond, respond_list

router = Router(tags=["incidents"])


@router.both(
    "/incident-events",
    methods=["POST"],
    responses={
        200: {"model": IncidentPublic},
        404: {"model": ErrorBody, "description": "No such product or environment"},
        409: {"model": ErrorBody, "description": "The incident belongs to another pair"},
    },
)
async def incident_event(
    event: IncidentEventIn, actor: EventSenderDep, gateway: GatewayDep
) -> Response:
    """Record an incident opened or resolved; the same `incident_id` again updates it."""
    request = RecordIncident(actor=actor, incident=event, received_at=utcnow())
    return respond(await gateway.ask(request))


@router.both("/incidents", methods=["GET"], responses={200: {"model": list[IncidentPublic]}})
async def list_incidents(
    actor: ActorDep,
    gateway: GatewayDep,
    product: str | None = Query(default=None, max_length=255),
    environment: str | None = Query(default=None, max_length=255),
    status: Literal["opened", "resolved"] | None = None,
    deployment: UUID | None = None,
    limit: Limit = DEFAULT_LIMIT,
    before: UUID | None = None,
) -> Response:
    """Incidents, newest opened first."""
    request = ListIncidents(
        actor=actor,
        product=product,
        environment=environment,
        status=status,
        deployment_id=deployment,
        limit=limit,
        before=before,
    )
    page = await gateway.ask(request)
    return respond_list(page.items, page.total)
