"""Dashboard section: settings — users and roles, API keys, notification channels, deployment
buttons and the audit log.

Every page and form makes the call its JSON route makes (`routes/accounts.py`, `channels.py`,
`buttons.py`, `audit.py`) in the signed-in user's name, so it shows and allows exactly what the
API would. Secrets are write-only: a form sets or replaces one and a page shows only its masked
tail; an invite token and a new API key appear once, on the page that answers the form.
"""

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode
from uuid import UUID

from fastapi import APIRouter, Response
from fastapi.responses import RedirectResponse
from pydantic import ValidationError
from starlette.datastructures import FormData

from versioner.common.errors import Failure, forbidden, unprocessable
from versioner.common.governance import AuditEntryPublic
from versioner.common.messages.broadcasts import CredentialsChanged
from versioner.common.messages.management import (
    CreateApiKey,
    CreateUser,
    GetProduct,
    ListApiKeys,
    ListAudit,
    ListProducts,
    ListUsers,
    ListVersions,
    ResolveVariables,
    RevokeApiKey,
    UpdateUser,
)
from versioner.common.messages.notifier import (
    CreateButton,
    CreateChannel,
    DeleteButton,
    DeleteChannel,
    GetButton,
    GetChannel,
    ListButtons,
    ListChannels,
    ListDeliveries,
    ListFirings,
    NotifierCall,
    PreviewButton,
    TestChannel,
    UpdateButton,
    UpdateChannel,
)
from versioner.common.notifications import (
    EVENT_NAMES,
    ButtonPublic,
    ButtonRequest,
    ChannelPublic,
    ChannelTested,
)
from versioner.common.resources import (
    ApiKeyCreated,
    ApiKeyPublic,
    Page,
    ProductPublic,
    UserInvited,
    UserPublic,
)
from versioner.common.roles import Permission, Role
from versioner.ingest.auth import Authenticator
from versioner.ingest.deps import ident
from versioner.ingest.gateway import FailureError
from versioner.ingest.ui.pages import (
    FLASH_COOKIE,
    CheckedDep,
    Viewer,
    ViewerDep,
    failure_page,
    failure_text,
)

router = APIRouter(include_in_schema=False)

# Lists show this many rows, newest first, with a link to the older ones.
PAGE_SIZE = 50
# Product and version suggestions in the button forms: enough to pick from, cheap to fetch.
SUGGESTIONS = 200
RECENT_VERSIONS = 20
# A test delivery may retry a webhook for a few seconds: the API waits as long (channels.py).
TEST_TIMEOUT_S = 30.0
DELIVERY_STATUSES = ("sending", "sent", "failed")
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


@dataclass(frozen=True)
class Section:
    """A settings page as the index lists it, and the permission that opens it."""

    path: str
    title: str
    summary: str
    permission: Permission


SECTIONS = (
    Section(
        "/ui/settings/users",
        "Users and roles",
        "Invite people, change their role, email or Slack id, deactivate them.",
        Permission.MANAGE_USERS,
    ),
    Section(
        "/ui/settings/api-keys",
        "API keys",
        "Keys for CI: they send events and read; each is shown once and can be revoked.",
        Permission.LIST_API_KEYS,
    ),
    Section(
        "/ui/settings/channels",
        "Notification channels",
        "Slack and webhook channels, the events they hear about, test sends, delivery logs.",
        Permission.MANAGE_CHANNELS,
    ),
    Section(
        "/ui/settings/buttons",
        "Deployment buttons",
        "A link or webhook per product and environment, with a preview of its request.",
        Permission.READ,
    ),
    Section(
        "/ui/settings/audit",
        "Audit log",
        "Every verdict, approval, rule change, override, rename and credential change.",
        Permission.READ_AUDIT,
    ),
)

# The form's label for each field a refusal may name.
_LABELS = {
    "name": "Name",
    "email": "Email",
    "role": "Role",
    "slack_user_id": "Slack user id",
    "active": "Active",
    "config": "Where to send",
    "config.bot_token": "Bot token",
    "config.channel": "Slack channel",
    "config.webhook_url": "Incoming webhook URL",
    "config.url": "URL",
    "config.secret": "Signing secret",
    "events": "Events",
    "filters": "Filters",
    "filters.products": "Products",
    "filters.environments": "Environments",
    "enabled": "Enabled",
    "status": "Status",
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
    "since": "Since",
    "action": "Kind",
    "by": "Actor",
}
# Message fields whose form input has another name.
_INPUTS = {"action": "kind", "by": "actor", "filters": "products"}

