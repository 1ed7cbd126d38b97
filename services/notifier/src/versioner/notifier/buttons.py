"""Deployment buttons: their configuration, their rendered requests, and firing them once.

A `link` button only navigates (its URL is rendered into the message). A `webhook` button is
fired by the notifier when policy says so (`ButtonFireRequested`): the firing is recorded
`firing` before the call and the call is made at most once, retried only when no connection
was made or on 429/503 with a `Retry-After` of at most a minute, since a duplicate would be a
second deployment. A firing found still `firing` (the notifier stopped during the call) is
closed as failed, not repeated. The outcome goes back to Slack, in the version's thread.
"""

import logging
from uuid import UUID

from sqlalchemy import delete, func, select, tuple_
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from versioner.common import rows
from versioner.common.errors import Failure, conflict, not_found, unprocessable
from versioner.common.messages.domain import ButtonFireRequested
from versioner.common.messages.notifier import (
    CreateButton,
    DeleteButton,
    GetButton,
    ListButtons,
    ListFirings,
    PreviewButton,
    UpdateButton,
)
from versioner.common.notifications import (
    ButtonPublic,
    ButtonRequest,
    FiringPublic,
    TemplateVariables,
    mask,
)
from versioner.common.resources import Done, Page
from versioner.notifier import logs, templates
from versioner.notifier.crypto import SecretUnreadable
from versioner.notifier.deliveries import Deliverer
from versioner.notifier.metrics import BUTTON_FIRINGS
from versioner.notifier.registry import handles
from versioner.notifier.tables import Button, ButtonEnvironment, Firing
from versioner.notifier.transport import Outcome, post, signed_headers

log = logging.getLogger("versioner.notifier")


def _variables(values: TemplateVariables) -> templates.Variables:
    return templates.Variables(
        version=values.version,
        product_name=values.product_name,
        product_id=values.product_id,
        environment_name=values.environment_name,
        environment_id=values.environment_id,
        sha=values.sha,
        build_number=values.build_number,
    )


def public(button: Button, environments: list[str]) -> ButtonPublic:
    """The API's view of a button: its secret masked."""
    return rows.public(
        ButtonPublic,
        button,
        environments=environments,
        button_kind=button.kind,
        secret=button.secret_hint,
    )


def _problem(kind: str, url: str, body: str | None, method: str) -> Failure | None:
    if kind == "link" and (body is not None or method.upper() != "GET"):
        return unprocessable("kind", "a link button only opens its URL: GET, without a body")
    found = templates.template_problem(url, body, method)
    return unprocessable(*found) if found else None


async def _environments(deliverer: Deliverer, button_id: UUID) -> list[str]:
    async with deliverer.db.session() as session:
        rows = await session.execute(
            select(col(ButtonEnvironment.environment))
            .where(col(ButtonEnvironment.button_id) == button_id)
            .order_by(col(ButtonEnvironment.position))
        )
        return list(rows.scalars())


def _taken(product: str, environments: list[str]) -> Failure:
    return conflict(
        f"{product} already has a deployment button in {', '.join(environments)}: one per "
        "product and environment"
    )


def _seal_secret(deliverer: Deliverer, button: Button, secret: str | None) -> None:
    button.sealed = deliverer.sealer.seal({"secret": secret}) if secret else ""
    button.secret_hint = mask(secret) if secret else None


@handles(CreateButton)
async def create_button(deliverer: Deliverer, request: CreateButton) -> ButtonPublic | Failure:
    """A new button; 409 when the product already has one in one of its environments."""
    method = "GET" if request.button_kind == "link" and request.method == "POST" else request.method
    if problem := _problem(
        request.button_kind, request.url_template, request.body_template, method
    ):
        return problem
    environments = list(dict.fromkeys(request.environments))
    at = deliverer.now()
    button = Button(
        product_id=request.product_id,
        product=request.product,
        label=request.label,
        kind=request.button_kind,
        url_template=request.url_template,
        method=templates.canonical_method(method),
        body_template=request.body_template,
        created_by=request.actor.label,
        created_at=at,
        updated_at=at,
    )
    _seal_secret(deliverer, button, request.secret)
    try:
        async with deliverer.db.session() as session:
            session.add(button)
            await session.flush()
            for position, environment in enumerate(environments):
                session.add(
                    ButtonEnvironment(
                        product_id=request.product_id,
                        environment=environment,
                        button_id=button.id,
                        position=position,
                    )
                )
    except IntegrityError:
        return _taken(request.product, environments)
    return public(button, environments)


