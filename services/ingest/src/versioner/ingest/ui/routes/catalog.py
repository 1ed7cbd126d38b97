"""Dashboard section: products, environments and versions, with what may be done to them.

Each page asks policy in the signed-in user's name, so it shows and allows exactly what the
JSON API would: the edit, approve and fire forms appear only for roles that may use them, and
every form builds the same message the API builds from its body (same validation, same
refusals). Deployment buttons are the notifier's; firing one is policy's `AuthorizeFire`.
"""

import asyncio
import logging
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Form
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, ValidationError

from versioner.common.errors import forbidden, not_found, unprocessable
from versioner.common.messages.management import (
    MAX_LIMIT,
    ApproveVersion,
    AuthorizeFire,
    GetEnvironment,
    GetProduct,
    GetState,
    GetVersion,
    ListDeployments,
    ListEnvironments,
    ListProducts,
    ListVersionApprovals,
    ListVersions,
    ResolveVariables,
    UpdateEnvironment,
    UpdateProduct,
)
from versioner.common.messages.notifier import GetButton, ListButtons, PreviewButton
from versioner.common.notifications import (
    ButtonPublic,
)
from versioner.common.resources import (
    ENVIRONMENT_TYPE_ORDER,
    EnvironmentPublic,
    ProductPublic,
    StateView,
    VersionPublic,
)
from versioner.common.roles import ApprovalType, Permission, role_may_fill
from versioner.ingest.deps import ident
from versioner.ingest.gateway import FailureError
from versioner.ingest.ui import paging
from versioner.ingest.ui.deps import CheckedDep, Viewer, ViewerDep
from versioner.ingest.ui.forms import PLAIN

log = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)

# Histories on a detail page: enough to see what happened lately, small enough to stay fast.
HISTORY = 30
# A notifier that is up answers in milliseconds; one that is down must not hold the version
# page for the whole RPC deadline, since the buttons are an extra on it.
BUTTONS_TIMEOUT_S = 1.5
ENVIRONMENT_TYPES = list(ENVIRONMENT_TYPE_ORDER)


def _running(
    state: StateView, product: str | None = None, environment: str | None = None
) -> list[dict[str, Any]]:
    """What runs now: one product across environments, or one environment across products."""
    rows = []
    for row in state.products:
        if product is not None and row.product != product:
            continue
        for name, cell in row.cells.items():
            if environment is not None and name != environment:
                continue
            if cell.version:
                rows.append(
                    {
                        "product": row.product,
                        "product_id": row.product_id,
                        "environment": name,
                        "cell": cell,
                    }
                )
    return rows


# Products


@router.get("/ui/products")
async def products_page(user: ViewerDep, before: str | None = None) -> Response:
    """Every product, newest first."""
    page = await user.ask(
        ListProducts(actor=user.actor, limit=paging.PAGE_SIZE, before=paging.cursor(before)),
    )
    return user.render(
        "products.html", products=page.items, total=page.total, older=paging.older(page)
    )


@router.get("/ui/products/{product_id}")
async def product_page(product_id: str, user: ViewerDep) -> Response:
    """One product: its names, its builds, where it runs, its deployments."""
    product: ProductPublic = await user.ask(
        GetProduct(actor=user.actor, ref=str(ident(product_id)))
    )
    actor = user.actor
    versions, deployments, state = await asyncio.gather(
        user.ask(ListVersions(actor=actor, product=product.name, limit=HISTORY)),
        user.ask(
            ListDeployments(actor=actor, product=product.name, limit=HISTORY),
        ),
        user.ask(GetState(actor=actor, products=[product.name])),
    )
    return user.render(
        "product.html",
        product=product,
        earlier_names=[name for name in product.previous_names if name != product.name],
        versions=versions,
        deployments=deployments,
        running=_running(state, product=product.name),
        may_edit=user.may(Permission.EDIT_PRODUCTS),
    )


class ProductForm(BaseModel):
    """A product's form: its name and description."""

    name: str = ""
    description: str = ""


@router.post("/ui/products/{product_id}")
async def update_product(
    product_id: str, user: CheckedDep, form: Annotated[ProductForm, Form()]
) -> Response:
    """Rename or describe a product (admin, release_manager); earlier names keep resolving."""
    try:
        message = UpdateProduct.model_validate(
            {"actor": user.actor, "product_id": ident(product_id), **form.model_dump()}
        )
    except ValidationError as exc:
        return PLAIN.invalid_page(user.request, exc)
    return await user.act(
        message, back=f"/ui/products/{message.product_id}", done=f"Saved {form.name}."
    )