Problem = tuple[str, str]  # (the form input at fault, a sentence naming it by its label)


def _problem(loc: Sequence[Any], message: str) -> Problem:
    names = [str(part) for part in loc if isinstance(part, str) and part != "body"]
    head = names[:2] if names[:1] in (["config"], ["filters"]) else names[:1]
    key = ".".join(head)
    label = _LABELS.get(key) or key or "The form"
    position = next((part for part in loc if isinstance(part, int)), None)
    if position is not None:
        label = f"{label} {position + 1}"
    text = f"{label}: {message.removeprefix('Value error, ')}"
    return (_INPUTS.get(key, head[-1]) if head else ""), text


def _invalid(exc: ValidationError) -> list[Problem]:
    """What a form's values would not make a valid request of, field by field."""
    return [
        _problem(error.get("loc", ()), str(error.get("msg", "")))
        for error in exc.errors(include_url=False)
    ]


def _refusal(failure: Failure, where: str = "") -> list[Problem]:
    """A 409 or 422 refusal, field by field (a plain one attributed to `where`)."""
    detail: Any = failure.body.detail
    if isinstance(detail, list) and detail:
        return [
            _problem(item.get("loc", ()), str(item.get("msg", "")))
            for item in detail
            if isinstance(item, dict)
        ]
    return [(where, failure_text(failure))]


def _form_refusal(exc: FailureError, where: str = "") -> list[Problem]:
    """A refusal of what a form said, to show on the form; anything else goes on up."""
    if exc.failure.status_code not in (409, 422):
        raise exc
    return _refusal(exc.failure, where)


def _shown(problems: Sequence[Problem]) -> dict[str, Any]:
    """A form's problems as templates take them."""
    return {"errors": [text for _, text in problems], "bad": {name for name, _ in problems}}


def _refused(user: Viewer, failure: Failure) -> Response:
    """A refusal as a page saying what was wrong (nothing changed); a plain 403 or 404 in
    the words of every other page."""
    if failure.status_code in (403, 404):
        return failure_page(user.request, failure.status_code)
    return user.render("error.html", failure.status_code, message=failure_text(failure))


def _invalid_page(user: Viewer, exc: ValidationError) -> Response:
    """A form that would not make a valid request: 422, naming the field."""
    return user.render("error.html", 422, message=_invalid(exc)[0][1])


def _done(back: str, note: str) -> Response:
    """Back to a page, which says once what the form did."""
    response = RedirectResponse(back, status_code=303)
    response.set_cookie(FLASH_COOKIE, quote(note), max_age=60, samesite="lax", path="/ui/")
    return response


def _only(user: Viewer, permission: Permission) -> None:
    if not user.may(permission):
        raise FailureError(forbidden())


def _cursor(raw: str | None) -> UUID | None:
    return ident(raw) if raw else None


def _older(page: Page[Any]) -> str | None:
    """The id to page on from, when older rows may remain."""
    shown = page.items
    return str(shown[-1].id) if len(shown) == PAGE_SIZE and len(shown) < page.total else None


def _names(text: str) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()]


def _text(data: FormData, key: str) -> str:
    value = data.get(key)
    return value.strip() if isinstance(value, str) else ""


def _forget(user: Viewer, change: CredentialsChanged) -> None:
    """What the API does after a credential change: this gateway forgets at once."""
    authenticator: Authenticator = user.request.app.state.authenticator
    authenticator.cache.forget(change)


# The index


@router.get("/ui/settings")
async def settings_page(user: ViewerDep) -> Response:
    """The settings this user may see."""
    sections = [s for s in SECTIONS if user.may(s.permission)]
    return user.render("settings.html", sections=sections)


# Users and roles


@dataclass
class InviteForm:
    """The invite form's fields."""

    name: str = ""
    email: str = ""
    role: str = Role.VIEWER.value
    slack_user_id: str = ""


async def _users_page(
    user: Viewer,
    *,
    before: UUID | None = None,
    form: InviteForm | None = None,
    invited: UserInvited | None = None,
    problems: Sequence[Problem] = (),
    status_code: int = 200,
) -> Response:
    page = await user.ask(ListUsers(actor=user.actor, limit=PAGE_SIZE, before=before))
    return user.render(
        "users.html",
        status_code,
        users=page.items,
        total=page.total,
        older=_older(page),
        roles=[role.value for role in Role],
        form=form or InviteForm(),
        invited=invited,
        **_shown(problems),
    )


