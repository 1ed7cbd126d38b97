"""Button fires and Slack clicks: authorized here, carried out by the notifier.

Policy knows the users and the catalog, the notifier knows the buttons and Slack. A fire is
authorized here (role, version, environment), audited, and handed to the notifier through the
outbox with the version's `{vi_*}` values. A click in Slack is mapped to its Versioner user by
`slack_user_id`, counted once per (message, `action_ts`), and runs through the same checks as
the API (a slot decision is `requests.decide_slot`: never one's own request); what came of it
goes back to the notifier, which updates the message or answers the clicker alone.
"""

from typing import Any
from uuid import UUID, uuid4

from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from versioner.common.errors import Failure, forbidden, not_found, unprocessable
from versioner.common.messages.actor import Actor
from versioner.common.messages.domain import ButtonFireRequested, SlackActionHandled, SlackOrigin
from versioner.common.messages.management import (
    ApproveVersion,
    AuthorizeFire,
    DecideSlot,
    HandleSlackAction,
    ResolveVariables,
)
from versioner.common.notifications import FireAccepted, TemplateVariables
from versioner.common.resources import Done
from versioner.common.roles import Permission, Role
from versioner.common.slack_actions import ApproveAction, FireAction, SlotAction
from versioner.policy.approvals import service as approvals
from versioner.policy.catalog.lookup import find_environment
from versioner.policy.context import PolicyContext
from versioner.policy.logs.audit import audit
from versioner.policy.registry import handles
from versioner.policy.requests import service as requests
from versioner.policy.store.outbox import enqueue
from versioner.policy.store.tables import Product, SlackClick, User, Version


async def _variables(
    session: AsyncSession, product_id: UUID, version_name: str, environment_name: str
) -> TemplateVariables | Failure:
    """The `{vi_*}` values of a product's version in an environment (which may be new)."""
    product = await session.get(Product, product_id)
    if product is None:
        return not_found()
    version = (
        await session.execute(
            select(Version).where(
                col(Version.product_id) == product.id, col(Version.version) == version_name
            )
        )
    ).scalar_one_or_none()
    if version is None:
        return unprocessable("version", f"{product.name} has no version {version_name} (yet)")
    environment = await find_environment(session, environment_name)
    return TemplateVariables(
        version=version.version,
        product_name=product.name,
        product_id=product.id,
        environment_name=environment.name if environment else environment_name,
        environment_id=environment.id if environment else None,
        sha=version.scm_sha,
        build_number=version.build_number,
    )


@handles(ResolveVariables)
async def resolve_variables(
    ctx: PolicyContext, request: ResolveVariables
) -> TemplateVariables | Failure:
    """The `{vi_*}` values, to preview a button."""
    async with ctx.db.read() as session:
        return await _variables(session, request.product_id, request.version, request.environment)


@handles(AuthorizeFire)
async def authorize_fire(ctx: PolicyContext, request: AuthorizeFire) -> FireAccepted | Failure:
    """Check the version and environment, audit, and hand the firing to the notifier."""
    now = ctx.clock.now()
    async with ctx.db.write() as session:
        variables = await _variables(
            session, request.product_id, request.version, request.environment
        )
        if isinstance(variables, Failure):
            return variables
        await audit(
            session,
            actor=request.actor.label,
            kind="button.fired",
            summary=f"{request.actor.name} fired a deployment button for "
            f"{variables.product_name} {variables.version} → {variables.environment_name}",
            at=now,
            subject_id=str(request.firing_id),
            data={"button_id": str(request.button_id), "slack": request.origin is not None},
        )
        await enqueue(
            session,
            ButtonFireRequested(
                event_id=uuid4(),
                occurred_at=now,
                actor=request.actor.label,
                firing_id=request.firing_id,
                button_id=request.button_id,
                variables=variables,
                origin=request.origin,
            ),
            "button.fire_requested",
            at=now,
        )
    ctx.wake_relay()
    return FireAccepted(firing_id=request.firing_id)


