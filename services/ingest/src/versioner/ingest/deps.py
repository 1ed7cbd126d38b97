"""Dependencies, defined once: the gateway, the caller, permission checks.

All `async def`: FastAPI runs a plain `def` dependency in a thread pool, a thread hop each.
"""

from typing import Annotated
from uuid import UUID

from fastapi import Depends, Request

from versioner.common.errors import forbidden, not_found, unauthenticated
from versioner.common.messages.actor import Actor
from versioner.common.roles import Permission
from versioner.ingest.auth import Authenticator, CredentialCache
from versioner.ingest.gateway import FailureError, PolicyGateway
from versioner.ingest.settings import IngestSettings


async def _gateway(request: Request) -> PolicyGateway:
    gateway: PolicyGateway = request.app.state.gateway
    return gateway


async def _settings(request: Request) -> IngestSettings:
    settings: IngestSettings = request.app.state.settings
    return settings


def parse_bearer(header: str) -> str:
    """The token of an `Authorization: Bearer <token>` header's value, or 401."""
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise FailureError(unauthenticated())
    return token.strip()


async def bearer_token(request: Request) -> str:
    """The token of `Authorization: Bearer <token>`, or 401."""
    return parse_bearer(request.headers.get("authorization", ""))


async def _actor(request: Request, token: Annotated[str, Depends(bearer_token)]) -> Actor:
    authenticator: Authenticator = request.app.state.authenticator
    return await authenticator.actor(token)


async def _cache(request: Request) -> CredentialCache:
    authenticator: Authenticator = request.app.state.authenticator
    return authenticator.cache


def ident(raw: str) -> UUID:
    """A record id from a path: anything that is not one names nothing, so 404."""
    try:
        return UUID(raw)
    except ValueError:
        raise FailureError(not_found()) from None


def names(raw: str | None) -> list[str]:
    """A comma-separated list of names (`?products=api,web`, a form's environments field),
    without blanks."""
    return [name.strip() for name in (raw or "").split(",") if name.strip()]


GatewayDep = Annotated[PolicyGateway, Depends(_gateway)]
CacheDep = Annotated[CredentialCache, Depends(_cache)]
SettingsDep = Annotated[IngestSettings, Depends(_settings)]
ActorDep = Annotated[Actor, Depends(_actor)]


def allowed(permission: Permission) -> object:
    """A dependency: the caller, if their role allows `permission` (else 403)."""

    async def check(actor: ActorDep) -> Actor:
        if not actor.may(permission):
            raise FailureError(forbidden())
        return actor

    return Depends(check)


async def event_sender(authenticator: Authenticator, authorization: str) -> Actor:
    """The caller behind an `Authorization` header's value, if it may send events: the same
    checks as `allowed(SEND_EVENTS)` at once, on the path every pipeline takes (issue 8)."""
    actor = await authenticator.actor(parse_bearer(authorization))
    if not actor.may(Permission.SEND_EVENTS):
        raise FailureError(forbidden())
    return actor


async def _event_sender(request: Request) -> Actor:
    return await event_sender(
        request.app.state.authenticator, request.headers.get("authorization", "")
    )


EventSenderDep = Annotated[Actor, Depends(_event_sender)]
