"""The dashboard's dependencies: who is signed in (`ViewerDep`), and for a state-changing
request, that it carries the session's CSRF token too (`CheckedDep`).

Every page asks policy with the signed-in user's own token, so it sees and may do exactly
what the API would let that user see and do. State-changing requests carry the session's
CSRF token (a `csrf_token` form field or an `X-CSRF-Token` header); without it: 403.
"""

from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, Response

from versioner.common.errors import forbidden
from versioner.common.messages.actor import Actor
from versioner.common.messages.broadcasts import CredentialsChanged
from versioner.common.messages.management import ManagementCall
from versioner.common.messages.notifier import NotifierCall
from versioner.common.messages.rpc import R
from versioner.common.roles import Permission
from versioner.ingest.auth import Authenticator
from versioner.ingest.gateway import FailureError, PolicyGateway
from versioner.ingest.ui.render import flash_redirect, refusal_page, render
from versioner.ingest.ui.session import COOKIE, Session, SessionCodec


class SignInRequired(Exception):  # noqa: N818 - reads as what happened
    """A signed-out request for a page: answered with a redirect to the sign-in form."""

    def __init__(self, back_to: str) -> None:
        super().__init__(back_to)
        self.back_to = back_to


class CsrfRefused(Exception):  # noqa: N818 - reads as what happened
    """A state-changing request without this session's CSRF token."""


def codec(request: Request) -> SessionCodec:
    """The app's session codec (made when the app starts, from `VERSIONER_SESSION_SECRET`)."""
    found: SessionCodec = request.app.state.session_codec
    return found


class Viewer:
    """The signed-in user of a page, with what a page needs to ask policy in their name."""

    def __init__(self, request: Request, session: Session, actor: Actor) -> None:
        self.request = request
        self.session = session
        self.actor = actor
        self.gateway: PolicyGateway = request.app.state.gateway

    async def ask(self, message: ManagementCall[R]) -> R:
        """A policy RPC on behalf of this user: the reply its type names."""
        return await self.gateway.ask(message)

    async def ask_notifier(self, message: NotifierCall[R], *, timeout: float | None = None) -> R:
        """A notifier RPC on behalf of this user: the reply its type names."""
        return await self.gateway.ask_notifier(message, timeout=timeout)

    def render(self, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        """A page for this user."""
        return render(self.request, template, status_code, viewer=self, **context)

    def refused(self, exc: FailureError) -> Response:
        """A refusal of what this user asked, as a page (nothing changed)."""
        return refusal_page(self.request, exc.failure)

    def may(self, permission: Permission) -> bool:
        """Whether this user's role allows it: pages offer only what would be allowed."""
        return self.actor.may(permission)

    def require(self, permission: Permission) -> None:
        """Refuse (403) a page or form this user's role does not allow."""
        if not self.may(permission):
            raise FailureError(forbidden())

    async def act(
        self, message: ManagementCall[Any] | NotifierCall[Any], back: str, done: str
    ) -> Response:
        """Do what a form asks, in this user's name; back to `back` saying `done`, or the
        refusal as a page (nothing changed)."""
        try:
            if isinstance(message, NotifierCall):
                await self.ask_notifier(message)
            else:
                await self.ask(message)
        except FailureError as exc:
            return self.refused(exc)
        return flash_redirect(back, done)

    def forget(self, change: CredentialsChanged) -> None:
        """What the API does after a credential change: this gateway forgets at once."""
        authenticator: Authenticator = self.request.app.state.authenticator
        authenticator.cache.forget(change)


async def _signed_in(request: Request) -> tuple[Session, Actor] | None:
    session = codec(request).open(request.cookies.get(COOKIE))
    if session is None:
        return None
    authenticator: Authenticator = request.app.state.authenticator
    try:
        actor = await authenticator.actor(session.token)
    except FailureError as exc:
        if exc.failure.status_code == 401:
            return None
        raise
    return (session, actor) if actor.kind == "user" else None


async def viewer(request: Request) -> Viewer:
    """A dependency: the signed-in user, else a redirect to the sign-in form and back."""
    found = await _signed_in(request)
    if found is None:
        back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInRequired(back)
    return Viewer(request, *found)


async def checked(request: Request, signed_in: Annotated[Viewer, Depends(viewer)]) -> Viewer:
    """A dependency for state-changing requests: the user, and the session's CSRF token."""
    sent = request.headers.get("x-csrf-token")
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        sent = str((await request.form()).get("csrf_token") or "") or None
    if not signed_in.session.csrf_ok(sent):
        raise CsrfRefused
    return signed_in


ViewerDep = Annotated[Viewer, Depends(viewer)]
CheckedDep = Annotated[Viewer, Depends(checked)]
