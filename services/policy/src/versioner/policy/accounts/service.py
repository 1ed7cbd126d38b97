"""Users, their personal tokens and invites, API keys, and who a bearer token stands for.

Secrets are generated here and stored only as SHA-256 hashes; each is shown once.
"""

import hashlib
import hmac
import secrets
import string
from collections.abc import Sequence
from datetime import datetime, timedelta
from uuid import UUID

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from versioner.common.errors import Failure, conflict, forbidden, not_found, unauthenticated
from versioner.common.messages.actor import Actor
from versioner.common.messages.broadcasts import CredentialsChanged
from versioner.common.messages.management import (
    Authenticate,
    Authenticated,
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
    Page,
    TokenIssued,
    UserInvited,
    UserPublic,
)
from versioner.common.roles import Role
from versioner.common.rows import public
from versioner.policy.context import PolicyContext
from versioner.policy.logs.audit import audit
from versioner.policy.registry import handles
from versioner.policy.store.outbox import enqueue
from versioner.policy.store.paging import paginate
from versioner.policy.store.sql import is_postgres
from versioner.policy.store.tables import Credential, User

_ALPHABET = string.ascii_letters + string.digits
INVITE_TTL = timedelta(hours=24)
# last_used_at is written at most this often per credential: ingest caches credentials for a
# minute anyway, so a finer figure would only cost writes.
_LAST_USED_GRANULARITY = timedelta(seconds=60)
_BOOTSTRAP_ADMIN = "admin"


def _random(length: int = 40) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def hash_secret(secret: str) -> str:
    """The stored form of a secret."""
    return hashlib.sha256(secret.encode()).hexdigest()


def _pat() -> str:
    return f"pat_{_random()}"


def _api_key(org: str) -> tuple[str, str]:
    key_id = "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(8))
    return f"sk_{org}_{key_id}_{_random()}", f"sk_{org}_{key_id}"


def user_public(user: User) -> UserPublic:
    """A user as the API shows them."""
    return public(UserPublic, user)


def api_key_public(key: Credential) -> ApiKeyPublic:
    """An API key as listed: its prefix, never its secret."""
    return public(ApiKeyPublic, key, name=key.name or "")


async def _broadcast(
    session: AsyncSession, *, credential_ids: Sequence[UUID] = (), actor_ids: Sequence[UUID] = ()
) -> None:
    await enqueue(
        session,
        CredentialsChanged(credential_ids=list(credential_ids), actor_ids=list(actor_ids)),
        "credentials.changed",
        exchange="credentials",
    )


async def _active_admins(session: AsyncSession) -> int:
    """How many active admins there are, their rows locked (PostgreSQL) so that two demotions
    at once cannot both see another admin left."""
    stmt = select(col(User.id)).where(col(User.role) == Role.ADMIN, col(User.active))
    if is_postgres(session):
        stmt = stmt.with_for_update()
    return len((await session.execute(stmt)).all())


async def _bootstrap(
    ctx: PolicyContext, session: AsyncSession, token: str, now: datetime
) -> Credential | None:
    """The bootstrap token, while no admin exists, becomes the first admin's personal token."""
    configured = ctx.settings.bootstrap_token
    if configured is None or not hmac.compare_digest(token, configured.get_secret_value()):
        return None
    if await _active_admins(session) > 0:
        return None
    user = User(name=_BOOTSTRAP_ADMIN, role=Role.ADMIN, created_at=now, updated_at=now)
    session.add(user)
    await session.flush()
    credential = Credential(
        kind="pat",
        secret_hash=hash_secret(token),
        prefix=token[:8],
        user_id=user.id,
        created_by="bootstrap",
        created_at=now,
    )
    session.add(credential)
    await session.flush()
    await audit(
        session,
        actor="system",
        kind="user.bootstrapped",
        summary="first admin created from the bootstrap token",
        at=now,
        subject_id=user.id,
    )
    return credential


@handles(Authenticate)
async def authenticate(ctx: PolicyContext, request: Authenticate) -> Authenticated | Failure:
    """Who a bearer token stands for, or 401."""
    now = ctx.clock.now()
    token = request.token
    if not token.startswith(("pat_", "sk_")) and ctx.settings.bootstrap_token is None:
        return unauthenticated()
    try:
        async with ctx.db.write() as session:
            credential = (
                await session.execute(
                    select(Credential).where(col(Credential.secret_hash) == hash_secret(token))
                )
            ).scalar_one_or_none()
            if credential is None:
                credential = await _bootstrap(ctx, session, token, now)
            if (
                credential is None
                or credential.kind == "invite"
                or credential.revoked_at is not None
            ):
                return unauthenticated()
            if credential.expires_at is not None and credential.expires_at <= now:
                return unauthenticated()
            if credential.kind == "api_key":
                actor = Actor(
                    kind="api_key", id=credential.id, name=credential.name or credential.prefix
                )
            else:
                user = await session.get(User, credential.user_id)
                if user is None or not user.active:
                    return unauthenticated()
                actor = Actor(kind="user", id=user.id, name=user.name, role=Role(user.role))
            if (
                credential.last_used_at is None
                or now - credential.last_used_at >= _LAST_USED_GRANULARITY
            ):
                credential.last_used_at = now
    except IntegrityError:
        # Two replicas bootstrapping at once: the other one won; its admin now holds the token.
        return await authenticate(ctx, request)
    ctx.wake_relay()
    return Authenticated(actor=actor, credential_id=credential.id)


