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


async def bearer_token(request: Request) -> str:
    """The token of `Authorization: Bearer <token>`, or 401."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise FailureError(unauthenticated())
    return token.strip()


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


async def _event_sender(request: Request) -> Actor:
    """The caller, if it may send events: the same checks as `allowed(SEND_EVENTS)` in one
    dependency instead of three, on the path every pipeline takes (FastAPI's dependency
    solving was a tenth of the gateway's CPU there; issue 8)."""
    authenticator: Authenticator = request.app.state.authenticator
    actor = await authenticator.actor(await bearer_token(request))
    if not actor.may(Permission.SEND_EVENTS):
        raise FailureError(forbidden())
    return actor


EventSenderDep = Annotated[Actor, Depends(_event_sender)]
