"""Deployment Requests: create, change in draft, submit, decide slots, tick steps, close."""

from typing import Annotated, Any, Literal

from fastapi import Response
from pydantic import BaseModel, Field

from versioner.common.governance import (
    DeploymentRequestPublic,
    RequestItemIn,
    RequestStatus,
    SlotIn,
)
from versioner.common.messages.management import (
    DEFAULT_LIMIT,
    CompleteStep,
    CreateRequest,
    DecideSlot,
    GetRequest,
    ListRequests,
    MoveRequest,
    UpdateRequest,
)
from versioner.common.types import Name
from versioner.ingest.deps import ActorDep, GatewayDep, ident
from versioner.ingest.openapi import conflict
from versioner.ingest.routes.catalog import Limit
from versioner.ingest.web import Router, respond, respond_list

router = Router(tags=["deployment requests"])

Step = Annotated[str, Field(min_length=1, max_length=2000)]


class RequestIn(BaseModel):
    """A new Deployment Request (created in draft)."""

    name: Name
    description: str | None = Field(default=None, max_length=20_000)
    items: list[RequestItemIn] = Field(default_factory=list, max_length=200)
    environments: list[Name] = Field(default_factory=list, max_length=100)
    approval_slots: list[SlotIn] = Field(default_factory=list, max_length=50)
    pre_steps: list[Step] = Field(default_factory=list, max_length=100)
    post_steps: list[Step] = Field(default_factory=list, max_length=100)


class RequestPatch(BaseModel):
    """Changes to a draft request."""

    name: Name | None = None
    description: str | None = Field(default=None, max_length=20_000)
    items: list[RequestItemIn] | None = Field(default=None, max_length=200)
    environments: list[Name] | None = Field(default=None, max_length=100)
    approval_slots: list[SlotIn] | None = Field(default=None, max_length=50)
    pre_steps: list[Step] | None = Field(default=None, max_length=100)
    post_steps: list[Step] | None = Field(default=None, max_length=100)


class DecisionIn(BaseModel):
    """A slot decision."""

    decision: Literal["approve", "reject"]
    comment: str | None = Field(default=None, max_length=5000)


_ONE: dict[int | str, dict[str, Any]] = {200: {"model": DeploymentRequestPublic}}
# A move the request's status does not allow, a change outside draft, a decided slot or a
# ticked step.
_MOVED = {**_ONE, **conflict("Not possible in the request's status, or done already")}


@router.both(
    "/deployment-requests",
    methods=["POST"],
    status_code=201,
    responses={201: {"model": DeploymentRequestPublic}},
)
async def create_request(body: RequestIn, actor: ActorDep, gateway: GatewayDep) -> Response:
    """Create a request in draft (admin, release_manager, product, developer)."""
    return respond(
        await gateway.ask(CreateRequest(actor=actor, **body.model_dump())),
        201,
    )


@router.both(
    "/deployment-requests",
    methods=["GET"],
    responses={200: {"model": list[DeploymentRequestPublic]}},
)
async def list_requests(
    actor: ActorDep,
    gateway: GatewayDep,
    status: RequestStatus | None = None,
    awaiting: Literal["me"] | None = None,
    limit: Limit = DEFAULT_LIMIT,
    before: str | None = None,
) -> Response:
    """Requests, newest first; `?awaiting=me`: those with a slot the caller may decide now."""
    request = ListRequests(
        actor=actor,
        status=status,
        awaiting_me=awaiting == "me",
        limit=limit,
        before=ident(before) if before else None,
    )
    page = await gateway.ask(request)
    return respond_list(page.items, page.total)


@router.both("/deployment-requests/{request_id}", methods=["GET"], responses=_ONE)
async def get_request(request_id: str, actor: ActorDep, gateway: GatewayDep) -> Response:
    """One request, with slot and step ids and its progress per product and environment."""
    return respond(await gateway.ask(GetRequest(actor=actor, request_id=ident(request_id))))


@router.both("/deployment-requests/{request_id}", methods=["PATCH"], responses=_MOVED)
async def update_request(
    request_id: str, patch: RequestPatch, actor: ActorDep, gateway: GatewayDep
) -> Response:
    """Change a draft request (anything else is 409)."""
    request = UpdateRequest(
        actor=actor, request_id=ident(request_id), **patch.model_dump(exclude_unset=True)
    )
    return respond(await gateway.ask(request))


def _move(action: Literal["submit", "revert", "complete", "cancel"], summary: str) -> None:
    async def move(request_id: str, actor: ActorDep, gateway: GatewayDep) -> Response:
        request = MoveRequest(actor=actor, request_id=ident(request_id), action=action)
        return respond(await gateway.ask(request))

    move.__doc__ = summary
    move.__name__ = f"{action}_request"
    router.both(
        f"/deployment-requests/{{request_id}}/{action}", methods=["POST"], responses=_MOVED
    )(move)


_move("submit", "Submit a draft: approvers may decide its slots (422 without items).")
_move("revert", "Back to draft, clearing every decision and tick.")
_move("complete", "An approved request is done.")
_move("cancel", "Cancel a request that is not closed.")


@router.both(
    "/deployment-requests/{request_id}/slots/{slot_id}/decision",
    methods=["POST"],
    responses=_MOVED,
)
async def decide_slot(
    request_id: str, slot_id: str, body: DecisionIn, actor: ActorDep, gateway: GatewayDep
) -> Response:
    """Approve or reject a slot: a role that may fill its type, never the request's creator."""
    request = DecideSlot(
        actor=actor,
        request_id=ident(request_id),
        slot_id=ident(slot_id),
        decision=body.decision,
        comment=body.comment,
    )
    return respond(await gateway.ask(request))


@router.both(
    "/deployment-requests/{request_id}/steps/{step_id}/complete",
    methods=["POST"],
    responses=_MOVED,
)
async def complete_step(
    request_id: str, step_id: str, actor: ActorDep, gateway: GatewayDep
) -> Response:
    """Tick a pre- or post-deploy step."""
    request = CompleteStep(actor=actor, request_id=ident(request_id), step_id=ident(step_id))
    return respond(await gateway.ask(request))
