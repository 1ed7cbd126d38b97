"""Dashboard section: Deployment Requests and "My tasks".

The pages send the same policy RPCs as the JSON routes of `routes/requests.py`, in the
signed-in user's name, so they allow and refuse exactly what the API does. What a page offers
follows the same rules: moves and step ticks for roles that manage requests, in the statuses
that allow them; a slot's Approve and Reject for a role that fills its type, never the
request's creator, while the request is decidable.
"""

import re
from dataclasses import dataclass
from typing import Annotated, Literal, get_args
from urllib.parse import urlencode
from uuid import UUID

from fastapi import APIRouter, Form
from fastapi.responses import Response
from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData

from versioner.common.errors import not_found
from versioner.common.governance import (
    DeploymentRequestPublic,
    ProgressCell,
    RequestStatus,
    SlotPublic,
)
from versioner.common.links import request_path
from versioner.common.messages.management import (
    CompleteStep,
    CreateRequest,
    DecideSlot,
    GetRequest,
    ListRequests,
    MoveRequest,
)
from versioner.common.resources import Page
from versioner.common.roles import ApprovalType, Permission, role_may_fill
from versioner.ingest.deps import ident
from versioner.ingest.gateway import FailureError
from versioner.ingest.ui import paging
from versioner.ingest.ui.deps import CheckedDep, Viewer, ViewerDep
from versioner.ingest.ui.forms import PLAIN, texts
from versioner.ingest.ui.render import flash_redirect

router = APIRouter(include_in_schema=False)

Move = Literal["submit", "revert", "complete", "cancel"]
STATUSES: tuple[str, ...] = get_args(RequestStatus)
# The statuses each move starts from (API.md, Deployment Requests): anything else is 409.
MOVES_FROM: dict[Move, tuple[str, ...]] = {
    "submit": ("draft",),
    "revert": ("in_progress", "approved", "rejected"),
    "complete": ("approved",),
    "cancel": ("draft", "in_progress", "approved", "rejected"),
}
DECIDABLE = ("in_progress", "approved")
TICKABLE = ("in_progress", "approved", "rejected")
# Empty item rows the create form offers without JavaScript (its script adds more).
ITEM_ROWS = 5
_DONE: dict[Move, str] = {
    "submit": "Submitted: approvers can decide its slots now.",
    "revert": "Back to draft: every decision and tick was cleared.",
    "complete": "Completed.",
    "cancel": "Cancelled.",
}


@dataclass(frozen=True)
class Offers:
    """What the signed-in user may do to one request now (what the page shows)."""

    moves: tuple[Move, ...]
    decide: frozenset[UUID]
    tick: bool


def offers(user: Viewer, request: DeploymentRequestPublic) -> Offers:
    """The actions policy would accept from this user on this request, in its status."""
    manage = user.may(Permission.MANAGE_DRS)
    moves = tuple(m for m, sources in MOVES_FROM.items() if manage and request.status in sources)
    return Offers(
        moves=moves,
        decide=frozenset(s.id for s in request.approval_slots if may_decide(user, request, s)),
        tick=manage and request.status in TICKABLE,
    )


def fills(user: Viewer, slot: SlotPublic) -> bool:
    """A pending slot of a type the user's role fills."""
    actor = user.actor
    return (
        slot.status == "pending"
        and actor.kind == "user"
        and actor.role is not None
        and role_may_fill(actor.role, slot.approval_type)
    )


def may_decide(user: Viewer, request: DeploymentRequestPublic, slot: SlotPublic) -> bool:
    """A slot the user fills, of a decidable request they did not create."""
    return (
        request.status in DECIDABLE and request.created_by_id != user.actor.id and fills(user, slot)
    )


def progress_grid(
    request: DeploymentRequestPublic,
) -> list[tuple[str, str, list[ProgressCell | None]]]:
    """Rows of (product, version, one cell per environment of the request)."""
    cells = {(c.product, c.version, c.environment): c for c in request.progress}
    return [
        (
            item.product,
            item.version,
            [cells.get((item.product, item.version, env)) for env in request.environments],
        )
        for item in request.items
    ]


def _lines(text: str, commas: bool = False) -> list[str]:
    parts = re.split(r"[\r\n,]+" if commas else r"[\r\n]+", text)
    return [part.strip() for part in parts if part.strip()]


def _back(back: str, request_id: UUID) -> str:
    """Where a form returns: My tasks when it came from there, else the request's page."""
    return "/ui/tasks" if back == "/ui/tasks" else request_path(request_id)


@router.get("/ui/requests")
async def requests_page(
    user: ViewerDep, status: str | None = None, before: str | None = None
) -> Response:
    """Deployment Requests, newest first, narrowed by status."""
    try:
        message = ListRequests.model_validate(
            {
                "actor": user.actor,
                "status": status or None,
                "limit": paging.PAGE_SIZE,
                "before": ident(before) if before else None,
            }
        )
    except ValidationError as exc:
        return PLAIN.invalid_page(user.request, exc)
    page: Page[DeploymentRequestPublic] = await user.ask(message)
    older = None
    if len(page.items) == paging.PAGE_SIZE:
        query = {"before": str(page.items[-1].id), **({"status": status} if status else {})}
        older = f"/ui/requests?{urlencode(query)}"
    return user.render(
        "requests.html",
        requests=page.items,
        total=page.total,
        status=status or "",
        statuses=STATUSES,
        older=older,
        may_create=user.may(Permission.MANAGE_DRS),
    )


