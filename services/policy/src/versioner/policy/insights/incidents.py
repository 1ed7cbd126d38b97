"""Incidents: recorded once per `incident_id`, attached to the deployment that was running in
their environment when they opened (the last one to complete there before), listed.

An incident names a product and an environment Versioner knows (404 otherwise: a typo must not
create a product); sent again, it updates the one record (opened → resolved, or reopened) and
changes nothing when it says nothing new.
"""

from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from versioner.common.errors import Failure, conflict, not_found, unprocessable
from versioner.common.events import IncidentEventIn
from versioner.common.insights import IncidentPublic
from versioner.common.messages.management import ListIncidents, RecordIncident
from versioner.common.resources import Page
from versioner.common.rows import public
from versioner.policy.catalog.lookup import Named, find_environment, find_product
from versioner.policy.context import PolicyContext
from versioner.policy.logs.audit import audit
from versioner.policy.registry import handles
from versioner.policy.store.paging import paginate
from versioner.policy.store.tables import Deployment, Environment, Incident, Product, Version


@handles(RecordIncident)
async def record_incident(ctx: PolicyContext, request: RecordIncident) -> IncidentPublic | Failure:
    """Record an incident, or what changed of one already recorded."""
    event = request.incident
    async with ctx.db.write() as session:
        product = await find_product(session, event.product_name)
        if product is None:
            return Failure.of(404, f"No product named {event.product_name!r}")
        environment = await find_environment(session, event.environment_name)
        if environment is None:
            return Failure.of(404, f"No environment named {event.environment_name!r}")
        incident = (
            await session.execute(
                select(Incident).where(col(Incident.incident_id) == event.incident_id)
            )
        ).scalar_one_or_none()
        if incident is not None and (
            incident.product_id != product.id or incident.environment_id != environment.id
        ):
            return conflict(
                f"Incident {event.incident_id!r} was opened against another product or environment"
            )
        changed = _apply(incident, event, product, environment, request)
        if isinstance(changed, Failure):
            return changed
        incident, moved = changed
        if moved:
            incident.deployment_id = await _running_at(session, incident)
            incident.updated_at = request.received_at
            session.add(incident)
            await audit(
                session,
                actor=request.actor,
                kind=f"incident.{incident.status}",
                summary=f"Incident {incident.incident_id} {incident.status} in "
                f"{product.name} on {environment.name}",
                at=request.received_at,
                subject_id=incident.id,
                data={"incident_id": incident.incident_id, "deployment_id": _text(incident)},
            )
            await session.flush()
        return (await _public(session, [incident]))[0]


def _text(incident: Incident) -> str | None:
    return None if incident.deployment_id is None else str(incident.deployment_id)


def _apply(
    incident: Incident | None,
    event: IncidentEventIn,
    product: Named,
    environment: Named,
    request: RecordIncident,
) -> tuple[Incident, bool] | Failure:
    """The incident as this event leaves it, and whether that is new."""
    now = request.received_at
    resolved_at = None
    if event.status == "resolved":
        kept = incident.resolved_at if incident is not None else None
        resolved_at = event.resolved_at or kept or now
    opened_at = event.opened_at or (incident.opened_at if incident else None) or resolved_at or now
    if resolved_at is not None and resolved_at < opened_at:
        return unprocessable("resolved_at", "resolved_at must not be before opened_at")
    if incident is None:
        incident = Incident(
            incident_id=event.incident_id,
            product_id=product.id,
            environment_id=environment.id,
            status=event.status,
            title=event.title,
            url=event.url,
            opened_at=opened_at,
            resolved_at=resolved_at,
            created_by=request.actor.label,
            created_at=now,
            updated_at=now,
        )
        return incident, True
    before = (
        incident.status,
        incident.title,
        incident.url,
        incident.opened_at,
        incident.resolved_at,
    )
    incident.status = event.status
    incident.title = event.title or incident.title
    incident.url = event.url or incident.url
    incident.opened_at = opened_at
    incident.resolved_at = resolved_at
    after = (
        incident.status,
        incident.title,
        incident.url,
        incident.opened_at,
        incident.resolved_at,
    )
    return incident, before != after


async def _running_at(session: AsyncSession, incident: Incident) -> UUID | None:
    """The last deployment of the pair to complete before the incident opened."""
    found: UUID | None = (
        await session.execute(
            select(col(Deployment.id))
            .where(
                col(Deployment.product_id) == incident.product_id,
                col(Deployment.environment_id) == incident.environment_id,
                col(Deployment.status) == "completed",
                col(Deployment.ended_at) <= incident.opened_at,
            )
            .order_by(col(Deployment.ended_at).desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    return found


@handles(ListIncidents)
async def list_incidents(
    ctx: PolicyContext, request: ListIncidents
) -> Page[IncidentPublic] | Failure:
    """Incidents, newest opened first."""
    empty = Page[IncidentPublic](items=[], total=0)
    stmt = select(Incident)
    async with ctx.db.read() as session:
        if request.product is not None:
            product = await find_product(session, request.product)
            if product is None:
                return empty
            stmt = stmt.where(col(Incident.product_id) == product.id)
        if request.environment is not None:
            environment = await find_environment(session, request.environment)
            if environment is None:
                return empty
            stmt = stmt.where(col(Incident.environment_id) == environment.id)
        if request.status is not None:
            stmt = stmt.where(col(Incident.status) == request.status)
        if request.deployment_id is not None:
            stmt = stmt.where(col(Incident.deployment_id) == request.deployment_id)
        page = await paginate(
            session, stmt, Incident, request.limit, request.before, order_column="opened_at"
        )
        if page is None:
            return not_found()
        incidents, total = page
        return Page[IncidentPublic](items=await _public(session, incidents), total=total)


async def _public(session: AsyncSession, incidents: list[Incident]) -> list[IncidentPublic]:
    names: dict[UUID, str] = {}
    for model, column, ids in (
        (Product, Product.name, {i.product_id for i in incidents}),
        (Environment, Environment.name, {i.environment_id for i in incidents}),
    ):
        rows = await session.execute(
            select(col(model.id), col(column)).where(col(model.id).in_(ids))
        )
        names.update({row[0]: row[1] for row in rows})
    deployment_ids = {i.deployment_id for i in incidents if i.deployment_id is not None}
    versions: dict[UUID, str] = {}
    if deployment_ids:
        rows = await session.execute(
            select(col(Deployment.id), col(Version.version))
            .join(Version, col(Version.id) == col(Deployment.version_id))
            .where(col(Deployment.id).in_(deployment_ids))
        )
        versions = {row[0]: row[1] for row in rows}
    return [
        public(
            IncidentPublic,
            i,
            product_name=names[i.product_id],
            environment_name=names[i.environment_id],
            version=versions.get(i.deployment_id) if i.deployment_id else None,
        )
        for i in incidents
    ]