@router.get("/ui/settings/users")
async def users_page(user: ViewerDep, before: str | None = None) -> Response:
    """Every user (admin), with the invite form and a form per user."""
    _only(user, Permission.MANAGE_USERS)
    return await _users_page(user, before=_cursor(before))


@router.post("/ui/settings/users")
async def invite_user(user: CheckedDep) -> Response:
    """Invite a user (admin): the answer shows their one-time invite token, this once."""
    _only(user, Permission.MANAGE_USERS)
    data = await user.request.form()
    form = InviteForm(
        name=_text(data, "name"),
        email=_text(data, "email"),
        role=_text(data, "role"),
        slack_user_id=_text(data, "slack_user_id"),
    )
    try:
        message = CreateUser.model_validate(
            {
                "actor": user.actor,
                "name": form.name,
                "email": form.email or None,
                "role": form.role,
                "slack_user_id": form.slack_user_id or None,
            }
        )
        invited: UserInvited = await user.ask(message)
    except ValidationError as exc:
        return await _users_page(user, form=form, problems=_invalid(exc), status_code=422)
    except FailureError as exc:
        problems = _form_refusal(exc, "slack_user_id")
        return await _users_page(
            user, form=form, problems=problems, status_code=exc.failure.status_code
        )
    return await _users_page(user, invited=invited, status_code=201)


@router.post("/ui/settings/users/{user_id}")
async def update_user(user_id: str, user: CheckedDep) -> Response:
    """Change a user's role, email, Slack id or activity (admin; never one's own role; the
    last admin stays one)."""
    _only(user, Permission.MANAGE_USERS)
    target = ident(user_id)
    data = await user.request.form()
    fields: dict[str, Any] = {
        "actor": user.actor,
        "user_id": target,
        # Empty unlinks Slack, as over the API.
        "slack_user_id": _text(data, "slack_user_id"),
    }
    if email := _text(data, "email"):
        fields["email"] = email
    if role := _text(data, "role"):
        fields["role"] = role
    if "active" in data:
        # A hidden "0" comes before the checkbox's "1": the last value sent counts.
        fields["active"] = _text(data, "active") == "1"
    try:
        message = UpdateUser.model_validate(fields)
        changed: UserPublic = await user.ask(message)
    except ValidationError as exc:
        return _invalid_page(user, exc)
    except FailureError as exc:
        return _refused(user, exc.failure)
    if message.role is not None or message.active is not None:
        _forget(user, CredentialsChanged(actor_ids=[changed.id]))
    return _done("/ui/settings/users", f"{changed.name} saved.")


# API keys


async def _keys_page(
    user: Viewer,
    *,
    before: UUID | None = None,
    name: str = "",
    created: ApiKeyCreated | None = None,
    problems: Sequence[Problem] = (),
    status_code: int = 200,
) -> Response:
    page = await user.ask(ListApiKeys(actor=user.actor, limit=PAGE_SIZE, before=before))
    return user.render(
        "api_keys.html",
        status_code,
        keys=page.items,
        total=page.total,
        older=_older(page),
        manage=user.may(Permission.MANAGE_USERS),
        name=name,
        created=created,
        **_shown(problems),
    )


@router.get("/ui/settings/api-keys")
async def api_keys_page(user: ViewerDep, before: str | None = None) -> Response:
    """Every API key without its secret (admin; developers may look)."""
    _only(user, Permission.LIST_API_KEYS)
    return await _keys_page(user, before=_cursor(before))


@router.post("/ui/settings/api-keys")
async def create_api_key(user: CheckedDep) -> Response:
    """A new API key (admin): the answer shows it, this once."""
    _only(user, Permission.MANAGE_USERS)
    name = _text(await user.request.form(), "name")
    try:
        message = CreateApiKey.model_validate({"actor": user.actor, "name": name})
        created: ApiKeyCreated = await user.ask(message)
    except ValidationError as exc:
        return await _keys_page(user, name=name, problems=_invalid(exc), status_code=422)
    except FailureError as exc:
        problems = _form_refusal(exc, "name")
        return await _keys_page(
            user, name=name, problems=problems, status_code=exc.failure.status_code
        )
    return await _keys_page(user, created=created, status_code=201)


