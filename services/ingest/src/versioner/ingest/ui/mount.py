"""Mounting the dashboard on the app: its sections' routers, its static files, and the
answers to a signed-out page request and to a form without its CSRF token."""

from importlib.resources import files
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from versioner.ingest.ui.deps import CsrfRefused, SignInRequired
from versioner.ingest.ui.render import render
from versioner.ingest.ui.routes import auth, catalog, home, insights, requests, rules
from versioner.ingest.ui.routes.settings import api_keys, audit, buttons, channels, index, users

SECTIONS = (
    auth,
    home,
    catalog,
    requests,
    rules,
    insights,
    index,
    users,
    api_keys,
    channels,
    buttons,
    audit,
)


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


def install(app: FastAPI) -> None:
    """Mount the dashboard: its pages, its static files, its redirects."""
    app.add_exception_handler(SignInRequired, on_sign_in_required)
    app.add_exception_handler(CsrfRefused, on_csrf_refused)
    app.mount(
        "/ui/static",
        StaticFiles(directory=str(files("versioner.ingest.ui") / "static")),
        name="ui-static",
    )
    for section in SECTIONS:
        app.include_router(section.router)
