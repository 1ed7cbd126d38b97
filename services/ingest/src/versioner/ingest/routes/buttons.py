"""Deployment buttons: configured in the notifier, their products and `{vi_*}` values resolved
with policy, fired only once policy has authorized the caller."""

import uuid
from typing import Any

from fastapi import Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from versioner.common.errors import forbidden, unprocessable
from versioner.common.messages.actor import Actor
from versioner.common.messages.management import (
    AuthorizeFire,
    GetProduct,
    ResolveVariables,
)
from versioner.common.messages.notifier import (
    DEFAULT_LIMIT,
    CreateButton,
    DeleteButton,
    GetButton,
    ListButtons,
    ListFirings,
    PreviewButton,
    UpdateButton,
)
from versioner.common.notifications import (
    ButtonKind,
    ButtonPublic,
    ButtonRequest,
    ButtonView,
    FireAccepted,
    FiringPublic,
    TemplateVariables,
)
from versioner.common.resources import Done, ProductPublic
from versioner.common.types import Name
from versioner.ingest.deps import ActorDep, GatewayDep, ident
from versioner.ingest.gateway import FailureError, PolicyGateway
from versioner.ingest.openapi import conflict
from versioner.ingest.routes.catalog import Limit
from versioner.ingest.web import Router, respond, respond_list

router = Router(tags=["deployment buttons"])


# An absolute http(s) URL template with a plain host name and port, Versioner's placeholders
# only after them: what the notifier saves (it also takes IDNs, IPv6 hosts and literal braces).
_PLACEHOLDER = (
    "\\{vi_(?:"
    + "|".join(name for name in TemplateVariables.model_fields if name != "kind")
    + ")\\}"
)
_LABEL = "[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
URL_TEMPLATE_PATTERN = (
    f"^[Hh][Tt][Tt][Pp][Ss]?://{_LABEL}(?:\\.{_LABEL})*(?::(?:[1-9][0-9]{{0,3}}|[1-5][0-9]{{4}}))?"
    f"(?:[/?#](?:[!-z|~]|{_PLACEHOLDER})*)?$"
)
_METHOD = {
    "type": "string",
    "pattern": "^(?:[Gg][Ee][Tt]|[Pp][Oo][Ss][Tt]|[Pp][Uu][Tt]|[Pp][Aa][Tt][Cc][Hh])$",
}
_GET = {"type": "string", "pattern": "^[Gg][Ee][Tt]$"}


def _by_kind(schema: dict[str, Any]) -> None:
    schema["properties"]["url_template"]["pattern"] = URL_TEMPLATE_PATTERN
    schema["oneOf"] = [
        {
            # A link only opens its URL: GET (the default, POST, reads as GET), no body.
            "properties": {
                "kind": {"const": "link"},
                "method": {"anyOf": [_GET, {"const": "POST"}]},
                "body_template": {"type": "null"},
            }
        },
        {
            # A body goes with POST, PUT or PATCH; an empty one is no body.
            "properties": {"kind": {"const": "webhook"}, "method": _METHOD},
            "if": {"required": ["method"], "properties": {"method": _GET}},
            "then": {
                "properties": {"body_template": {"anyOf": [{"type": "null"}, {"maxLength": 0}]}}
            },
        },
    ]


def _patched(schema: dict[str, Any]) -> None:
    properties = schema["properties"]
    properties["url_template"] = {
        "anyOf": [
            {"type": "string", "maxLength": 2048, "pattern": URL_TEMPLATE_PATTERN},
            {"type": "null"},
        ]
    }
    properties["method"] = {"anyOf": [_METHOD, {"type": "null"}]}


class ButtonIn(BaseModel):
    """A new button for a product (name or id) and its environments (one button per product
    and environment). `link` opens `url_template`; `webhook` is fired by Versioner. A body
    template that starts with `{` or `[` is sent as JSON: it must be JSON once its
    placeholders are filled in (inside strings); at most 64 KiB of UTF-8."""

    model_config = ConfigDict(json_schema_extra=_by_kind)

    product: Name
    environments: list[Name] = Field(min_length=1, max_length=100)
    label: str = Field(default="Deploy", min_length=1, max_length=75)
    kind: ButtonKind
    url_template: str = Field(min_length=1, max_length=2048)
    method: str = "POST"
    body_template: str | None = Field(default=None, max_length=65536)
    secret: str | None = Field(default=None, max_length=1024)


class ButtonPatch(BaseModel):
    """Changes to a button; `null` removes the body or the secret."""

    model_config = ConfigDict(json_schema_extra=_patched)

    environments: list[Name] | None = Field(default=None, min_length=1, max_length=100)
    label: str | None = Field(default=None, min_length=1, max_length=75)
    url_template: str | None = Field(default=None, min_length=1, max_length=2048)
    method: str | None = None
    body_template: str | None = Field(default=None, max_length=65536)
    secret: str | None = Field(default=None, max_length=1024)


class FireIn(BaseModel):
    """Which version, to which environment."""

    version: Name
    environment: Name


def _button(button: ButtonPublic, status_code: int = 200) -> Response:
    return JSONResponse(button.api_view(), status_code=status_code)


async def _product(gateway: PolicyGateway, actor: Actor, ref: str) -> ProductPublic:
    try:
        return await gateway.ask(GetProduct(actor=actor, ref=ref))
    except FailureError as exc:
        if exc.failure.status_code == 404:
            raise FailureError(unprocessable("product", f"no product is named {ref}")) from None
        raise


