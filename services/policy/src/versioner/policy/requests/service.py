"""Deployment Requests: draft → in_progress → approved | rejected → completed, revert, cancel.

A request changes only in draft; a submitted one collects slot decisions (by a role that may
fill the slot's type, never by its creator) and step ticks. Every change bumps the policy
revision, since open requests are part of every verdict they cover.
"""

from collections import defaultdict
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID, uuid4

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from versioner.common.errors import Failure, conflict, forbidden, not_found, unprocessable
from versioner.common.governance import (
    DeploymentRequestPublic,
    ProgressCell,
    ProgressStatus,
    RequestItemIn,
    RequestItemPublic,
    RequestStatus,
    SlotIn,
    SlotPublic,
    StepPublic,
)
from versioner.common.messages.actor import Actor
from versioner.common.messages.domain import RequestEventName, RequestEventOccurred
from versioner.common.messages.management import (
    CompleteStep,
    CreateRequest,
    DecideSlot,
    GetRequest,
    ListRequests,
    MoveRequest,
    UpdateRequest,
)
from versioner.common.resources import Page
from versioner.common.roles import ApprovalType, Role, role_may_fill
from versioner.policy.catalog.lookup import find_environment, find_product
from versioner.policy.context import PolicyContext
from versioner.policy.logs.audit import audit
from versioner.policy.registry import handles
from versioner.policy.store import revision
from versioner.policy.store.outbox import enqueue
from versioner.policy.store.paging import paginate
from versioner.policy.store.tables import (
    Deployment,
    DeploymentRequest,
    RequestEnvironment,
    RequestItem,
    RequestSlot,
    RequestStep,
    Version,
)

# Moves and the states they start from (API.md): anything else is 409.
_MOVES: dict[str, tuple[tuple[RequestStatus, ...], RequestStatus, RequestEventName]] = {
    "submit": (("draft",), "in_progress", "dr.activated"),
    "revert": (("in_progress", "approved", "rejected"), "draft", "dr.deactivated"),
    "complete": (("approved",), "completed", "dr.completed"),
    "cancel": (("draft", "in_progress", "approved", "rejected"), "cancelled", "dr.cancelled"),
}
_DECIDABLE = ("in_progress", "approved")
_TICKABLE = ("in_progress", "approved", "rejected")
_PROGRESS: dict[str, ProgressStatus] = {
    "completed": "deployed",
    "failed": "failed",
    "started": "in_progress",
}


Part = TypeVar("Part", RequestItem, RequestEnvironment, RequestSlot, RequestStep)


async def _by_request(
    session: AsyncSession, model: type[Part], ids: list[UUID]
) -> dict[UUID, list[Part]]:
    """Rows of one part table for these requests, grouped by request, in their positions."""
    grouped: dict[UUID, list[Part]] = defaultdict(list)
    if ids:
        rows = await session.execute(
            select(model).where(col(model.request_id).in_(ids)).order_by(col(model.position))
        )
        for row in rows.scalars():
            grouped[row.request_id].append(row)
    return grouped


async def _parts(
    session: AsyncSession, ids: list[UUID]
) -> tuple[
    dict[UUID, list[RequestItem]],
    dict[UUID, list[str]],
    dict[UUID, list[RequestSlot]],
    dict[UUID, list[RequestStep]],
]:
    environments = await _by_request(session, RequestEnvironment, ids)
    return (
        await _by_request(session, RequestItem, ids),
        defaultdict(list, {k: [e.environment for e in v] for k, v in environments.items()}),
        await _by_request(session, RequestSlot, ids),
        await _by_request(session, RequestStep, ids),
    )


def _slot(slot: RequestSlot) -> SlotPublic:
    return SlotPublic(
        id=slot.id,
        approval_type=ApprovalType(slot.approval_type),
        optional=slot.optional,
        status=slot.status,
        decided_by=slot.decided_by,
        decided_role=slot.decided_role,
        decided_at=slot.decided_at,
        comment=slot.comment,
    )