@router.post("/ui/settings/api-keys/{key_id}/revoke")
async def revoke_api_key(key_id: str, user: CheckedDep) -> Response:
    """Revoke an API key (admin): it stops working at once."""
    _only(user, Permission.MANAGE_USERS)
    try:
        revoked: ApiKeyPublic = await user.ask(RevokeApiKey(actor=user.actor, key_id=ident(key_id)))
    except FailureError as exc:
        return _refused(user, exc.failure)
    _forget(user, CredentialsChanged(credential_ids=[revoked.id]))
    return _done("/ui/settings/api-keys", f"API key {revoked.name} revoked.")


# Notification channels


# The events a channel may hear about, grouped as the form shows them.
def _grouped(names: Sequence[str]) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for name in names:
        groups.setdefault(name.split(".")[0], []).append(name)
    return groups


EVENT_GROUPS = _grouped(EVENT_NAMES)
EVENT_GROUP_TITLES = {
    "build": "Builds",
    "deployment": "Deployments",
    "dr": "Deployment Requests",
    "version": "Versions",
}


@dataclass
class ChannelForm:
    """A channel's form: plain fields; typed secrets are sent on and never shown again."""

    name: str = ""
    kind: str = "slack"
    slack_mode: str = "bot"  # a bot token and a channel, or an incoming webhook URL
    channel: str = ""
    url: str = ""
    events: list[str] = field(default_factory=list)
    products: str = ""
    environments: str = ""
    enabled: bool = True
    remove_secret: bool = False
    secrets: dict[str, str] = field(default_factory=dict, repr=False)

    @classmethod
    def of(cls, channel: ChannelPublic) -> "ChannelForm":
        """The form of a saved channel (its secrets left empty)."""
        config = channel.config
        return cls(
            name=channel.name,
            kind=channel.channel_kind,
            slack_mode="webhook_url" if "webhook_url" in config else "bot",
            channel=str(config.get("channel") or ""),
            url=str(config.get("url") or ""),
            events=list(channel.events),
            products=", ".join(channel.filters.products),
            environments=", ".join(channel.filters.environments),
            enabled=channel.enabled,
        )

    @classmethod
    def posted(cls, data: FormData, kind: str | None = None) -> "ChannelForm":
        """The form as the browser sent it (a saved channel keeps its kind)."""
        return cls(
            name=_text(data, "name"),
            kind=kind or _text(data, "kind"),
            slack_mode=_text(data, "slack_mode") or "bot",
            channel=_text(data, "channel"),
            url=_text(data, "url"),
            events=[e for e in data.getlist("events") if isinstance(e, str)],
            products=_text(data, "products"),
            environments=_text(data, "environments"),
            enabled="enabled" in data,
            remove_secret="remove_secret" in data,
            secrets={k: _text(data, k) for k in ("bot_token", "webhook_url", "secret")},
        )

    def config(self, saved: ChannelPublic | None = None) -> dict[str, Any]:
        """The `config` of the chosen kind: everything for a new channel; for a saved one,
        a patch where a secret left empty keeps its value and the other mode's keys go."""
        typed = self.secrets
        config: dict[str, Any]
        if self.kind == "webhook":
            config = {"url": self.url}
            if saved is not None and self.remove_secret:
                config["secret"] = None
            elif typed.get("secret"):
                config["secret"] = typed["secret"]
            return config
        # Slack: a bot token and a channel, or an incoming webhook URL; a saved channel
        # switching from one to the other drops the keys of the first.
        if self.slack_mode == "webhook_url":
            key = "webhook_url"
            config = {} if saved is None else {"bot_token": None, "channel": None}
        else:
            key = "bot_token"
            config = {"channel": self.channel}
            if saved is not None:
                config["webhook_url"] = None
        # Sent empty when it is needed and missing, for the notifier to name it.
        if saved is None or typed.get(key) or key not in saved.config:
            config[key] = typed.get(key, "")
        return config

    def filters(self) -> dict[str, list[str]]:
        """The `filters` the API takes."""
        return {"products": _names(self.products), "environments": _names(self.environments)}


def _channel_form_context(form: ChannelForm, problems: Sequence[Problem]) -> dict[str, Any]:
    return {
        "form": form,
        "event_groups": EVENT_GROUPS,
        "event_titles": EVENT_GROUP_TITLES,
        **_shown(problems),
    }