# Environments


@router.get("/ui/environments")
async def environments_page(user: ViewerDep) -> Response:
    """Every environment, in promotion order (dev, test, staging, production), then by name."""
    page = await user.ask(ListEnvironments(actor=user.actor, limit=MAX_LIMIT))
    environments = sorted(page.items, key=lambda e: (ENVIRONMENT_TYPE_ORDER[e.type], e.name))
    return user.render("environments.html", environments=environments, total=page.total)


@router.get("/ui/environments/{environment_id}")
async def environment_page(environment_id: str, user: ViewerDep) -> Response:
    """One environment: its names, what runs there, its deployments."""
    environment: EnvironmentPublic = await user.ask(
        GetEnvironment(actor=user.actor, ref=str(ident(environment_id)))
    )
    deployments, state = await asyncio.gather(
        user.ask(
            ListDeployments(actor=user.actor, environment=environment.name, limit=HISTORY),
        ),
        user.ask(GetState(actor=user.actor, environments=[environment.name])),
    )
    return user.render(
        "environment.html",
        environment=environment,
        earlier_names=[n for n in environment.previous_names if n != environment.name],
        deployments=deployments,
        running=_running(state, environment=environment.name),
        types=ENVIRONMENT_TYPES,
        may_edit=user.may(Permission.EDIT_ENVIRONMENTS),
    )


class EnvironmentForm(BaseModel):
    """An environment's form: its name, type and description."""

    name: str = ""
    type: str = ""
    description: str = ""


@router.post("/ui/environments/{environment_id}")
async def update_environment(
    environment_id: str, user: CheckedDep, form: Annotated[EnvironmentForm, Form()]
) -> Response:
    """Rename, retype or describe an environment (admin, release_manager, sre)."""
    try:
        message = UpdateEnvironment.model_validate(
            {"actor": user.actor, "environment_id": ident(environment_id), **form.model_dump()}
        )
    except ValidationError as exc:
        return PLAIN.invalid_page(user.request, exc)
    return await user.act(
        message,
        back=f"/ui/environments/{message.environment_id}",
        done=f"Saved {form.name}.",
    )


# Versions


@router.get("/ui/versions")
async def versions_page(
    user: ViewerDep, product: str | None = None, before: str | None = None
) -> Response:
    """Every version any event created, newest first; `product` (any of its names) narrows."""
    wanted = (product or "").strip() or None
    page, products = await asyncio.gather(
        user.ask(
            ListVersions(
                actor=user.actor,
                product=wanted,
                limit=paging.PAGE_SIZE,
                before=paging.cursor(before),
            ),
        ),
        user.ask(ListProducts(actor=user.actor, limit=MAX_LIMIT)),
    )
    return user.render(
        "versions.html",
        versions=page.items,
        total=page.total,
        older=paging.older(page),
        product=wanted or "",
        product_names=sorted(p.name for p in products.items),
    )


async def _buttons(user: Viewer, version: VersionPublic) -> list[ButtonPublic] | None:
    """The product's deployment buttons this user may use; None when the notifier is away."""
    try:
        page = await user.ask_notifier(
            ListButtons(actor=user.actor, product_id=version.product_id, limit=MAX_LIMIT),
            timeout=BUTTONS_TIMEOUT_S,
        )
    # The buttons are an extra: whatever keeps the notifier from answering (a refusal, silence,
    # no notifier at all), the version page still shows, saying the buttons are unavailable.
    except Exception:
        log.warning("deployment buttons unavailable for %s", version.product_name, exc_info=True)
        return None
    may_fire = user.may(Permission.FIRE_BUTTONS)
    return [b for b in page.items if b.button_kind == "link" or may_fire]


@router.get("/ui/versions/{version_id}")
async def version_page(version_id: str, user: ViewerDep) -> Response:
    """One version: its build, where it runs, its sign-offs, its deployment buttons."""
    actor = user.actor
    version: VersionPublic = await user.ask(GetVersion(actor=actor, version_id=ident(version_id)))
    deployments, approvals, environments, buttons = await asyncio.gather(
        user.ask(
            ListDeployments(actor=actor, product=version.product_name, limit=200),
        ),
        user.ask(ListVersionApprovals(actor=actor, version_id=version.id)),
        user.ask(ListEnvironments(actor=actor, limit=MAX_LIMIT)),
        _buttons(user, version),
    )
    fillable = (
        [t.value for t in ApprovalType if role_may_fill(actor.role, t)]
        if actor.role is not None and user.may(Permission.APPROVE_VERSIONS)
        else []
    )
    return user.render(
        "version.html",
        version=version,
        deployments=[d for d in deployments.items if d.version_id == version.id],
        approvals=approvals.items,
        approval_types=fillable,
        environment_names=[
            e.name
            for e in sorted(
                environments.items, key=lambda e: (ENVIRONMENT_TYPE_ORDER[e.type], e.name)
            )
        ],
        buttons=buttons,
        may_fire=user.may(Permission.FIRE_BUTTONS),
    )


