"""The home page with its live matrix, a deployment's page, and the links Versioner's own
client prints (`/manage/…`), redirected to the pages that show the same thing."""

from typing import Any
from urllib.parse import quote, urlencode
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from versioner.common.governance import ViolationPublic
from versioner.common.messages.management import (
    MAX_LIMIT,
    GetDeployment,
    GetHome,
    HomeView,
    ListIncidents,
)
from versioner.ingest.deps import names
from versioner.ingest.ui.deps import Viewer, ViewerDep

FILTERS_COOKIE = "versioner_filters"

router = APIRouter(include_in_schema=False)


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


async def _home_data(user: Viewer, filters: dict[str, str]) -> dict[str, Any]:
    view: HomeView = await user.ask(
        GetHome(
            actor=user.actor,
            products=names(filters["products"]),
            environments=names(filters["environments"]),
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
    """One deployment, and the incidents that opened while it was running."""
    deployment = await user.ask(GetDeployment(actor=user.actor, deployment_id=deployment_id))
    incidents = await user.ask(
        ListIncidents(actor=user.actor, deployment_id=deployment_id, limit=MAX_LIMIT)
    )
    return user.render("deployment.html", deployment=deployment, incidents=incidents.items)


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
