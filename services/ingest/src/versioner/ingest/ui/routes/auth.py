"""Signing in and out: a personal token exchanged for a sealed session cookie."""

import hmac
import re
import secrets
from typing import Annotated, Literal

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel

from versioner.ingest.auth import Authenticator
from versioner.ingest.gateway import FailureError
from versioner.ingest.settings import IngestSettings
from versioner.ingest.ui.deps import CheckedDep, codec
from versioner.ingest.ui.render import render
from versioner.ingest.ui.session import COOKIE, MAX_AGE_S

# The sign-in form's CSRF token: a cookie of its own (the form comes before any session).
LOGIN_COOKIE = "versioner_login"
LOGIN_MAX_AGE_S = 3600
LOGIN_TOKEN = re.compile(r"[A-Za-z0-9_-]{32}")
NOT_A_USER = "Sign in with your personal token (pat_…); API keys cannot sign in."

router = APIRouter(include_in_schema=False)


class SignInForm(BaseModel):
    """The sign-in form: a personal token, and where to go after."""

    token: str = ""
    next: str = "/ui/"
    csrf_token: str = ""


def _safe_next(target: str | None) -> str:
    """Where to go after signing in: only a page of this dashboard."""
    if target and target.startswith("/ui/") and not target.startswith("//"):
        return target
    return "/ui/"


def _login_form(
    request: Request, status_code: int, next: str | None, error: str | None
) -> HTMLResponse:
    """The sign-in form with its CSRF token, the same in a cookie of its own (double submit):
    a page of another site can make a browser post to this form, but cannot read or set that
    cookie, so it cannot sign the browser in as the attacker (login CSRF)."""
    token = request.cookies.get(LOGIN_COOKIE) or ""
    if not LOGIN_TOKEN.fullmatch(token):
        token = secrets.token_urlsafe(24)
    response = render(
        request, "login.html", status_code, next=_safe_next(next), error=error, csrf_token=token
    )
    _set_private_cookie(
        request, response, LOGIN_COOKIE, token, LOGIN_MAX_AGE_S, "strict", "/ui/login"
    )
    return response


def _set_private_cookie(
    request: Request,
    response: Response,
    name: str,
    value: str,
    max_age: int,
    samesite: Literal["lax", "strict"],
    path: str,
) -> None:
    """A cookie scripts cannot read, sent over https only when Versioner is served so."""
    settings: IngestSettings = request.app.state.settings
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        httponly=True,
        samesite=samesite,
        secure=settings.base_url.startswith("https://"),
        path=path,
    )


async def _refusal(request: Request, token: str) -> str | None:
    """Why a token may not sign in, or None when it may."""
    if not token.startswith("pat_"):
        return NOT_A_USER
    authenticator: Authenticator = request.app.state.authenticator
    try:
        actor = await authenticator.actor(token)
    except FailureError as exc:
        if exc.failure.status_code == 401:
            return "That token is not valid."
        return "Versioner is not answering right now; try again shortly."
    return None if actor.kind == "user" else NOT_A_USER


@router.get("/ui/login")
async def login_form(request: Request, next: str | None = None) -> Response:
    """The sign-in form: one field, a personal token."""
    return _login_form(request, 200, next, None)


@router.post("/ui/login")
async def login(request: Request, form: Annotated[SignInForm, Form()]) -> Response:
    """Exchange a personal token for a session cookie."""
    expected = request.cookies.get(LOGIN_COOKIE) or ""
    if not expected or not hmac.compare_digest(form.csrf_token.encode(), expected.encode()):
        expired = "This sign-in form has expired or came from another site: sign in here."
        return _login_form(request, 403, form.next, expired)
    token = form.token.strip()
    if (error := await _refusal(request, token)) is not None:
        return _login_form(request, 401, form.next, error)
    _session, value = codec(request).new(token)
    response = RedirectResponse(_safe_next(form.next), status_code=303)
    _set_private_cookie(request, response, COOKIE, value, MAX_AGE_S, "lax", "/")
    response.delete_cookie(LOGIN_COOKIE, path="/ui/login")
    return response


@router.post("/ui/logout")
async def logout(_viewer: CheckedDep) -> Response:
    """End the session."""
    response = RedirectResponse("/ui/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response