def _slack_conflict(slack_user_id: str | None) -> Failure:
    return conflict(f"Slack user {slack_user_id} is already mapped to another user")


@handles(CreateUser)
async def create_user(ctx: PolicyContext, request: CreateUser) -> UserInvited | Failure:
    """Create a user and an invite they redeem for their personal token."""
    try:
        return await _create_user(ctx, request)
    except IntegrityError:
        # Another transaction took the Slack id between our check and our insert.
        return _slack_conflict(request.slack_user_id)


async def _create_user(ctx: PolicyContext, request: CreateUser) -> UserInvited | Failure:
    now = ctx.clock.now()
    invite = f"inv_{_random()}"
    async with ctx.db.write() as session:
        if request.slack_user_id and await _slack_taken(session, request.slack_user_id):
            return _slack_conflict(request.slack_user_id)
        user = User(
            name=request.name,
            email=request.email,
            role=request.role,
            slack_user_id=request.slack_user_id or None,
            created_at=now,
            updated_at=now,
        )
        session.add(user)
        await session.flush()
        session.add(
            Credential(
                kind="invite",
                secret_hash=hash_secret(invite),
                prefix=invite[:8],
                user_id=user.id,
                created_by=request.actor.label,
                created_at=now,
                expires_at=now + INVITE_TTL,
            )
        )
        await audit(
            session,
            actor=request.actor,
            kind="user.created",
            summary=f"user {user.name} created as {user.role}",
            at=now,
            subject_id=user.id,
        )
    return UserInvited(
        **user_public(user).model_dump(exclude={"kind"}),
        invite_token=invite,
        invite_expires_at=now + INVITE_TTL,
    )


async def _slack_taken(
    session: AsyncSession, slack_user_id: str, except_user: UUID | None = None
) -> bool:
    stmt = select(col(User.id)).where(col(User.slack_user_id) == slack_user_id)
    if except_user is not None:
        stmt = stmt.where(col(User.id) != except_user)
    return (await session.execute(stmt)).first() is not None


async def _issue_token(
    session: AsyncSession, user_id: UUID, created_by: str, now: datetime
) -> tuple[str, list[UUID]]:
    """A new personal token for the user; every older one is revoked. The token and revoked ids."""
    revoked = list(
        (
            await session.execute(
                update(Credential)
                .where(
                    col(Credential.user_id) == user_id,
                    col(Credential.kind) == "pat",
                    col(Credential.revoked_at).is_(None),
                )
                .values(revoked_at=now)
                .returning(col(Credential.id))
            )
        ).scalars()
    )
    token = _pat()
    session.add(
        Credential(
            kind="pat",
            secret_hash=hash_secret(token),
            prefix=token[:8],
            user_id=user_id,
            created_by=created_by,
            created_at=now,
        )
    )
    return token, revoked


@handles(RedeemInvite)
async def redeem_invite(ctx: PolicyContext, request: RedeemInvite) -> TokenIssued | Failure:
    """Trade a one-time invite (24 h) for a personal token."""
    now = ctx.clock.now()
    async with ctx.db.write() as session:
        invite = (
            await session.execute(
                select(Credential).where(
                    col(Credential.secret_hash) == hash_secret(request.invite_token),
                    col(Credential.kind) == "invite",
                )
            )
        ).scalar_one_or_none()
        usable = (
            invite is not None
            and invite.used_at is None
            and invite.revoked_at is None
            and invite.expires_at is not None
            and invite.expires_at > now
        )
        user = await session.get(User, invite.user_id) if invite is not None and usable else None
        if invite is None or user is None or not user.active:
            return unauthenticated()
        invite.used_at = now
        token, revoked = await _issue_token(session, user.id, "invite", now)
        if revoked:
            await _broadcast(session, credential_ids=revoked)
        await audit(
            session,
            actor=f"user:{user.name}",
            kind="invite.redeemed",
            summary=f"{user.name} redeemed an invite",
            at=now,
            subject_id=user.id,
        )
    ctx.wake_relay()
    return TokenIssued(token=token)


@handles(RotateToken)
async def rotate_token(ctx: PolicyContext, request: RotateToken) -> TokenIssued | Failure:
    """Replace the caller's personal token (every older one stops working at once)."""
    if request.actor.kind != "user" or request.actor.id is None:
        return forbidden()
    now = ctx.clock.now()
    async with ctx.db.write() as session:
        token, revoked = await _issue_token(session, request.actor.id, request.actor.label, now)
        await _broadcast(session, credential_ids=revoked)
        await audit(
            session,
            actor=request.actor,
            kind="token.rotated",
            summary=f"{request.actor.name} rotated their token",
            at=now,
            subject_id=request.actor.id,
        )
    ctx.wake_relay()
    return TokenIssued(token=token)


