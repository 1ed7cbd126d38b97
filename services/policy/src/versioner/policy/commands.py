"""Management RPCs: check the caller's permission, then do what the request says."""

from pydantic import BaseModel
from sqlalchemy import text

from versioner.common.errors import Failure, forbidden
from versioner.common.messages.management import (
    AbortDeployment,
    ApproveVersion,
    Authenticate,
    AuthorizeFire,
    CompleteStep,
    CreateApiKey,
    CreateRequest,
    CreateRule,
    CreateUser,
    DecideSlot,
    DeleteRule,
    GetDeployment,
    GetEnvironment,
    GetEvent,
    GetHome,
    GetProduct,
    GetRequest,
    GetRule,
    GetState,
    GetUser,
    GetVersion,
    HandleSlackAction,
    HomeView,
    ListApiKeys,
    ListAudit,
    ListDeployments,
    ListEnvironments,
    ListProducts,
    ListRequests,
    ListRules,
    ListUsers,
    ListVersionApprovals,
    ListVersions,
    ListViolations,
    ManagementRequest,
    MoveRequest,
    NoteEventsQueued,
    Ping,
    Pong,
    PreviewWindows,
    RedeemInvite,
    ResolveVariables,
    RevokeApiKey,
    RevokeVersionApproval,
    RotateToken,
    UpdateEnvironment,
    UpdateProduct,
    UpdateRequest,
    UpdateRule,
    UpdateUser,
)
from versioner.common.resources import Done
from versioner.policy import (
    accounts,
    approvals,
    buttons,
    deployments,
    eventlog,
    logs,
    queries,
    requests,
)
from versioner.policy.context import PolicyContext
from versioner.policy.rules import admin


async def ping(ctx: PolicyContext) -> Pong:
    """Answer only when the database answers too."""
    async with ctx.db.read() as session:
        await session.execute(text("SELECT 1"))
    return Pong(at=ctx.clock.now())


async def note_events_queued(ctx: PolicyContext, request: NoteEventsQueued) -> Done:
    """Remember events answered 202 until their lanes record them: on the lanes' writer,
    ahead of their backlog (a note and its event's record may commit in either order)."""
    await ctx.db.run(lambda conn: eventlog.note_queued(conn, request.events), urgent=True)
    return Done()


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
    deployments = await queries.list_deployments(ctx, ListDeployments(actor=actor, limit=10))
    blocked = await logs.list_violations(
        ctx, ListViolations(actor=actor, outcome="blocked", limit=30)
    )
    for part in (state, active, approved, deployments, blocked):
        if isinstance(part, Failure):
            return part
    assert not isinstance(state, Failure)
    assert not isinstance(active, Failure)
    assert not isinstance(approved, Failure)
    assert not isinstance(deployments, Failure)
    assert not isinstance(blocked, Failure)
    return HomeView(
        state=state,
        requests=[*active.items, *approved.items],
        deployments=deployments.items,
        blocked=blocked.items,
    )


async def handle(ctx: PolicyContext, request: ManagementRequest) -> BaseModel:
    """Run one management request; the result model or a `Failure`."""
    if request.permission is not None and not request.actor.may(request.permission):
        return forbidden()
    result: BaseModel | Failure
    match request:
        case Ping():
            result = await ping(ctx)
        case Authenticate():
            result = await accounts.authenticate(ctx, request)
        case NoteEventsQueued():
            result = await note_events_queued(ctx, request)
        case GetEvent():
            result = await queries.get_event(ctx, request)
        case ListProducts():
            result = await queries.list_products(ctx, request)
        case GetProduct():
            result = await queries.get_product(ctx, request)
        case UpdateProduct():
            result = await queries.update_product(ctx, request)
        case ListEnvironments():
            result = await queries.list_environments(ctx, request)
        case GetEnvironment():
            result = await queries.get_environment(ctx, request)
        case UpdateEnvironment():
            result = await queries.update_environment(ctx, request)
        case ListVersions():
            result = await queries.list_versions(ctx, request)
        case GetVersion():
            result = await queries.get_version(ctx, request.version_id)
        case ListDeployments():
            result = await queries.list_deployments(ctx, request)
        case GetDeployment():
            result = await queries.get_deployment(ctx, request.deployment_id)
        case AbortDeployment():
            result = await deployments.abort(ctx, request)
        case GetState():
            result = await queries.get_state(ctx, request)
        case CreateUser():
            result = await accounts.create_user(ctx, request)
        case ListUsers():
            result = await accounts.list_users(ctx, request)
        case GetUser():
            # Admins may read anyone; everyone else only themselves (`/users/me`).
            if request.actor.id != request.user_id and not request.actor.may(UpdateUser.permission):
                return forbidden()
            result = await accounts.get_user(ctx, request.user_id)
        case UpdateUser():
            result = await accounts.update_user(ctx, request)
        case RedeemInvite():
            result = await accounts.redeem_invite(ctx, request)
        case RotateToken():
            result = await accounts.rotate_token(ctx, request)
        case CreateApiKey():
            result = await accounts.create_api_key(ctx, request)
        case ListApiKeys():
            result = await accounts.list_api_keys(ctx, request)
        case RevokeApiKey():
            result = await accounts.revoke_api_key(ctx, request)
        case CreateRule():
            result = await admin.create_rule(ctx, request)
        case ListRules():
            result = await admin.list_rules(ctx, request)
        case GetRule():
            result = await admin.get_rule(ctx, request)
        case UpdateRule():
            result = await admin.update_rule(ctx, request)
        case DeleteRule():
            result = await admin.delete_rule(ctx, request)
        case PreviewWindows():
            result = await admin.preview_windows(ctx, request)
        case ListViolations():
            result = await logs.list_violations(ctx, request)
        case CreateRequest():
            result = await requests.create_request(ctx, request)
        case UpdateRequest():
            result = await requests.update_request(ctx, request)
        case ListRequests():
            result = await requests.list_requests(ctx, request)
        case GetRequest():
            result = await requests.get_request(ctx, request)
        case MoveRequest():
            result = await requests.move_request(ctx, request)
        case DecideSlot():
            result = await requests.decide_slot(ctx, request)
        case CompleteStep():
            result = await requests.complete_step(ctx, request)
        case ApproveVersion():
            result = await approvals.approve_version(ctx, request)
        case AuthorizeFire():
            result = await buttons.authorize_fire(ctx, request)
        case HandleSlackAction():
            result = await buttons.handle_slack_action(ctx, request)
        case ResolveVariables():
            result = await buttons.resolve_variables(ctx, request)
        case GetHome():
            result = await home(ctx, request)
        case RevokeVersionApproval():
            result = await approvals.revoke_approval(ctx, request)
        case ListVersionApprovals():
            result = await approvals.list_approvals(ctx, request)
        case ListAudit():
            result = await logs.list_audit(ctx, request)
    return result
