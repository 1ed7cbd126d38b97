"""The dashboard's one way to answer: a page from a template, a refusal as a page, and a
redirect that says once, on the next page, what a form did (the flash).

A leaf of the dashboard: it imports nothing else of it, so the app's error handlers
(`web.py`) answer a `/ui/` request with the same pages the sections render.
"""

from datetime import datetime
from importlib.resources import files
from typing import Any
from urllib.parse import quote, unquote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from versioner.common.errors import Failure

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


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """A template rendered into a page (with the last form's note, shown once)."""
    flash = unquote(request.cookies.get(FLASH_COOKIE, "")) or None
    page = _templates.get_template(template).render(request=request, flash=flash, **context)
    response = HTMLResponse(page, status_code=status_code, headers={"Cache-Control": "no-store"})
    if flash:
        response.delete_cookie(FLASH_COOKIE, path="/ui/")
    return response


def flash_redirect(back: str, note: str) -> Response:
    """Back to a page, which says once what the form did (post, redirect, get)."""
    response = RedirectResponse(back, status_code=303)
    response.set_cookie(FLASH_COOKIE, quote(note), max_age=60, samesite="lax", path="/ui/")
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


_FAILURES = {
    403: "Your role does not allow this.",
    404: "There is nothing here.",
    503: "Versioner is not answering right now; this page will work again shortly.",
}


def failure_page(request: Request, status_code: int) -> Response:
    """A refusal on a dashboard page, as a page, in the same words wherever it happens."""
    message = _FAILURES.get(status_code, "That did not work.")
    return render(request, "error.html", status_code, message=message)


def refusal_page(request: Request, failure: Failure) -> Response:
    """A refusal of what a page or form asked, as a page (nothing changed): a plain 403 or
    404 in the words of every other page, anything else saying what was wrong."""
    if failure.status_code in (403, 404):
        return failure_page(request, failure.status_code)
    return render(request, "error.html", failure.status_code, message=failure_text(failure))