def _step(step: RequestStep) -> StepPublic:
    return StepPublic(
        id=step.id, text=step.text, completed_by=step.completed_by, completed_at=step.completed_at
    )


async def _progress(
    session: AsyncSession, items: list[RequestItem], environments: list[str]
) -> list[ProgressCell]:
    """How far each item has gone in each target environment: its latest deployment there."""
    cells: list[ProgressCell] = []
    for item in items:
        product = await find_product(session, item.product)
        version_id = None
        if product is not None:
            version_id = (
                await session.execute(
                    select(col(Version.id)).where(
                        col(Version.product_id) == product.id, col(Version.version) == item.version
                    )
                )
            ).scalar()
        for name in environments:
            environment = await find_environment(session, name)
            latest = None
            if version_id is not None and environment is not None:
                latest = (
                    await session.execute(
                        select(Deployment)
                        .where(
                            col(Deployment.version_id) == version_id,
                            col(Deployment.environment_id) == environment.id,
                        )
                        .order_by(col(Deployment.deployed_at).desc())
                        .limit(1)
                    )
                ).scalar_one_or_none()
            cells.append(
                ProgressCell(
                    product=item.product,
                    version=item.version,
                    environment=name,
                    status=_PROGRESS.get(latest.status, "not_deployed")
                    if latest
                    else "not_deployed",
                    deployment_id=latest.id if latest else None,
                )
            )
    return cells


async def _public(
    session: AsyncSession, requests: list[DeploymentRequest], *, with_progress: bool = False
) -> list[DeploymentRequestPublic]:
    items, environments, slots, steps = await _parts(session, [r.id for r in requests])
    return [
        DeploymentRequestPublic(
            id=r.id,
            name=r.name,
            description=r.description,
            status=r.status,
            created_by=r.created_by,
            created_by_id=r.created_by_id,
            items=[RequestItemPublic(product=i.product, version=i.version) for i in items[r.id]],
            environments=environments[r.id],
            approval_slots=[_slot(s) for s in slots[r.id]],
            pre_steps=[_step(s) for s in steps[r.id] if s.phase == "pre"],
            post_steps=[_step(s) for s in steps[r.id] if s.phase == "post"],
            progress=await _progress(session, items[r.id], environments[r.id])
            if with_progress
            else [],
            created_at=r.created_at,
            updated_at=r.updated_at,
            submitted_at=r.submitted_at,
            closed_at=r.closed_at,
        )
        for r in requests
    ]


async def _one(session: AsyncSession, request_id: UUID) -> DeploymentRequestPublic:
    request = await session.get(DeploymentRequest, request_id)
    assert request is not None
    [shown] = await _public(session, [request], with_progress=True)
    return shown


async def _announce(
    session: AsyncSession,
    event_type: RequestEventName,
    request: DeploymentRequestPublic,
    actor: Actor,
    at: datetime,
    **slot: Any,
) -> None:
    await enqueue(
        session,
        RequestEventOccurred(
            event_type=event_type,
            event_id=uuid4(),
            occurred_at=at,
            actor=actor.label,
            request=request,
            **slot,
        ),
        event_type,
        at=at,
    )


def _set_parts(
    session: AsyncSession,
    request_id: UUID,
    *,
    items: list[RequestItemIn] | None,
    environments: list[str] | None,
    slots: list[SlotIn] | None,
    pre_steps: list[str] | None,
    post_steps: list[str] | None,
) -> None:
    for position, item in enumerate(items or []):
        session.add(
            RequestItem(
                request_id=request_id, position=position, product=item.product, version=item.version
            )
        )
    for position, name in enumerate(dict.fromkeys(environments or [])):
        session.add(RequestEnvironment(request_id=request_id, environment=name, position=position))
    for position, slot in enumerate(slots or []):
        session.add(
            RequestSlot(
                request_id=request_id,
                position=position,
                approval_type=slot.approval_type,
                optional=slot.optional,
            )
        )
    for phase, texts in (("pre", pre_steps), ("post", post_steps)):
        for position, text in enumerate(texts or []):
            session.add(
                RequestStep(request_id=request_id, phase=phase, position=position, text=text)
            )


