"""Settings: deployment buttons — a link or a webhook per product and environment, with a
preview of the request it would make for a version, and its firings (every role reads; admin,
release_manager and sre manage). A typed secret is sent on and never shown again."""

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from versioner.common.errors import unprocessable
from versioner.common.messages.management import (
    GetProduct,
    ListProducts,
    ListVersions,
    ResolveVariables,
)
from versioner.common.messages.notifier import (
    CreateButton,
    DeleteButton,
    GetButton,
    ListButtons,
    ListFirings,
    PreviewButton,
    UpdateButton,
)
from versioner.common.notifications import ButtonPublic, ButtonRequest
from versioner.common.resources import Page, ProductPublic
from versioner.common.roles import Permission
from versioner.ingest.deps import ident, names
from versioner.ingest.gateway import FailureError
from versioner.ingest.ui import paging
from versioner.ingest.ui.deps import CheckedDep, Viewer, ViewerDep
from versioner.ingest.ui.forms import FormLabels, Problem, shown, text
from versioner.ingest.ui.render import flash_redirect

router = APIRouter(include_in_schema=False)

# Product and version suggestions in the button forms: enough to pick from, cheap to fetch.
SUGGESTIONS = 200
RECENT_VERSIONS = 20
BUTTON_METHODS = ("POST", "PUT", "PATCH", "GET")
PLACEHOLDERS = (
    "vi_version",
    "vi_product_name",
    "vi_product_id",
    "vi_environment_name",
    "vi_environment_id",
    "vi_sha",
    "vi_build_number",
)

LABELS = FormLabels(
    {
        "product": "Product",
        "environments": "Environments",
        "label": "Label",
        "kind": "Kind",
        "url_template": "URL template",
        "method": "Method",
        "body_template": "Body template",
        "secret": "Secret",
        "version": "Version",
        "environment": "Environment",
    }
)


@dataclass
class ButtonForm:
    """A button's form: plain fields; a typed secret is sent on and never shown again."""

    product: str = ""
    environments: str = ""
    label: str = "Deploy"
    kind: str = "webhook"
    url_template: str = ""
    method: str = "POST"
    body_template: str = ""
    remove_secret: bool = False
    secret: str = field(default="", repr=False)

    @classmethod
    def of(cls, button: ButtonPublic) -> "ButtonForm":
        """The form of a saved button (its secret left empty)."""
        return cls(
            product=button.product,
            environments=", ".join(button.environments),
            label=button.label,
            kind=button.button_kind,
            url_template=button.url_template,
            method=button.method,
            body_template=button.body_template or "",
        )

    @classmethod
    def posted(cls, data: FormData, saved: ButtonPublic | None = None) -> "ButtonForm":
        """The form as the browser sent it (a saved button keeps its product and kind)."""
        body = data.get("body_template")
        return cls(
            product=saved.product if saved else text(data, "product"),
            environments=text(data, "environments"),
            label=text(data, "label"),
            kind=saved.button_kind if saved else text(data, "kind"),
            url_template=text(data, "url_template"),
            method=text(data, "method") or "POST",
            # A body is sent as typed: its whitespace may matter to the receiver.
            body_template=body if isinstance(body, str) and body.strip() else "",
            remove_secret="remove_secret" in data,
            secret=text(data, "secret"),
        )

    def fields(self, saved: ButtonPublic | None = None) -> dict[str, Any]:
        """The button's fields as the API takes them. A link only opens its URL, so the
        webhook-only fields, hidden with it, are not sent; a saved button's secret is sent
        only to replace or remove it."""
        fields: dict[str, Any] = {
            "environments": names(self.environments),
            "label": self.label,
            "url_template": self.url_template,
        }
        if self.kind == "link":
            return fields if saved else {**fields, "method": "GET"}
        fields["method"] = self.method
        fields["body_template"] = self.body_template or None
        if saved is not None and self.remove_secret:
            fields["secret"] = None
        elif self.secret:
            fields["secret"] = self.secret
        return fields


def _button_form_context(
    form: ButtonForm, problems: Sequence[Problem], products: Sequence[str] = ()
) -> dict[str, Any]:
    return {
        "form": form,
        "methods": BUTTON_METHODS,
        "placeholders": PLACEHOLDERS,
        "product_names": products,
        **shown(problems),
    }


async def _product(user: Viewer, ref: str) -> ProductPublic:
    """The product a button form names; an unknown one is the form's mistake (422)."""
    try:
        found: ProductPublic = await user.ask(GetProduct(actor=user.actor, ref=ref))
    except FailureError as exc:
        if exc.failure.status_code == 404:
            raise FailureError(unprocessable("product", f"no product is named {ref}")) from None
        raise
    return found


async def _buttons_page(
    user: Viewer,
    *,
    product: str = "",
    before: UUID | None = None,
    form: ButtonForm | None = None,
    problems: Sequence[Problem] = (),
    status_code: int = 200,
) -> Response:
    manage = user.may(Permission.MANAGE_RULES)

    async def listing() -> Page[ButtonPublic]:
        product_id: UUID | None = None
        if product:
            try:
                product_id = (await _product(user, product)).id
            except FailureError as exc:
                if exc.failure.status_code != 422:
                    raise
                return Page[ButtonPublic](items=[], total=0)  # as the API: no such product
        request = ListButtons(
            actor=user.actor, product_id=product_id, limit=paging.PAGE_SIZE, before=before
        )
        return await user.ask_notifier(request)

    async def productnames() -> list[str]:
        """Suggestions for the new-button form."""
        if not manage:
            return []
        page = await user.ask(ListProducts(actor=user.actor, limit=SUGGESTIONS))
        return sorted(p.name for p in page.items)

    page, products = await asyncio.gather(listing(), productnames())
    return user.render(
        "buttons.html",
        status_code,
        buttons=page.items,
        total=page.total,
        older=paging.older(page),
        product=product,
        manage=manage,
        **_button_form_context(form or ButtonForm(), problems, products),
    )