async def _channels_page(
    user: Viewer,
    *,
    before: UUID | None = None,
    form: ChannelForm | None = None,
    problems: Sequence[Problem] = (),
    status_code: int = 200,
) -> Response:
    page = await user.gateway.ask_notifier(
        ListChannels(actor=user.actor, limit=PAGE_SIZE, before=before)
    )
    return user.render(
        "channels.html",
        status_code,
        channels=page.items,
        total=page.total,
        older=_older(page),
        **_channel_form_context(form or ChannelForm(events=list(EVENT_NAMES)), problems),
    )


@router.get("/ui/settings/channels")
async def channels_page(user: ViewerDep, before: str | None = None) -> Response:
    """Every channel (admin, sre), with the form for a new one."""
    _only(user, Permission.MANAGE_CHANNELS)
    return await _channels_page(user, before=_cursor(before))


@router.post("/ui/settings/channels")
async def create_channel(user: CheckedDep) -> Response:
    """Create the channel the form describes."""
    _only(user, Permission.MANAGE_CHANNELS)
    form = ChannelForm.posted(await user.request.form())
    try:
        message = CreateChannel.model_validate(
            {
                "actor": user.actor,
                "name": form.name,
                "channel_kind": form.kind,
                "config": form.config(),
                "events": form.events,
                "filters": form.filters(),
                "enabled": form.enabled,
            }
        )
        saved: ChannelPublic = await user.gateway.ask_notifier(message)
    except ValidationError as exc:
        return await _channels_page(user, form=form, problems=_invalid(exc), status_code=422)
    except FailureError as exc:
        problems = _form_refusal(exc, "name")
        return await _channels_page(
            user, form=form, problems=problems, status_code=exc.failure.status_code
        )
    return _done(f"/ui/settings/channels/{saved.id}", f"Channel {saved.name} created.")


async def _channel(user: Viewer, channel_id: UUID) -> ChannelPublic:
    found: ChannelPublic = await user.gateway.ask_notifier(
        GetChannel(actor=user.actor, channel_id=channel_id)
    )
    return found


async def _channel_page(
    user: Viewer,
    channel: ChannelPublic,
    *,
    log: ListDeliveries | None = None,
    form: ChannelForm | None = None,
    problems: Sequence[Problem] = (),
    tested: ChannelTested | None = None,
    status_code: int = 200,
) -> Response:
    log = log or ListDeliveries(actor=user.actor, channel_id=channel.id, limit=PAGE_SIZE)
    deliveries = await user.gateway.ask_notifier(log)
    return user.render(
        "channel.html",
        status_code,
        channel=channel,
        deliveries=deliveries.items,
        total=deliveries.total,
        older=_older(deliveries),
        status=log.status or "",
        statuses=DELIVERY_STATUSES,
        tested=tested,
        **_channel_form_context(form or ChannelForm.of(channel), problems),
    )


@router.get("/ui/settings/channels/{channel_id}")
async def channel_page(
    channel_id: str, user: ViewerDep, status: str = "", before: str | None = None
) -> Response:
    """One channel: its form, a test send, its delivery log (by status)."""
    _only(user, Permission.MANAGE_CHANNELS)
    target = ident(channel_id)
    try:
        log = ListDeliveries.model_validate(
            {
                "actor": user.actor,
                "channel_id": target,
                "status": status.strip() or None,
                "limit": PAGE_SIZE,
                "before": _cursor(before),
            }
        )
    except ValidationError as exc:
        return _invalid_page(user, exc)
    return await _channel_page(user, await _channel(user, target), log=log)


@router.post("/ui/settings/channels/{channel_id}")
async def update_channel(channel_id: str, user: CheckedDep) -> Response:
    """Save the form's changes to a channel (its kind stays; empty secrets keep theirs)."""
    _only(user, Permission.MANAGE_CHANNELS)
    channel = await _channel(user, ident(channel_id))
    form = ChannelForm.posted(await user.request.form(), kind=channel.channel_kind)
    form.enabled = channel.enabled
    try:
        message = UpdateChannel.model_validate(
            {
                "actor": user.actor,
                "channel_id": channel.id,
                "name": form.name,
                "config": form.config(channel),
                "events": form.events,
                "filters": form.filters(),
            }
        )
        saved: ChannelPublic = await user.gateway.ask_notifier(message)
    except ValidationError as exc:
        return await _channel_page(
            user, channel, form=form, problems=_invalid(exc), status_code=422
        )
    except FailureError as exc:
        problems = _form_refusal(exc, "name")
        return await _channel_page(
            user, channel, form=form, problems=problems, status_code=exc.failure.status_code
        )
    return _done(f"/ui/settings/channels/{saved.id}", f"Channel {saved.name} saved.")