def _creator_only(actor: Actor) -> Failure | None:
    if actor.kind != "user" or actor.id is None:
        return forbidden()
    return None


@handles(CreateRequest)
async def create_request(
    ctx: PolicyContext, request: CreateRequest
) -> DeploymentRequestPublic | Failure:
    """A new request, in draft."""
    if failure := _creator_only(request.actor):
        return failure
    now = ctx.clock.now()
    async with ctx.db.write() as session:
        record = DeploymentRequest(
            name=request.name,
            description=request.description,
            status="draft",
            created_by_id=request.actor.id,
            created_by=request.actor.name,
            created_at=now,
            updated_at=now,
        )
        session.add(record)
        await session.flush()
        _set_parts(
            session,
            record.id,
            items=request.items,
            environments=request.environments,
            slots=request.approval_slots,
            pre_steps=request.pre_steps,
            post_steps=request.post_steps,
        )
        await session.flush()
        shown = await _one(session, record.id)
        await audit(
            session,
            actor=request.actor,
            kind="dr.created",
            summary=f"Deployment Request {record.name} created",
            at=now,
            subject_id=record.id,
        )
        await _announce(session, "dr.created", shown, request.actor, now)
    ctx.wake_relay()
    return shown


@handles(UpdateRequest)
async def update_request(
    ctx: PolicyContext, request: UpdateRequest
) -> DeploymentRequestPublic | Failure:
    """Change a draft: its name, description, items, environments, slots or steps."""
    now = ctx.clock.now()
    async with ctx.db.write() as session:
        record = await session.get(DeploymentRequest, request.request_id)
        if record is None:
            return not_found()
        if record.status != "draft":
            return conflict(
                f"Deployment Request {record.name} is {record.status}; only a draft changes"
            )
        if request.name is not None:
            record.name = request.name
        if request.description is not None:
            record.description = request.description
        replaced = {
            "items": (RequestItem, request.items),
            "environments": (RequestEnvironment, request.environments),
            "approval_slots": (RequestSlot, request.approval_slots),
        }
        for model, given in replaced.values():
            if given is not None:
                await session.execute(delete(model).where(col(model.request_id) == record.id))  # type: ignore[attr-defined]
        for phase, given_steps in (("pre", request.pre_steps), ("post", request.post_steps)):
            if given_steps is not None:
                await session.execute(
                    delete(RequestStep).where(
                        col(RequestStep.request_id) == record.id, col(RequestStep.phase) == phase
                    )
                )
        _set_parts(
            session,
            record.id,
            items=request.items,
            environments=request.environments,
            slots=request.approval_slots,
            pre_steps=request.pre_steps,
            post_steps=request.post_steps,
        )
        record.updated_at = now
        await session.flush()
        await audit(
            session,
            actor=request.actor,
            kind="dr.updated",
            summary=f"Deployment Request {record.name} changed in draft",
            at=now,
            subject_id=record.id,
        )
        shown = await _one(session, record.id)
    return shown


@handles(GetRequest)
async def get_request(ctx: PolicyContext, request: GetRequest) -> DeploymentRequestPublic | Failure:
    """One request, with its progress grid."""
    async with ctx.db.read() as session:
        if await session.get(DeploymentRequest, request.request_id) is None:
            return not_found()
        return await _one(session, request.request_id)


@handles(ListRequests)
async def list_requests(
    ctx: PolicyContext, request: ListRequests
) -> Page[DeploymentRequestPublic] | Failure:
    """Requests, newest first; `awaiting_me`: open ones with a slot the caller may decide now."""
    stmt = select(DeploymentRequest)
    if request.status is not None:
        stmt = stmt.where(col(DeploymentRequest.status) == request.status)
    async with ctx.db.read() as session:
        if request.awaiting_me:
            return await _awaiting(session, request)
        page = await paginate(session, stmt, DeploymentRequest, request.limit, request.before)
        if page is None:
            return not_found()
        records, total = page
        return Page[DeploymentRequestPublic](items=await _public(session, records), total=total)