@router.get("/ui/settings/buttons")
async def buttons_page(user: ViewerDep, product: str = "", before: str | None = None) -> Response:
    """Every deployment button (of one product, when given), with the form for a new one for
    those who manage them."""
    return await _buttons_page(user, product=product.strip(), before=paging.cursor(before))


@router.post("/ui/settings/buttons")
async def create_button(user: CheckedDep) -> Response:
    """Create the button the form describes (admin, release_manager, sre); one per product
    and environment."""
    user.require(CreateButton.permission)
    form = ButtonForm.posted(await user.request.form())
    try:
        found = await _product(user, form.product)
        message = CreateButton.model_validate(
            {
                "actor": user.actor,
                "product_id": found.id,
                "product": found.name,
                "button_kind": form.kind,
                **form.fields(),
            }
        )
        saved: ButtonPublic = await user.ask_notifier(message)
    except (ValidationError, FailureError) as exc:
        problems, status_code = LABELS.explain(exc, "environments")
        return await _buttons_page(user, form=form, problems=problems, status_code=status_code)
    return flash_redirect(f"/ui/settings/buttons/{saved.id}", f"Button {saved.label} created.")


async def _button(user: Viewer, button_id: UUID) -> ButtonPublic:
    found: ButtonPublic = await user.ask_notifier(GetButton(actor=user.actor, button_id=button_id))
    return found


@dataclass
class Preview:
    """The preview form, and what it rendered (or why it could not)."""

    version: str = ""
    environment: str = ""
    request: ButtonRequest | None = None
    problems: list[Problem] = field(default_factory=list)


async def _preview(user: Viewer, button: ButtonPublic, version: str, environment: str) -> Preview:
    """The request the button would make for this version and environment, not made."""
    preview = Preview(version=version, environment=environment)
    if not version and not environment:
        return preview
    try:
        resolve = ResolveVariables.model_validate(
            {
                "actor": user.actor,
                "product_id": button.product_id,
                "version": version,
                "environment": environment,
            }
        )
        variables = await user.ask(resolve)
        preview.request = await user.ask_notifier(
            PreviewButton(actor=user.actor, button_id=button.id, variables=variables),
        )
    except (ValidationError, FailureError) as exc:
        preview.problems = LABELS.explain(exc, "version").problems
    return preview


async def _button_page(
    user: Viewer,
    button: ButtonPublic,
    *,
    before: UUID | None = None,
    version: str = "",
    environment: str = "",
    form: ButtonForm | None = None,
    problems: Sequence[Problem] = (),
    status_code: int = 200,
) -> Response:
    preview, firings, versions = await asyncio.gather(
        _preview(user, button, version, environment),
        user.ask_notifier(
            ListFirings(
                actor=user.actor, button_id=button.id, limit=paging.PAGE_SIZE, before=before
            ),
        ),
        user.ask(
            ListVersions(actor=user.actor, product=button.product, limit=RECENT_VERSIONS),
        ),
    )
    if preview.problems and status_code == 200:
        status_code = 422
    return user.render(
        "button.html",
        status_code,
        button=button,
        firings=firings.items,
        total=firings.total,
        older=paging.older(firings),
        versions=[v.version for v in versions.items],
        preview=preview,
        preview_errors=[text for _, text in preview.problems],
        manage=user.may(Permission.MANAGE_RULES),
        **_button_form_context(form or ButtonForm.of(button), problems),
    )


@router.get("/ui/settings/buttons/{button_id}")
async def button_page(
    button_id: str,
    user: ViewerDep,
    version: str = "",
    environment: str = "",
    before: str | None = None,
) -> Response:
    """One button: its request previewed for a version and environment, its firings, and its
    form for those who manage buttons."""
    return await _button_page(
        user,
        await _button(user, ident(button_id)),
        before=paging.cursor(before),
        version=version.strip(),
        environment=environment.strip(),
    )


@router.post("/ui/settings/buttons/{button_id}")
async def update_button(button_id: str, user: CheckedDep) -> Response:
    """Save the form's changes to a button (its product and kind stay; an empty secret keeps
    its value)."""
    user.require(UpdateButton.permission)
    button = await _button(user, ident(button_id))
    form = ButtonForm.posted(await user.request.form(), button)
    try:
        message = UpdateButton.model_validate(
            {"actor": user.actor, "button_id": button.id, **form.fields(button)}
        )
        saved: ButtonPublic = await user.ask_notifier(message)
    except (ValidationError, FailureError) as exc:
        problems, status_code = LABELS.explain(exc, "environments")
        return await _button_page(
            user, button, form=form, problems=problems, status_code=status_code
        )
    return flash_redirect(f"/ui/settings/buttons/{saved.id}", f"Button {saved.label} saved.")


@router.post("/ui/settings/buttons/{button_id}/delete")
async def delete_button(button_id: str, user: CheckedDep) -> Response:
    """Remove a button (its firings stay in the log)."""
    user.require(DeleteButton.permission)
    return await user.act(
        DeleteButton(actor=user.actor, button_id=ident(button_id)),
        back="/ui/settings/buttons",
        done="Button deleted.",
    )