def _reason(failure: Failure) -> str:
    detail: Any = failure.body.detail
    if isinstance(detail, dict):
        return str(detail.get("message") or detail)
    if isinstance(detail, list) and detail:
        return str(detail[0].get("msg", detail[0]))
    return str(detail)


async def _counted_once(ctx: PolicyContext, request: HandleSlackAction) -> bool:
    origin = request.origin
    try:
        async with ctx.db.write() as session:
            session.add(
                SlackClick(
                    channel_id=origin.channel_id,
                    message_ts=origin.message_ts,
                    action_ts=request.action_ts,
                    slack_user_id=origin.slack_user_id,
                    at=ctx.clock.now(),
                )
            )
    except IntegrityError:
        return False
    return True


async def _user(ctx: PolicyContext, slack_user_id: str) -> Actor | None:
    async with ctx.db.read() as session:
        user = (
            await session.execute(
                select(User).where(col(User.slack_user_id) == slack_user_id, col(User.active))
            )
        ).scalar_one_or_none()
    if user is None:
        return None
    return Actor(kind="user", id=user.id, name=user.name, role=Role(user.role))


def _who(origin: SlackOrigin, actor: Actor) -> str:
    return f"<@{origin.slack_user_id}> ({actor.role})"


async def _act(
    ctx: PolicyContext,
    actor: Actor,
    action: FireAction | SlotAction | ApproveAction,
    origin: SlackOrigin,
) -> tuple[bool, str]:
    """Do what the button says as this user: (done?, what to tell)."""
    result: BaseModel | Failure
    match action:
        case SlotAction():
            result = await requests.decide_slot(
                ctx,
                DecideSlot(
                    actor=actor,
                    request_id=action.request_id,
                    slot_id=action.slot_id,
                    decision=action.decision,
                ),
            )
            verb = "✅ Approved" if action.decision == "approve" else "❌ Rejected"
            done = f"{verb} by {_who(origin, actor)}"
        case ApproveAction():
            if not actor.may(Permission.APPROVE_VERSIONS):
                result = forbidden()
            else:
                result = await approvals.approve_version(
                    ctx,
                    ApproveVersion(
                        actor=actor,
                        version_id=action.version_id,
                        approval_type=action.approval_type,
                        environment=action.environment,
                    ),
                )
            done = f"✅ {action.approval_type} sign-off by {_who(origin, actor)}"
        case FireAction():
            if not actor.may(Permission.FIRE_BUTTONS):
                result = forbidden()
            else:
                result = await authorize_fire(
                    ctx,
                    AuthorizeFire(
                        actor=actor,
                        firing_id=uuid4(),
                        button_id=action.button_id,
                        product_id=action.product_id,
                        version=action.version,
                        environment=action.environment,
                        origin=origin,
                    ),
                )
            done = f"🚀 {_who(origin, actor)} started the deployment to {action.environment}"
    if isinstance(result, Failure):
        if result.status_code == 403:
            return False, f"You may not do that as {actor.name} ({actor.role})."
        return False, f"That did not work: {_reason(result)}"
    return True, done


@handles(HandleSlackAction)
async def handle_slack_action(ctx: PolicyContext, request: HandleSlackAction) -> Done:
    """One click: mapped, checked, done once; the notifier tells Slack what came of it."""
    origin = request.origin
    if not await _counted_once(ctx, request):
        return Done()
    actor = await _user(ctx, origin.slack_user_id)
    if actor is None:
        ok, note = (
            False,
            "Your Slack account is not linked to a Versioner user: ask an admin to set your "
            "slack_user_id.",
        )
    else:
        ok, note = await _act(ctx, actor, request.action, origin)
    now = ctx.clock.now()
    async with ctx.db.write() as session:
        await enqueue(
            session,
            SlackActionHandled(
                event_id=uuid4(),
                occurred_at=now,
                actor=actor.label if actor else f"slack:{origin.slack_user_id}",
                origin=origin,
                ok=ok,
                note=note,
            ),
            "slack.action_handled",
            at=now,
        )
    ctx.wake_relay()
    return Done()
