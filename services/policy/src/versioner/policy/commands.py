"""Management RPCs: check the caller's permission, then run the request's registered handler.

Each domain module registers its handlers with `@handles(Request)` (`registry.py`); importing
them here fills the registry before the first request.
"""

from pydantic import BaseModel
from sqlalchemy import text

from versioner.common.errors import Failure, forbidden
from versioner.common.messages.management import (
    GetHome,
    GetState,
    HomeView,
    ListDeployments,
    ListRequests,
    ListViolations,
    ManagementRequest,
    NoteEventsQueued,
    Ping,
    Pong,
)
from versioner.common.resources import Done

# Each registers its handlers.
from versioner.policy.accounts import service as accounts  # noqa: F401
from versioner.policy.approvals import service as approvals  # noqa: F401
from versioner.policy.buttons import service as buttons  # noqa: F401
from versioner.policy.catalog import environments, events, products, versions  # noqa: F401
from versioner.policy.context import PolicyContext
from versioner.policy.deployments import closing, queries  # noqa: F401
from versioner.policy.insights import dora, gate, incidents  # noqa: F401
from versioner.policy.logs import service as logs
from versioner.policy.registry import HANDLERS, handles
from versioner.policy.requests import service as requests
from versioner.policy.rules import admin  # noqa: F401 (registers its handlers)
from versioner.policy.store import eventlog


@handles(Ping)
async def ping(ctx: PolicyContext, request: Ping) -> Pong:
    """Answer only when the database answers too."""
    async with ctx.db.read() as session:
        await session.execute(text("SELECT 1"))
    return Pong(at=ctx.clock.now())


@handles(NoteEventsQueued)
async def note_events_queued(ctx: PolicyContext, request: NoteEventsQueued) -> Done:
    """Remember events answered 202 until their lanes record them: on the lanes' writer,
    ahead of their backlog (a note and its event's record may commit in either order)."""
    await ctx.db.run(lambda conn: eventlog.note_queued(conn, request.events), urgent=True)
    return Done()


@handles(GetHome)
async def home(ctx: PolicyContext, request: GetHome) -> HomeView | Failure:
    """The dashboard's home page, read with the caller's rights as the five lists would be."""
    actor = request.actor
    wanted = GetState(actor=actor, products=request.products, environments=request.environments)
    state = await queries.get_state(ctx, wanted)
    active = await requests.list_requests(
        ctx, ListRequests(actor=actor, status="in_progress", limit=20)
    )
    approved = await requests.list_requests(
        ctx, ListRequests(actor=actor, status="approved", limit=20)
    )
    recent = await queries.list_deployments(ctx, ListDeployments(actor=actor, limit=10))
    blocked = await logs.list_violations(
        ctx, ListViolations(actor=actor, outcome="blocked", limit=30)
    )
    for part in (state, active, approved, recent, blocked):
        if isinstance(part, Failure):
            return part
    assert not isinstance(state, Failure)
    assert not isinstance(active, Failure)
    assert not isinstance(approved, Failure)
    assert not isinstance(recent, Failure)
    assert not isinstance(blocked, Failure)
    return HomeView(
        state=state,
        requests=[*active.items, *approved.items],
        deployments=recent.items,
        blocked=blocked.items,
    )


async def handle(ctx: PolicyContext, request: ManagementRequest) -> BaseModel:
    """Run one management request; the result model or a `Failure`."""
    if request.permission is not None and not request.actor.may(request.permission):
        return forbidden()
    return await HANDLERS.run(ctx, request)