class SignOffForm(BaseModel):
    """A version's sign-off form: the approval type, for which environment (optional), and
    a comment."""

    approval_type: str = ""
    environment: str = ""
    comment: str = ""


@router.post("/ui/versions/{version_id}/approvals")
async def approve_version(
    version_id: str, user: CheckedDep, form: Annotated[SignOffForm, Form()]
) -> Response:
    """Sign a version off (a role that may fill the approval type)."""
    try:
        message = ApproveVersion.model_validate(
            {
                "actor": user.actor,
                "version_id": ident(version_id),
                "approval_type": form.approval_type,
                "environment": form.environment.strip() or None,
                "comment": form.comment.strip() or None,
            }
        )
    except ValidationError as exc:
        return PLAIN.invalid_page(user.request, exc)
    where = f" for {message.environment}" if message.environment else ""
    return await user.act(
        message,
        back=f"/ui/versions/{message.version_id}",
        done=f"Signed off ({message.approval_type}){where}.",
    )


async def _button_for(
    user: Viewer, version_id: str, button_id: str, environment: str, kind: str
) -> tuple[VersionPublic, ButtonPublic]:
    """The version and one of its product's buttons of this kind, deploying to `environment`;
    raises `FailureError` (404 for a button of another product, 422 for a wrong kind or
    environment)."""
    wanted_version, wanted_button = ident(version_id), ident(button_id)
    version: VersionPublic = await user.ask(GetVersion(actor=user.actor, version_id=wanted_version))
    button = await user.ask_notifier(GetButton(actor=user.actor, button_id=wanted_button))
    if button.product_id != version.product_id:
        raise FailureError(not_found())
    if button.button_kind != kind:
        raise FailureError(
            unprocessable(
                "kind",
                "a link button only navigates: open its URL"
                if button.button_kind == "link"
                else "a webhook button is fired, not opened",
            )
        )
    if environment not in button.environments:
        raise FailureError(
            unprocessable(
                "environment",
                f"this button deploys to {', '.join(button.environments)}, not {environment}",
            )
        )
    return version, button


@router.get("/ui/versions/{version_id}/buttons/{button_id}/open")
async def open_link_button(
    version_id: str, button_id: str, user: ViewerDep, environment: str = ""
) -> Response:
    """Open a link button: its URL rendered for this version and environment."""
    try:
        version, button = await _button_for(user, version_id, button_id, environment, "link")
        variables = await user.ask(
            ResolveVariables(
                actor=user.actor,
                product_id=button.product_id,
                version=version.version,
                environment=environment,
            ),
        )
        rendered = await user.ask_notifier(
            PreviewButton(actor=user.actor, button_id=button.id, variables=variables),
        )
    except FailureError as exc:
        return user.refused(exc)
    if not rendered.url.startswith(("https://", "http://")):
        return user.refused(
            FailureError(unprocessable("url_template", "the button's URL is not a web page"))
        )
    return RedirectResponse(rendered.url, status_code=303)


@router.post("/ui/versions/{version_id}/buttons/{button_id}/fire")
async def fire_button(
    version_id: str,
    button_id: str,
    user: CheckedDep,
    environment: Annotated[str, Form()] = "",
) -> Response:
    """Fire a webhook button (admin, release_manager, developer, sre) for this version."""
    if not user.may(Permission.FIRE_BUTTONS):
        return user.refused(FailureError(forbidden()))
    try:
        version, button = await _button_for(user, version_id, button_id, environment, "webhook")
    except FailureError as exc:
        return user.refused(exc)
    message = AuthorizeFire(
        actor=user.actor,
        firing_id=uuid.uuid4(),
        button_id=button.id,
        product_id=button.product_id,
        version=version.version,
        environment=environment,
    )
    return await user.act(
        message,
        back=f"/ui/versions/{version.id}",
        done=f"Fired {button.label} for {version.product_name} {version.version} → {environment}.",
    )
