"""Users, invites, personal tokens and API keys."""

from uuid import UUID

from fastapi import Response
from pydantic import BaseModel, Field, StrictBool

from versioner.common.errors import forbidden
from versioner.common.messages.actor import ANONYMOUS
from versioner.common.messages.broadcasts import CredentialsChanged
from versioner.common.messages.management import (
    DEFAULT_LIMIT,
    CreateApiKey,
    CreateUser,
    GetUser,
    ListApiKeys,
    ListUsers,
    RedeemInvite,
    RevokeApiKey,
    RotateToken,
    UpdateUser,
)
from versioner.common.resources import (
    ApiKeyCreated,
    ApiKeyPublic,
    TokenIssued,
    UserInvited,
    UserPublic,
)
from versioner.common.roles import Role
from versioner.common.types import Email, Name
from versioner.ingest.deps import ActorDep, CacheDep, GatewayDep, ident
from versioner.ingest.gateway import FailureError
from versioner.ingest.openapi import conflict
from versioner.ingest.routes.catalog import Limit
from versioner.ingest.web import Router, respond, respond_list

router = Router(tags=["accounts"])


class UserIn(BaseModel):
    """A user to invite."""

    name: Name
    email: Email | None = None
    role: Role
    slack_user_id: str | None = Field(default=None, max_length=64)


class UserPatch(BaseModel):
    """Changes to a user; an empty `slack_user_id` unlinks Slack."""

    role: Role | None = None
    email: Email | None = None
    slack_user_id: str | None = Field(default=None, max_length=64)
    active: StrictBool | None = None


class InviteIn(BaseModel):
    """An invite to redeem."""

    invite_token: str = Field(min_length=1, max_length=512)


class ApiKeyIn(BaseModel):
    """A new API key's name."""

    name: Name


@router.both(
    "/users",
    methods=["POST"],
    status_code=201,
    responses={
        201: {"model": UserInvited},
        **conflict("The Slack user is mapped to another user already"),
    },
)
async def create_user(user: UserIn, actor: ActorDep, gateway: GatewayDep) -> Response:
    """Invite a user (admin): the answer holds a one-time invite token, valid 24 h."""
    return respond(await gateway.ask(CreateUser(actor=actor, **user.model_dump())), 201)


@router.both("/users", methods=["GET"], responses={200: {"model": list[UserPublic]}})
async def list_users(
    actor: ActorDep, gateway: GatewayDep, limit: Limit = DEFAULT_LIMIT, before: UUID | None = None
) -> Response:
    """Every user, newest first (admin)."""
    page = await gateway.ask(ListUsers(actor=actor, limit=limit, before=before))
    return respond_list(page.items, page.total)


@router.both("/users/redeem", methods=["POST"], responses={200: {"model": TokenIssued}})
async def redeem_invite(invite: InviteIn, gateway: GatewayDep) -> Response:
    """Trade an invite for a personal token (no credentials needed: the invite is one)."""
    return respond(
        await gateway.ask(RedeemInvite(actor=ANONYMOUS, invite_token=invite.invite_token))
    )


@router.both("/users/me", methods=["GET"], responses={200: {"model": UserPublic}})
async def me(actor: ActorDep, gateway: GatewayDep) -> Response:
    """The calling user."""
    if actor.kind != "user" or actor.id is None:
        raise FailureError(forbidden())
    return respond(await gateway.ask(GetUser(actor=actor, user_id=actor.id)))


@router.both("/users/me/token", methods=["POST"], responses={200: {"model": TokenIssued}})
async def rotate_token(actor: ActorDep, gateway: GatewayDep, cache: CacheDep) -> Response:
    """Replace one's personal token; the old one stops working at once."""
    issued = await gateway.ask(RotateToken(actor=actor))
    # Policy's broadcast tells every gateway; this one need not wait for it.
    cache.forget(CredentialsChanged(actor_ids=[actor.id] if actor.id else []))
    return respond(issued)


@router.both("/users/{user_id}", methods=["GET"], responses={200: {"model": UserPublic}})
async def get_user(user_id: str, actor: ActorDep, gateway: GatewayDep) -> Response:
    """A user (admin, or oneself)."""
    return respond(await gateway.ask(GetUser(actor=actor, user_id=ident(user_id))))


@router.both(
    "/users/{user_id}",
    methods=["PATCH"],
    responses={
        200: {"model": UserPublic},
        **conflict(
            "The Slack user is mapped to another user, or the last admin would be demoted or "
            "deactivated"
        ),
    },
)
async def update_user(
    user_id: str, patch: UserPatch, actor: ActorDep, gateway: GatewayDep, cache: CacheDep
) -> Response:
    """Change a user's role, email, Slack id or activity (admin; not one's own role)."""
    request = UpdateUser(
        actor=actor, user_id=ident(user_id), **patch.model_dump(exclude_unset=True)
    )
    user = await gateway.ask(request)
    if request.role is not None or request.active is not None:
        cache.forget(CredentialsChanged(actor_ids=[request.user_id]))
    return respond(user)


@router.both(
    "/api-keys", methods=["POST"], status_code=201, responses={201: {"model": ApiKeyCreated}}
)
async def create_api_key(key: ApiKeyIn, actor: ActorDep, gateway: GatewayDep) -> Response:
    """A new API key for CI (admin); the key is shown this once."""
    return respond(await gateway.ask(CreateApiKey(actor=actor, name=key.name)), 201)


@router.both("/api-keys", methods=["GET"], responses={200: {"model": list[ApiKeyPublic]}})
async def list_api_keys(
    actor: ActorDep, gateway: GatewayDep, limit: Limit = DEFAULT_LIMIT, before: UUID | None = None
) -> Response:
    """Every API key without its secret (admin; developers may look)."""
    page = await gateway.ask(ListApiKeys(actor=actor, limit=limit, before=before))
    return respond_list(page.items, page.total)


@router.both("/api-keys/{key_id}", methods=["DELETE"], status_code=204)
async def revoke_api_key(
    key_id: str, actor: ActorDep, gateway: GatewayDep, cache: CacheDep
) -> Response:
    """Revoke an API key (admin): every gateway forgets it at once."""
    revoked = await gateway.ask(RevokeApiKey(actor=actor, key_id=ident(key_id)))
    cache.forget(CredentialsChanged(credential_ids=[revoked.id]))
    return Response(status_code=204)
