"""Dashboard pages: sign-in, the home page with its live matrix, deployments and versions.

Every page asks policy with the signed-in user's own token, so it sees and may do exactly
what the API would let that user see and do. State-changing requests carry the session's
CSRF token (a `csrf_token` form field or an `X-CSRF-Token` header); without it: 403.
"""

import hmac
import re
import secrets
from datetime import datetime
from importlib.resources import files
from typing import Annotated, Any, Literal
from urllib.parse import quote, unquote, urlencode
from uuid import UUID

from fastapi import APIRouter, Depends, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape

from versioner.common.errors import Failure
from versioner.common.governance import (
    ViolationPublic,
)
from versioner.common.messages.actor import Actor
from versioner.common.messages.management import GetDeployment, GetHome, HomeView, ManagementCall
from versioner.common.messages.rpc import R
from versioner.common.roles import Permission
from versioner.ingest.auth import Authenticator
from versioner.ingest.gateway import FailureError, PolicyGateway
from versioner.ingest.settings import IngestSettings
from versioner.ingest.ui.session import COOKIE, MAX_AGE_S, Session, SessionCodec

FILTERS_COOKIE = "versioner_filters"
# One line saying what the last form did, shown once on the next page.
FLASH_COOKIE = "versioner_flash"

_templates = Environment(
    loader=FileSystemLoader(str(files("versioner.ingest.ui") / "templates")),
    autoescape=select_autoescape(["html"]),
    enable_async=False,
)


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "—"


_templates.filters["when"] = _when


class SignInRequired(Exception):  # noqa: N818 - reads as what happened
    """A signed-out request for a page: answered with a redirect to the sign-in form."""

    def __init__(self, back_to: str) -> None:
        super().__init__(back_to)
        self.back_to = back_to


class CsrfRefused(Exception):  # noqa: N818 - reads as what happened
    """A state-changing request without this session's CSRF token."""