async def _notifier_act(user: Viewer, message: NotifierCall[Any], back: str, done: str) -> Response:
    """Do what a form asks of the notifier; back to `back` saying `done`, or the refusal."""
    try:
        await user.gateway.ask_notifier(message)
    except FailureError as exc:
        return _refused(user, exc.failure)
    return _done(back, done)


@router.post("/ui/settings/channels/{channel_id}/enabled")
async def switch_channel(channel_id: str, user: CheckedDep) -> Response:
    """Enable or disable a channel."""
    _only(user, Permission.MANAGE_CHANNELS)
    target = ident(channel_id)
    enabled = _text(await user.request.form(), "enabled") == "1"
    return await _notifier_act(
        user,
        UpdateChannel(actor=user.actor, channel_id=target, enabled=enabled),
        back=f"/ui/settings/channels/{target}",
        done="Channel enabled." if enabled else "Channel disabled: it sends nothing now.",
    )


@router.post("/ui/settings/channels/{channel_id}/delete")
async def delete_channel(channel_id: str, user: CheckedDep) -> Response:
    """Remove a channel and its delivery log."""
    _only(user, Permission.MANAGE_CHANNELS)
    return await _notifier_act(
        user,
        DeleteChannel(actor=user.actor, channel_id=ident(channel_id)),
        back="/ui/settings/channels",
        done="Channel deleted.",
    )


@router.post("/ui/settings/channels/{channel_id}/test")
async def test_channel(channel_id: str, user: CheckedDep) -> Response:
    """Send a test notification now; the page answering says how it went."""
    _only(user, Permission.MANAGE_CHANNELS)
    target = ident(channel_id)
    timeout = max(user.gateway.timeout_s, TEST_TIMEOUT_S)
    try:
        tested: ChannelTested = await user.gateway.ask_notifier(
            TestChannel(actor=user.actor, channel_id=target), timeout=timeout
        )
    except FailureError as exc:
        return _refused(user, exc.failure)
    return await _channel_page(user, await _channel(user, target), tested=tested)


# Deployment buttons


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
            product=saved.product if saved else _text(data, "product"),
            environments=_text(data, "environments"),
            label=_text(data, "label"),
            kind=saved.button_kind if saved else _text(data, "kind"),
            url_template=_text(data, "url_template"),
            method=_text(data, "method") or "POST",
            # A body is sent as typed: its whitespace may matter to the receiver.
            body_template=body if isinstance(body, str) and body.strip() else "",
            remove_secret="remove_secret" in data,
            secret=_text(data, "secret"),
        )

    def fields(self, saved: ButtonPublic | None = None) -> dict[str, Any]:
        """The button's fields as the API takes them. A link only opens its URL, so the
        webhook-only fields, hidden with it, are not sent; a saved button's secret is sent
        only to replace or remove it."""
        fields: dict[str, Any] = {
            "environments": _names(self.environments),
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
        **_shown(problems),
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
            actor=user.actor, product_id=product_id, limit=PAGE_SIZE, before=before
        )
        return await user.gateway.ask_notifier(request)

    async def product_names() -> list[str]:
        """Suggestions for the new-button form."""
        if not manage:
            return []
        page = await user.ask(ListProducts(actor=user.actor, limit=SUGGESTIONS))
        return sorted(p.name for p in page.items)

    page, products = await asyncio.gather(listing(), product_names())
    return user.render(
        "buttons.html",
        status_code,
        buttons=page.items,
        total=page.total,
        older=_older(page),
        product=product,
        manage=manage,
        **_button_form_context(form or ButtonForm(), problems, products),
    )


@router.get("/ui/settings/buttons")
async def buttons_page(user: ViewerDep, product: str = "", before: str | None = None) -> Response:
    """Every deployment button (of one product, when given), with the form for a new one for
    those who manage them."""
    return await _buttons_page(user, product=product.strip(), before=_cursor(before))