def _may_decide(actor: Actor, approval_type: str, creator: UUID | None) -> bool:
    return (
        actor.kind == "user"
        and actor.role is not None
        and actor.id != creator
        and role_may_fill(actor.role, ApprovalType(approval_type))
    )


async def _awaiting(
    session: AsyncSession, request: ListRequests
) -> Page[DeploymentRequestPublic] | Failure:
    """Open requests with a pending slot the caller may decide, newest first, paged like the
    plain list (`status` narrows them, `before` is a request id)."""
    statuses = [s for s in _DECIDABLE if request.status in (None, s)]
    records = list(
        (
            await session.execute(
                select(DeploymentRequest)
                .where(col(DeploymentRequest.status).in_(statuses))
                .order_by(
                    col(DeploymentRequest.created_at).desc(), col(DeploymentRequest.id).desc()
                )
            )
        ).scalars()
    )
    _, _, slots, _ = await _parts(session, [r.id for r in records])
    mine = [
        r
        for r in records
        if any(
            slot.status == "pending"
            and _may_decide(request.actor, slot.approval_type, r.created_by_id)
            for slot in slots[r.id]
        )
    ]
    start = 0
    if request.before is not None:
        anchor = await session.get(DeploymentRequest, request.before)
        if anchor is None:
            return not_found()
        key = (anchor.created_at, anchor.id)
        start = next((n for n, r in enumerate(mine) if (r.created_at, r.id) < key), len(mine))
    return Page[DeploymentRequestPublic](
        items=await _public(session, mine[start : start + request.limit]), total=len(mine)
    )


@handles(MoveRequest)
async def move_request(
    ctx: PolicyContext, request: MoveRequest
) -> DeploymentRequestPublic | Failure:
    """Submit, revert, complete or cancel."""
    sources, target, event = _MOVES[request.action]
    now = ctx.clock.now()
    async with ctx.db.write() as session:
        record = await session.get(DeploymentRequest, request.request_id)
        if record is None:
            return not_found()
        if record.status not in sources:
            return conflict(
                f"Deployment Request {record.name} is {record.status}; it cannot {request.action}"
            )
        if request.action == "submit":
            count = (
                await session.execute(
                    select(func.count())
                    .select_from(RequestItem)
                    .where(col(RequestItem.request_id) == record.id)
                )
            ).scalar_one()
            if not count:
                return unprocessable(
                    "items", "a Deployment Request needs at least one item to be submitted"
                )
            record.submitted_at = now
            required = (
                await session.execute(
                    select(func.count())
                    .select_from(RequestSlot)
                    .where(col(RequestSlot.request_id) == record.id, ~col(RequestSlot.optional))
                )
            ).scalar_one()
            if not required:
                # Every non-optional slot is approved when there is none: nothing to wait for.
                target = "approved"
        if request.action == "revert":
            await _clear_decisions(session, record.id)
        if target in ("completed", "cancelled"):
            record.closed_at = now
        before = record.status
        record.status = target
        record.updated_at = now
        await session.flush()
        await revision.bump(session, now)
        await audit(
            session,
            actor=request.actor,
            kind=f"dr.{request.action}",
            summary=f"Deployment Request {record.name}: {before} → {target}",
            at=now,
            subject_id=record.id,
            data={"from": before, "to": target},
        )
        shown = await _one(session, record.id)
        await _announce(session, event, shown, request.actor, now)
    ctx.wake_relay()
    return shown