def codec(request: Request) -> SessionCodec:
    """The app's session codec (one per process)."""
    found: SessionCodec | None = getattr(request.app.state, "session_codec", None)
    if found is None:
        settings: IngestSettings = request.app.state.settings
        secret = settings.session_secret.get_secret_value() if settings.session_secret else None
        found = request.app.state.session_codec = SessionCodec(secret)
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

    def render(self, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        """A page for this user."""
        return render(self.request, template, status_code, viewer=self, **context)

    def may(self, permission: Permission) -> bool:
        """Whether this user's role allows it: pages offer only what would be allowed."""
        return self.actor.may(permission)

    async def act(self, message: ManagementCall[Any], back: str, done: str) -> Response:
        """Do what a form asks, in this user's name; back to `back` saying `done`, or the
        refusal as a page (nothing changed)."""
        try:
            await self.ask(message)
        except FailureError as exc:
            return self.render(
                "error.html", exc.failure.status_code, message=failure_text(exc.failure)
            )
        response = RedirectResponse(back, status_code=303)
        response.set_cookie(FLASH_COOKIE, quote(done), max_age=60, samesite="lax", path="/ui/")
        return response


def _safe_next(target: str | None) -> str:
    """Where to go after signing in: only a page of this dashboard."""
    if target and target.startswith("/ui/") and not target.startswith("//"):
        return target
    return "/ui/"


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


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """A template rendered into a page (with the last form's note, shown once)."""
    flash = unquote(request.cookies.get(FLASH_COOKIE, "")) or None
    page = _templates.get_template(template).render(request=request, flash=flash, **context)
    response = HTMLResponse(page, status_code=status_code, headers={"Cache-Control": "no-store"})
    if flash:
        response.delete_cookie(FLASH_COOKIE, path="/ui/")
    return response


def failure_text(failure: Failure) -> str:
    """What a refusal says, for a person."""
    detail: Any = failure.body.detail
    if isinstance(detail, str):
        return detail
    if isinstance(detail, dict):
        return str(detail.get("message") or detail)
    if isinstance(detail, list) and detail:
        first = detail[0]
        where = ".".join(str(part) for part in first.get("loc", [])[1:])
        return f"{where}: {first.get('msg')}" if where else str(first.get("msg"))
    return "That did not work."


# The sign-in form's CSRF token: a cookie of its own (the form comes before any session).
LOGIN_COOKIE = "versioner_login"
LOGIN_MAX_AGE_S = 3600
LOGIN_TOKEN = re.compile(r"[A-Za-z0-9_-]{32}")

router = APIRouter(include_in_schema=False)


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


@router.get("/ui/login")
async def login_form(request: Request, next: str | None = None) -> Response:
    """The sign-in form: one field, a personal token."""
    return _login_form(request, 200, next, None)


@router.post("/ui/login")
async def login(
    request: Request,
    token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/ui/",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """Exchange a personal token for a session cookie."""
    expected = request.cookies.get(LOGIN_COOKIE) or ""
    if not expected or not hmac.compare_digest(csrf_token.encode(), expected.encode()):
        expired = "This sign-in form has expired or came from another site: sign in here."
        return _login_form(request, 403, next, expired)
    token = token.strip()
    error: str | None = None
    if not token.startswith("pat_"):
        error = "Sign in with your personal token (pat_…); API keys cannot sign in."
    else:
        authenticator: Authenticator = request.app.state.authenticator
        try:
            actor = await authenticator.actor(token)
        except FailureError as exc:
            error = (
                "That token is not valid."
                if exc.failure.status_code == 401
                else "Versioner is not answering right now; try again shortly."
            )
        else:
            if actor.kind != "user":
                error = "Sign in with your personal token (pat_…); API keys cannot sign in."
    if error is not None:
        return _login_form(request, 401, next, error)
    _session, value = codec(request).new(token)
    response = RedirectResponse(_safe_next(next), status_code=303)
    _set_private_cookie(request, response, COOKIE, value, MAX_AGE_S, "lax", "/")
    response.delete_cookie(LOGIN_COOKIE, path="/ui/login")
    return response


@router.post("/ui/logout")
async def logout(_viewer: CheckedDep) -> Response:
    """End the session."""
    response = RedirectResponse("/ui/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


def _filters(request: Request, products: str | None, environments: str | None) -> dict[str, str]:
    """The matrix filters: from the query when given, else as the user left them."""
    if products is None and environments is None:
        saved = request.cookies.get(FILTERS_COOKIE, "")
        values = dict(part.split("=", 1) for part in saved.split("&") if "=" in part)
        return {
            "products": values.get("products", ""),
            "environments": values.get("environments", ""),
        }
    return {"products": (products or "").strip(), "environments": (environments or "").strip()}


def _names(text: str) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()]


async def _home_data(user: Viewer, filters: dict[str, str]) -> dict[str, Any]:
    view: HomeView = await user.ask(
        GetHome(
            actor=user.actor,
            products=_names(filters["products"]),
            environments=_names(filters["environments"]),
        ),
    )
    attempts: dict[UUID, list[ViolationPublic]] = {}
    for violation in view.blocked:
        attempts.setdefault(violation.event_id, []).append(violation)
    return {
        "state": view.state,
        "requests": view.requests,
        "deployments": view.deployments,
        "blocked": list(attempts.values())[:8],
        "filters": filters,
    }


@router.get("/ui/")
async def home(
    user: ViewerDep, products: str | None = None, environments: str | None = None
) -> Response:
    """The state matrix, open Deployment Requests, recent deployments and blocked attempts."""
    filters = _filters(user.request, products, environments)
    response = user.render("home.html", **await _home_data(user, filters))
    response.set_cookie(
        FILTERS_COOKIE, urlencode(filters), max_age=365 * 24 * 3600, samesite="lax", path="/ui/"
    )
    return response


@router.get("/ui/live/home")
async def home_live(
    user: ViewerDep, products: str | None = None, environments: str | None = None
) -> Response:
    """The live part of the home page, polled by the page every few seconds."""
    filters = _filters(user.request, products, environments)
    return user.render("_home_live.html", **await _home_data(user, filters))


@router.get("/ui/deployments/{deployment_id}")
async def deployment_page(deployment_id: UUID, user: ViewerDep) -> Response:
    """One deployment."""
    deployment = await user.ask(GetDeployment(actor=user.actor, deployment_id=deployment_id))
    return user.render("deployment.html", deployment=deployment)


@router.get("/manage/deployments")
async def manage_deployments(view: str | None = None) -> Response:
    """Versioner's client link to a deployment."""
    return RedirectResponse(
        f"/ui/deployments/{quote(view or '', safe='')}" if view else "/ui/", 303
    )


@router.get("/manage/versions")
async def manage_versions(view: str | None = None) -> Response:
    """Versioner's client link to a version."""
    return RedirectResponse(f"/ui/versions/{quote(view or '', safe='')}" if view else "/ui/", 303)


@router.get("/manage/catalog")
async def manage_catalog(tab: str | None = None, view: str | None = None) -> Response:
    """Versioner's client link to the catalog (`tab=versions&view=ID`: a version)."""
    if tab == "versions" and view:
        return RedirectResponse(f"/ui/versions/{quote(view, safe='')}", 303)
    return RedirectResponse("/ui/", 303)


@router.get("/ui")
async def ui_root() -> Response:
    """`/ui` is `/ui/`."""
    return RedirectResponse("/ui/", 303)


async def on_sign_in_required(request: Request, exc: Exception) -> Response:
    """Signed-out page requests go to the sign-in form, and back after it."""
    assert isinstance(exc, SignInRequired)
    if request.method != "GET":
        return HTMLResponse("Sign in first.", status_code=401)
    return RedirectResponse(f"/ui/login?{urlencode({'next': exc.back_to})}", status_code=303)


async def on_csrf_refused(request: Request, exc: Exception) -> Response:
    """A form without its CSRF token: refused, nothing changed."""
    return render(
        request,
        "error.html",
        403,
        message="This form has expired or was not sent by this page. Reload it and try again.",
    )


_FAILURES = {
    403: "Your role does not allow this.",
    404: "There is nothing here.",
    503: "Versioner is not answering right now; this page will work again shortly.",
}


def failure_page(request: Request, status_code: int) -> Response:
    """A refusal on a dashboard page, as a page."""
    message = _FAILURES.get(status_code, "That did not work.")
    return render(request, "error.html", status_code, message=message)


def install(app: FastAPI) -> None:
    """Mount the dashboard: its pages, its static files, its redirects."""
    app.add_exception_handler(SignInRequired, on_sign_in_required)
    app.add_exception_handler(CsrfRefused, on_csrf_refused)
    app.mount(
        "/ui/static",
        StaticFiles(directory=str(files("versioner.ingest.ui") / "static")),
        name="ui-static",
    )
    # The sections' pages (imported here: they build on this module).
    from versioner.ingest.ui import catalog, requests, rules, settings  # noqa: PLC0415

    for section in (router, catalog.router, requests.router, rules.router, settings.router):
        app.include_router(section)