@handles(GetButton)
async def get_button(deliverer: Deliverer, request: GetButton) -> ButtonPublic | Failure:
    """One button."""
    async with deliverer.db.session() as session:
        button = await session.get(Button, request.button_id)
    if button is None:
        return not_found()
    return public(button, await _environments(deliverer, button.id))


@handles(ListButtons)
async def list_buttons(deliverer: Deliverer, request: ListButtons) -> Page[ButtonPublic] | Failure:
    """Buttons, newest first."""
    where = [] if request.product_id is None else [col(Button.product_id) == request.product_id]
    async with deliverer.db.session() as session:
        total = (
            await session.execute(select(func.count()).select_from(Button).where(*where))
        ).scalar_one()
        stmt = select(Button).where(*where)
        if request.before is not None:
            cursor = await session.get(Button, request.before)
            if cursor is None:
                return not_found()
            stmt = stmt.where(
                tuple_(col(Button.created_at), col(Button.id))
                < tuple_(cursor.created_at, cursor.id)
            )
        rows = list(
            (
                await session.execute(
                    stmt.order_by(col(Button.created_at).desc(), col(Button.id).desc()).limit(
                        request.limit
                    )
                )
            ).scalars()
        )
    items = [public(b, await _environments(deliverer, b.id)) for b in rows]
    return Page[ButtonPublic](items=items, total=total)


@handles(UpdateButton)
async def update_button(deliverer: Deliverer, request: UpdateButton) -> ButtonPublic | Failure:
    """Change a button; its environments are replaced when given."""
    environments = list(dict.fromkeys(request.environments)) if request.environments else None
    product = ""
    try:
        async with deliverer.db.session() as session:
            button = await session.get(Button, request.button_id)
            if button is None:
                return not_found()
            product = button.product
            fields = request.model_dump(exclude_unset=True)
            url = fields.get("url_template") or button.url_template
            body = fields.get("body_template", button.body_template)
            method = fields.get("method") or button.method
            if problem := _problem(button.kind, url, body, method):
                return problem
            button.url_template, button.body_template = url, body
            button.method = templates.canonical_method(method)
            if request.label is not None:
                button.label = request.label
            if "secret" in fields:
                _seal_secret(deliverer, button, request.secret)
            button.updated_at = deliverer.now()
            if environments is not None:
                await session.execute(
                    delete(ButtonEnvironment).where(col(ButtonEnvironment.button_id) == button.id)
                )
                await session.flush()
                for position, environment in enumerate(environments):
                    session.add(
                        ButtonEnvironment(
                            product_id=button.product_id,
                            environment=environment,
                            button_id=button.id,
                            position=position,
                        )
                    )
    except IntegrityError:
        return _taken(product, environments or [])
    return public(button, await _environments(deliverer, button.id))


@handles(DeleteButton)
async def delete_button(deliverer: Deliverer, request: DeleteButton) -> Done | Failure:
    """Remove a button."""
    async with deliverer.db.session() as session:
        button = await session.get(Button, request.button_id)
        if button is None:
            return not_found()
        await session.execute(
            delete(ButtonEnvironment).where(col(ButtonEnvironment.button_id) == button.id)
        )
        await session.delete(button)
    return Done()


def rendered(button: Button, values: TemplateVariables) -> templates.Rendered:
    """The request a button makes for one version in one environment."""
    return templates.render(
        button.method, button.url_template, button.body_template, _variables(values)
    )


@handles(PreviewButton)
async def preview_button(deliverer: Deliverer, request: PreviewButton) -> ButtonRequest | Failure:
    """What the button would do for these values, without doing it."""
    async with deliverer.db.session() as session:
        button = await session.get(Button, request.button_id)
    if button is None:
        return not_found()
    made = rendered(button, request.variables)
    return ButtonRequest(
        method=made.method,
        url=made.url,
        body=made.body.decode() if made.body else None,
        content_type=made.content_type,
    )