@router.get("/ui/requests/new")
async def new_request_form(user: ViewerDep) -> Response:
    """The form for a new request (roles that manage requests)."""
    user.require(Permission.MANAGE_DRS)
    return user.render("request_new.html", approval_types=list(ApprovalType), rows=ITEM_ROWS)


def _create_message(user: Viewer, form: FormData) -> CreateRequest:
    """The form as a CreateRequest (raises ValidationError naming the field)."""

    def text(key: str) -> str:
        value = form.get(key)
        return value if isinstance(value, str) else ""

    products, versions = texts(form, "product"), texts(form, "version")
    items = [
        {"product": product, "version": version}
        for product, version in zip(products, versions, strict=False)
        if product or version
    ]
    optional = set(texts(form, "optional"))
    slots = [{"approval_type": kind, "optional": kind in optional} for kind in texts(form, "slot")]
    return CreateRequest.model_validate(
        {
            "actor": user.actor,
            "name": text("name").strip(),
            "description": text("description").strip() or None,
            "items": items,
            "environments": _lines(text("environments"), commas=True),
            "approval_slots": slots,
            "pre_steps": _lines(text("pre_steps")),
            "post_steps": _lines(text("post_steps")),
        }
    )


@router.post("/ui/requests/new")
async def create_request(user: CheckedDep) -> Response:
    """Create the request in draft, then show it."""
    try:
        message = _create_message(user, await user.request.form())
    except ValidationError as exc:
        return PLAIN.invalid_page(user.request, exc)
    try:
        created: DeploymentRequestPublic = await user.ask(message)
    except FailureError as exc:
        return user.refused(exc)
    return flash_redirect(
        request_path(created.id), f"Deployment Request {created.name} created, in draft."
    )


@router.get("/ui/requests/{request_id}")
async def request_page(request_id: str, user: ViewerDep) -> Response:
    """One request: its items, environments, slots, steps, progress and what may be done."""
    request: DeploymentRequestPublic = await user.ask(
        GetRequest(actor=user.actor, request_id=ident(request_id))
    )
    return user.render(
        "request.html", r=request, offers=offers(user, request), grid=progress_grid(request)
    )


@router.post("/ui/requests/{request_id}/{action}")
async def move_request(request_id: str, action: str, user: CheckedDep) -> Response:
    """Submit, revert, complete or cancel."""
    found = ident(request_id)
    move = next((m for m in MOVES_FROM if m == action), None)
    if move is None:
        raise FailureError(not_found())
    return await user.act(
        MoveRequest(actor=user.actor, request_id=found, action=move),
        back=request_path(found),
        done=_DONE[move],
    )


class DecisionForm(BaseModel):
    """A slot's decision form: approve or reject, a comment, and the page it came from."""

    decision: str = ""
    comment: str = ""
    back: str = ""


@router.post("/ui/requests/{request_id}/slots/{slot_id}/decision")
async def decide_slot(
    request_id: str, slot_id: str, user: CheckedDep, form: Annotated[DecisionForm, Form()]
) -> Response:
    """Approve or reject a slot, with a comment."""
    found = ident(request_id)
    try:
        message = DecideSlot.model_validate(
            {
                "actor": user.actor,
                "request_id": found,
                "slot_id": ident(slot_id),
                "decision": form.decision,
                "comment": form.comment.strip() or None,
            }
        )
    except ValidationError as exc:
        return PLAIN.invalid_page(user.request, exc)
    done = "Approved." if message.decision == "approve" else "Rejected."
    return await user.act(message, back=_back(form.back, found), done=done)


@router.post("/ui/requests/{request_id}/steps/{step_id}/complete")
async def complete_step(request_id: str, step_id: str, user: CheckedDep) -> Response:
    """Tick a pre- or post-deploy step."""
    found = ident(request_id)
    return await user.act(
        CompleteStep(actor=user.actor, request_id=found, step_id=ident(step_id)),
        back=request_path(found),
        done="Step ticked.",
    )


@router.get("/ui/tasks")
async def tasks_page(user: ViewerDep) -> Response:
    """My tasks: the requests with a slot the signed-in user may decide now."""
    page: Page[DeploymentRequestPublic] = await user.ask(
        ListRequests(actor=user.actor, awaiting_me=True, limit=paging.PAGE_SIZE),
    )
    tasks: list[tuple[DeploymentRequestPublic, list[SlotPublic]]] = [
        # Policy lists only decidable requests the user did not create (checked by id).
        (r, [s for s in r.approval_slots if fills(user, s)])
        for r in page.items
    ]
    return user.render("tasks.html", tasks=[t for t in tasks if t[1]], total=page.total)