async def _webhook_button(
    gateway: PolicyGateway, actor: Actor, button_id: str, environment: str
) -> ButtonPublic:
    button = await gateway.ask_notifier(GetButton(actor=actor, button_id=ident(button_id)))
    if environment not in button.environments:
        raise FailureError(
            unprocessable(
                "environment",
                f"this button deploys to {', '.join(button.environments)}, not {environment}",
            )
        )
    return button


_TAKEN = conflict("The product has a button in one of the environments already")


@router.both(
    "/deployment-buttons",
    methods=["POST"],
    status_code=201,
    responses={201: {"model": ButtonView}, **_TAKEN},
)
async def create_button(button: ButtonIn, actor: ActorDep, gateway: GatewayDep) -> Response:
    """Create a button (admin, release_manager, sre); a second one for a product and
    environment is 409."""
    if not actor.may(CreateButton.permission):
        raise FailureError(forbidden())
    product = await _product(gateway, actor, button.product)
    fields: dict[str, Any] = button.model_dump(exclude={"product", "kind"})
    request = CreateButton(
        actor=actor,
        product_id=product.id,
        product=product.name,
        button_kind=button.kind,
        **fields,
    )
    return _button(await gateway.ask_notifier(request), 201)


@router.both("/deployment-buttons", methods=["GET"], responses={200: {"model": list[ButtonView]}})
async def list_buttons(
    actor: ActorDep,
    gateway: GatewayDep,
    product: str | None = None,
    limit: Limit = DEFAULT_LIMIT,
    before: str | None = None,
) -> Response:
    """Every button, newest first; `product` (name or id) narrows to one product's."""
    product_id = None
    if product is not None:
        try:
            product_id = (await gateway.ask(GetProduct(actor=actor, ref=product))).id
        except FailureError as exc:
            if exc.failure.status_code != 404:
                raise
            return respond_list([], 0)
    request = ListButtons(
        actor=actor, product_id=product_id, limit=limit, before=ident(before) if before else None
    )
    page = await gateway.ask_notifier(request)
    return JSONResponse(
        [b.api_view() for b in page.items], headers={"X-Total-Count": str(page.total)}
    )


@router.both(
    "/deployment-buttons/{button_id}", methods=["GET"], responses={200: {"model": ButtonView}}
)
async def get_button(button_id: str, actor: ActorDep, gateway: GatewayDep) -> Response:
    """One button."""
    request = GetButton(actor=actor, button_id=ident(button_id))
    return _button(await gateway.ask_notifier(request))


@router.both(
    "/deployment-buttons/{button_id}",
    methods=["PATCH"],
    responses={200: {"model": ButtonView}, **_TAKEN},
)
async def update_button(
    button_id: str, patch: ButtonPatch, actor: ActorDep, gateway: GatewayDep
) -> Response:
    """Change a button."""
    request = UpdateButton(
        actor=actor, button_id=ident(button_id), **patch.model_dump(exclude_unset=True)
    )
    return _button(await gateway.ask_notifier(request))


@router.both(
    "/deployment-buttons/{button_id}", methods=["DELETE"], responses={200: {"model": Done}}
)
async def delete_button(button_id: str, actor: ActorDep, gateway: GatewayDep) -> Response:
    """Remove a button."""
    request = DeleteButton(actor=actor, button_id=ident(button_id))
    return respond(await gateway.ask_notifier(request))


@router.both(
    "/deployment-buttons/{button_id}/preview",
    methods=["POST"],
    responses={200: {"model": ButtonRequest}},
)
async def preview_button(
    button_id: str, target: FireIn, actor: ActorDep, gateway: GatewayDep
) -> Response:
    """The request the button would make for this version and environment, not made."""
    button = await gateway.ask_notifier(GetButton(actor=actor, button_id=ident(button_id)))
    variables = await gateway.ask(
        ResolveVariables(
            actor=actor,
            product_id=button.product_id,
            version=target.version,
            environment=target.environment,
        ),
    )
    request = PreviewButton(actor=actor, button_id=button.id, variables=variables)
    return respond(await gateway.ask_notifier(request))


@router.both(
    "/deployment-buttons/{button_id}/fire",
    methods=["POST"],
    status_code=202,
    responses={202: {"model": FireAccepted}},
)
async def fire_button(
    button_id: str, target: FireIn, actor: ActorDep, gateway: GatewayDep
) -> Response:
    """Fire a webhook button (admin, release_manager, developer, sre): 202 with the firing's
    id; its outcome is in `GET …/firings` and in Slack. A link button only navigates: 422."""
    if not actor.may(AuthorizeFire.permission):
        raise FailureError(forbidden())
    button = await _webhook_button(gateway, actor, button_id, target.environment)
    if button.button_kind != "webhook":
        raise FailureError(unprocessable("kind", "a link button only navigates: open its URL"))
    request = AuthorizeFire(
        actor=actor,
        firing_id=uuid.uuid4(),
        button_id=button.id,
        product_id=button.product_id,
        version=target.version,
        environment=target.environment,
    )
    return respond(await gateway.ask(request), 202)


@router.both(
    "/deployment-buttons/{button_id}/firings",
    methods=["GET"],
    responses={200: {"model": list[FiringPublic]}},
)
async def list_firings(
    button_id: str,
    actor: ActorDep,
    gateway: GatewayDep,
    limit: Limit = DEFAULT_LIMIT,
    before: str | None = None,
) -> Response:
    """A button's firings, newest first."""
    request = ListFirings(
        actor=actor,
        button_id=ident(button_id),
        limit=limit,
        before=ident(before) if before else None,
    )
    page = await gateway.ask_notifier(request)
    return respond_list(page.items, page.total)