def firing_public(row: Firing) -> FiringPublic:
    """The API's view of a firing."""
    return rows.public(FiringPublic, row)


@handles(ListFirings)
async def list_firings(deliverer: Deliverer, request: ListFirings) -> Page[FiringPublic] | Failure:
    """A button's firings, newest first."""
    async with deliverer.db.session() as session:
        if await session.get(Button, request.button_id) is None:
            return not_found()
        return await logs.page(
            session,
            Firing,
            [col(Firing.button_id) == request.button_id],
            before=request.before,
            limit=request.limit,
            view=FiringPublic,
        )


async def _begin_firing(deliverer: Deliverer, event: ButtonFireRequested) -> Firing | None:
    """Record the firing `firing`; None when it was already recorded (never fire twice)."""
    values = event.variables
    async with deliverer.db.session() as session:
        found = (
            await session.execute(select(Firing).where(col(Firing.id) == event.firing_id))
        ).scalar_one_or_none()
        if found is not None:
            if found.status == "firing":
                # The notifier stopped during the call: the receiver may have acted.
                found.status = "failed"
                found.error = "outcome unknown: the notifier stopped while firing; not repeated"
                found.finished_at = deliverer.now()
            return None
        firing = Firing(
            id=event.firing_id,
            button_id=event.button_id,
            product=values.product_name,
            version=values.version,
            environment=values.environment_name,
            status="firing",
            fired_by=event.actor,
            created_at=deliverer.now(),
        )
        session.add(firing)
    return firing


async def _finish_firing(deliverer: Deliverer, firing: Firing, outcome: Outcome) -> Firing:
    async with deliverer.db.session() as session:
        row = (
            await session.execute(select(Firing).where(col(Firing.id) == firing.id))
        ).scalar_one()
        row.status = "succeeded" if outcome.ok else "failed"
        row.status_code = outcome.status_code
        row.error = outcome.error[:2000] if outcome.error else None
        row.finished_at = deliverer.now()
    return row


async def _call(deliverer: Deliverer, button: Button, event: ButtonFireRequested) -> Outcome:
    values = event.variables
    if button.kind != "webhook":
        return Outcome(ok=False, attempts=0, error="a link button only navigates")
    if button.product_id != values.product_id:
        return Outcome(ok=False, attempts=0, error="the button belongs to another product")
    try:
        secret = deliverer.sealer.open(button.sealed).get("secret") if button.sealed else None
    except SecretUnreadable as exc:
        return Outcome(ok=False, attempts=0, error=str(exc))
    made = rendered(button, values)
    headers = signed_headers("button.fired", event.firing_id, made.body, secret, deliverer.now())
    if made.content_type:
        headers["Content-Type"] = made.content_type
    else:
        headers.pop("Content-Type", None)
    return await post(
        deliverer.egress,
        made.url,
        headers,
        made.body,
        sleep=deliverer.sleep,
        method=made.method,
        retry_lost=False,
    )


async def label_of(deliverer: Deliverer, button_id: UUID) -> str:
    """A button's label, or a stand-in once it is deleted."""
    async with deliverer.db.session() as session:
        button = await session.get(Button, button_id)
    return button.label if button else "Deploy"


async def fire(deliverer: Deliverer, event: ButtonFireRequested) -> Firing | None:
    """Fire a webhook button once; the finished firing, or None for a repeated request."""
    async with deliverer.db.session() as session:
        button = await session.get(Button, event.button_id)
    firing = await _begin_firing(deliverer, event)
    if firing is None:
        return None
    if button is None:
        outcome = Outcome(ok=False, attempts=0, error="the button was deleted")
    else:
        outcome = await _call(deliverer, button, event)
    done = await _finish_firing(deliverer, firing, outcome)
    BUTTON_FIRINGS.labels(outcome=done.status).inc()
    log.info(
        "button %s fired for %s %s → %s: %s",
        event.button_id,
        done.product,
        done.version,
        done.environment,
        done.status,
    )
    return done