@handles(ListUsers)
async def list_users(ctx: PolicyContext, request: ListUsers) -> Page[UserPublic] | Failure:
    """Every user, newest first."""
    async with ctx.db.read() as session:
        page = await paginate(session, select(User), User, request.limit, request.before)
    if page is None:
        return not_found()
    users, total = page
    return Page[UserPublic](items=[user_public(u) for u in users], total=total)


@handles(GetUser)
async def get_user(ctx: PolicyContext, request: GetUser) -> UserPublic | Failure:
    """One user: admins may read anyone, everyone else only themselves (`/users/me`)."""
    if request.actor.id != request.user_id and not request.actor.may(UpdateUser.permission):
        return forbidden()
    async with ctx.db.read() as session:
        user = await session.get(User, request.user_id)
    return user_public(user) if user else not_found()


@handles(UpdateUser)
async def update_user(ctx: PolicyContext, request: UpdateUser) -> UserPublic | Failure:
    """Change a user's role, email, Slack id or activity."""
    try:
        return await _update_user(ctx, request)
    except IntegrityError:
        return _slack_conflict(request.slack_user_id)


async def _update_user(ctx: PolicyContext, request: UpdateUser) -> UserPublic | Failure:
    now = ctx.clock.now()
    async with ctx.db.write() as session:
        user = await session.get(User, request.user_id)
        if user is None:
            return not_found()
        if request.role is not None and request.role != user.role and request.actor.id == user.id:
            return forbidden()
        demoted = request.role is not None and request.role != Role.ADMIN
        deactivated = request.active is False
        if (
            user.role == Role.ADMIN
            and user.active
            and (demoted or deactivated)
            and await _active_admins(session) <= 1
        ):
            return conflict("The last admin cannot be demoted or deactivated")
        if request.slack_user_id and await _slack_taken(
            session, request.slack_user_id, except_user=user.id
        ):
            return _slack_conflict(request.slack_user_id)
        changes: dict[str, list[str | None]] = {}
        for field in ("role", "email", "active"):
            if (value := getattr(request, field)) is not None and value != getattr(user, field):
                changes[field] = [str(getattr(user, field)), str(value)]
                setattr(user, field, value)
        if request.slack_user_id is not None:
            new_slack = request.slack_user_id or None
            if new_slack != user.slack_user_id:
                changes["slack_user_id"] = [user.slack_user_id, new_slack]
                user.slack_user_id = new_slack
        if changes:
            user.updated_at = now
            if "role" in changes or "active" in changes:
                await _broadcast(session, actor_ids=[user.id])
            await audit(
                session,
                actor=request.actor,
                kind="user.updated",
                summary=f"user {user.name} changed: {', '.join(sorted(changes))}",
                at=now,
                subject_id=user.id,
                data={"changes": changes},
            )
    ctx.wake_relay()
    return user_public(user)


@handles(CreateApiKey)
async def create_api_key(ctx: PolicyContext, request: CreateApiKey) -> ApiKeyCreated:
    """A new API key, its secret shown this once."""
    now = ctx.clock.now()
    key, prefix = _api_key(ctx.settings.org)
    credential = Credential(
        kind="api_key",
        secret_hash=hash_secret(key),
        prefix=prefix,
        name=request.name,
        created_by=request.actor.label,
        created_at=now,
    )
    async with ctx.db.write() as session:
        session.add(credential)
        await audit(
            session,
            actor=request.actor,
            kind="api_key.created",
            summary=f"API key {request.name} ({prefix}) created",
            at=now,
            subject_id=credential.id,
        )
    return ApiKeyCreated(id=credential.id, name=request.name, key=key, created_at=now)


@handles(ListApiKeys)
async def list_api_keys(ctx: PolicyContext, request: ListApiKeys) -> Page[ApiKeyPublic] | Failure:
    """Every API key, newest first, without secrets."""
    async with ctx.db.read() as session:
        page = await paginate(
            session,
            select(Credential).where(col(Credential.kind) == "api_key"),
            Credential,
            request.limit,
            request.before,
        )
    if page is None:
        return not_found()
    keys, total = page
    return Page[ApiKeyPublic](items=[api_key_public(k) for k in keys], total=total)


@handles(RevokeApiKey)
async def revoke_api_key(ctx: PolicyContext, request: RevokeApiKey) -> ApiKeyPublic | Failure:
    """Revoke an API key; every ingest replica forgets it at once."""
    now = ctx.clock.now()
    async with ctx.db.write() as session:
        key = await session.get(Credential, request.key_id)
        if key is None or key.kind != "api_key":
            return not_found()
        if key.revoked_at is None:
            key.revoked_at = now
            await _broadcast(session, credential_ids=[key.id])
            await audit(
                session,
                actor=request.actor,
                kind="api_key.revoked",
                summary=f"API key {key.name} ({key.prefix}) revoked",
                at=now,
                subject_id=key.id,
            )
    ctx.wake_relay()
    return api_key_public(key)