async def _clear_decisions(session: AsyncSession, request_id: UUID) -> None:
    for slot in (
        await session.execute(select(RequestSlot).where(col(RequestSlot.request_id) == request_id))
    ).scalars():
        slot.status, slot.decided_by, slot.decided_by_id, slot.decided_role = (
            "pending",
            None,
            None,
            None,
        )
        slot.decided_at, slot.comment = None, None
    for step in (
        await session.execute(select(RequestStep).where(col(RequestStep.request_id) == request_id))
    ).scalars():
        step.completed_by, step.completed_by_id, step.completed_at = None, None, None


@handles(DecideSlot)
async def decide_slot(ctx: PolicyContext, request: DecideSlot) -> DeploymentRequestPublic | Failure:
    """Approve or reject a slot; the request becomes approved or rejected when that settles it."""
    now = ctx.clock.now()
    async with ctx.db.write() as session:
        record = await session.get(DeploymentRequest, request.request_id)
        slot = await session.get(RequestSlot, request.slot_id)
        if record is None or slot is None or slot.request_id != record.id:
            return not_found()
        if not _may_decide(request.actor, slot.approval_type, record.created_by_id):
            return forbidden()
        if record.status not in _DECIDABLE:
            return conflict(
                f"Deployment Request {record.name} is {record.status}; its slots are not open"
            )
        if slot.status != "pending":
            return conflict(f"The {slot.approval_type} slot is already {slot.status}")
        slot.status = "approved" if request.decision == "approve" else "rejected"
        slot.decided_by_id = request.actor.id
        slot.decided_by = request.actor.name
        slot.decided_role = str(request.actor.role)
        slot.decided_at = now
        slot.comment = request.comment
        await session.flush()
        required = [
            s
            for s in (
                await session.execute(
                    select(RequestSlot).where(col(RequestSlot.request_id) == record.id)
                )
            ).scalars()
            if not s.optional
        ]
        if any(s.status == "rejected" for s in required):
            record.status = "rejected"
        elif all(s.status == "approved" for s in required):
            record.status = "approved"
        record.updated_at = now
        await session.flush()
        await revision.bump(session, now)
        await audit(
            session,
            actor=request.actor,
            kind=f"dr.slot_{slot.status}",
            summary=f"{request.actor.name} {slot.status} the {slot.approval_type} slot of "
            f"{record.name}",
            at=now,
            subject_id=record.id,
            data={"slot_id": str(slot.id), "comment": request.comment, "status": record.status},
        )
        shown = await _one(session, record.id)
        await _announce(
            session,
            "dr.approved" if slot.status == "approved" else "dr.rejected",
            shown,
            request.actor,
            now,
            approval_type=slot.approval_type,
            approver_role=str(request.actor.role or Role.VIEWER),
            slot_status=slot.status,
            comments=request.comment,
        )
    ctx.wake_relay()
    return shown


@handles(CompleteStep)
async def complete_step(
    ctx: PolicyContext, request: CompleteStep
) -> DeploymentRequestPublic | Failure:
    """Tick a checklist step: who and when are kept."""
    now = ctx.clock.now()
    async with ctx.db.write() as session:
        record = await session.get(DeploymentRequest, request.request_id)
        step = await session.get(RequestStep, request.step_id)
        if record is None or step is None or step.request_id != record.id:
            return not_found()
        if record.status not in _TICKABLE:
            return conflict(
                f"Deployment Request {record.name} is {record.status}; its steps are not open"
            )
        if step.completed_at is not None:
            return conflict(f"The step was completed by {step.completed_by} already")
        step.completed_by_id = request.actor.id
        step.completed_by = request.actor.name
        step.completed_at = now
        record.updated_at = now
        await session.flush()
        await revision.bump(session, now)
        await audit(
            session,
            actor=request.actor,
            kind="dr.step_completed",
            summary=f"{request.actor.name} completed a {step.phase}-deploy step of "
            f"{record.name}: {step.text}",
            at=now,
            subject_id=record.id,
            data={"step_id": str(step.id), "phase": step.phase},
        )
        shown = await _one(session, record.id)
    return shown