@router.post("/ui/settings/buttons")
async def create_button(user: CheckedDep) -> Response:
    """Create the button the form describes (admin, release_manager, sre); one per product
    and environment."""
    _only(user, CreateButton.permission)
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
        saved: ButtonPublic = await user.gateway.ask_notifier(message)
    except ValidationError as exc:
        return await _buttons_page(user, form=form, problems=_invalid(exc), status_code=422)
    except FailureError as exc:
        problems = _form_refusal(exc, "environments")
        return await _buttons_page(
            user, form=form, problems=problems, status_code=exc.failure.status_code
        )
    return _done(f"/ui/settings/buttons/{saved.id}", f"Button {saved.label} created.")


async def _button(user: Viewer, button_id: UUID) -> ButtonPublic:
    found: ButtonPublic = await user.gateway.ask_notifier(
        GetButton(actor=user.actor, button_id=button_id)
    )
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
        preview.request = await user.gateway.ask_notifier(
            PreviewButton(actor=user.actor, button_id=button.id, variables=variables),
        )
    except ValidationError as exc:
        preview.problems = _invalid(exc)
    except FailureError as exc:
        preview.problems = _form_refusal(exc, "version")
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
        user.gateway.ask_notifier(
            ListFirings(actor=user.actor, button_id=button.id, limit=PAGE_SIZE, before=before),
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
        older=_older(firings),
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
        before=_cursor(before),
        version=version.strip(),
        environment=environment.strip(),
    )


@router.post("/ui/settings/buttons/{button_id}")
async def update_button(button_id: str, user: CheckedDep) -> Response:
    """Save the form's changes to a button (its product and kind stay; an empty secret keeps
    its value)."""
    _only(user, UpdateButton.permission)
    button = await _button(user, ident(button_id))
    form = ButtonForm.posted(await user.request.form(), button)
    try:
        message = UpdateButton.model_validate(
            {"actor": user.actor, "button_id": button.id, **form.fields(button)}
        )
        saved: ButtonPublic = await user.gateway.ask_notifier(message)
    except ValidationError as exc:
        return await _button_page(user, button, form=form, problems=_invalid(exc), status_code=422)
    except FailureError as exc:
        problems = _form_refusal(exc, "environments")
        return await _button_page(
            user, button, form=form, problems=problems, status_code=exc.failure.status_code
        )
    return _done(f"/ui/settings/buttons/{saved.id}", f"Button {saved.label} saved.")


@router.post("/ui/settings/buttons/{button_id}/delete")
async def delete_button(button_id: str, user: CheckedDep) -> Response:
    """Remove a button (its firings stay in the log)."""
    _only(user, DeleteButton.permission)
    return await _notifier_act(
        user,
        DeleteButton(actor=user.actor, button_id=ident(button_id)),
        back="/ui/settings/buttons",
        done="Button deleted.",
    )


# The audit log


def _as_json(data: dict[str, Any]) -> str:
    return json.dumps(data, sort_keys=True, ensure_ascii=False, default=str)


@router.get("/ui/settings/audit")
async def audit_page(
    user: ViewerDep, kind: str = "", actor: str = "", since: str = "", before: str = ""
) -> Response:
    """The audit log, newest first, by kind (or its prefix, `rule.`), actor and time."""
    _only(user, Permission.READ_AUDIT)
    filters = {"kind": kind.strip(), "actor": actor.strip(), "since": since.strip()}
    older = int(before) if before.isdigit() and int(before) > 0 else None
    context: dict[str, Any] = {"filters": filters, "filtered": any(filters.values())}
    try:
        request = ListAudit.model_validate(
            {
                "actor": user.actor,
                "action": filters["kind"] or None,
                "by": filters["actor"] or None,
                "since": filters["since"] or None,
                "limit": PAGE_SIZE,
                "before": older,
            }
        )
    except ValidationError as exc:
        return user.render(
            "audit.html", 422, entries=[], total=0, kinds=[], **context, **_shown(_invalid(exc))
        )
    log: Page[AuditEntryPublic] = await user.ask(request)
    entries = log.items
    next_page = (
        "/ui/settings/audit?" + urlencode({**filters, "before": entries[-1].id})
        if len(entries) == PAGE_SIZE
        else None
    )
    shown = {e.action for e in entries}
    kinds = sorted(shown | {action.split(".")[0] + "." for action in shown})
    return user.render(
        "audit.html",
        entries=entries,
        total=log.total,
        kinds=kinds,
        next_page=next_page,
        paged=older is not None,
        as_json=_as_json,
        **context,
        **_shown(()),
    )
