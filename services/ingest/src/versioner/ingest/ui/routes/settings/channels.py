"""Settings: notification channels — Slack (a bot token and a channel, or an incoming
webhook URL) and webhooks, the events each hears about, a test send, the delivery log (admin,
sre). Secrets are write-only: a form sets or replaces one; a page shows its masked tail."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Form, Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from versioner.common.messages.notifier import (
    CreateChannel,
    DeleteChannel,
    GetChannel,
    ListChannels,
    ListDeliveries,
    TestChannel,
    UpdateChannel,
)
from versioner.common.notifications import EVENT_NAMES, ChannelPublic, ChannelTested
from versioner.common.roles import Permission
from versioner.ingest.deps import ident, names
from versioner.ingest.gateway import FailureError
from versioner.ingest.ui import paging
from versioner.ingest.ui.deps import CheckedDep, Viewer, ViewerDep
from versioner.ingest.ui.forms import FormLabels, Problem, shown, text
from versioner.ingest.ui.render import flash_redirect

router = APIRouter(include_in_schema=False)

# A test delivery may retry a webhook for a few seconds: the API waits as long (channels.py).
TEST_TIMEOUT_S = 30.0
DELIVERY_STATUSES = ("sending", "sent", "failed")

LABELS = FormLabels(
    {
        "name": "Name",
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
    },
    inputs={"filters": "products"},
)


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
            name=text(data, "name"),
            kind=kind or text(data, "kind"),
            slack_mode=text(data, "slack_mode") or "bot",
            channel=text(data, "channel"),
            url=text(data, "url"),
            events=[e for e in data.getlist("events") if isinstance(e, str)],
            products=text(data, "products"),
            environments=text(data, "environments"),
            enabled="enabled" in data,
            remove_secret="remove_secret" in data,
            secrets={k: text(data, k) for k in ("bot_token", "webhook_url", "secret")},
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
        return {"products": names(self.products), "environments": names(self.environments)}


def _channel_form_context(form: ChannelForm, problems: Sequence[Problem]) -> dict[str, Any]:
    return {
        "form": form,
        "event_groups": EVENT_GROUPS,
        "event_titles": EVENT_GROUP_TITLES,
        **shown(problems),
    }


async def _channels_page(
    user: Viewer,
    *,
    before: UUID | None = None,
    form: ChannelForm | None = None,
    problems: Sequence[Problem] = (),
    status_code: int = 200,
) -> Response:
    page = await user.ask_notifier(
        ListChannels(actor=user.actor, limit=paging.PAGE_SIZE, before=before)
    )
    return user.render(
        "channels.html",
        status_code,
        channels=page.items,
        total=page.total,
        older=paging.older(page),
        **_channel_form_context(form or ChannelForm(events=list(EVENT_NAMES)), problems),
    )


@router.get("/ui/settings/channels")
async def channels_page(user: ViewerDep, before: str | None = None) -> Response:
    """Every channel (admin, sre), with the form for a new one."""
    user.require(Permission.MANAGE_CHANNELS)
    return await _channels_page(user, before=paging.cursor(before))


@router.post("/ui/settings/channels")
async def create_channel(user: CheckedDep) -> Response:
    """Create the channel the form describes."""
    user.require(Permission.MANAGE_CHANNELS)
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
        saved: ChannelPublic = await user.ask_notifier(message)
    except (ValidationError, FailureError) as exc:
        problems, status_code = LABELS.explain(exc, "name")
        return await _channels_page(user, form=form, problems=problems, status_code=status_code)
    return flash_redirect(f"/ui/settings/channels/{saved.id}", f"Channel {saved.name} created.")


async def _channel(user: Viewer, channel_id: UUID) -> ChannelPublic:
    found: ChannelPublic = await user.ask_notifier(
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
    log = log or ListDeliveries(actor=user.actor, channel_id=channel.id, limit=paging.PAGE_SIZE)
    deliveries = await user.ask_notifier(log)
    return user.render(
        "channel.html",
        status_code,
        channel=channel,
        deliveries=deliveries.items,
        total=deliveries.total,
        older=paging.older(deliveries),
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
    user.require(Permission.MANAGE_CHANNELS)
    target = ident(channel_id)
    try:
        log = ListDeliveries.model_validate(
            {
                "actor": user.actor,
                "channel_id": target,
                "status": status.strip() or None,
                "limit": paging.PAGE_SIZE,
                "before": paging.cursor(before),
            }
        )
    except ValidationError as exc:
        return LABELS.invalid_page(user.request, exc)
    return await _channel_page(user, await _channel(user, target), log=log)


@router.post("/ui/settings/channels/{channel_id}")
async def update_channel(channel_id: str, user: CheckedDep) -> Response:
    """Save the form's changes to a channel (its kind stays; empty secrets keep theirs)."""
    user.require(Permission.MANAGE_CHANNELS)
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
        saved: ChannelPublic = await user.ask_notifier(message)
    except (ValidationError, FailureError) as exc:
        problems, status_code = LABELS.explain(exc, "name")
        return await _channel_page(
            user, channel, form=form, problems=problems, status_code=status_code
        )
    return flash_redirect(f"/ui/settings/channels/{saved.id}", f"Channel {saved.name} saved.")


@router.post("/ui/settings/channels/{channel_id}/enabled")
async def switch_channel(
    channel_id: str, user: CheckedDep, switch: Annotated[str, Form(alias="enabled")] = ""
) -> Response:
    """Enable or disable a channel."""
    user.require(Permission.MANAGE_CHANNELS)
    target = ident(channel_id)
    enabled = switch.strip() == "1"
    return await user.act(
        UpdateChannel(actor=user.actor, channel_id=target, enabled=enabled),
        back=f"/ui/settings/channels/{target}",
        done="Channel enabled." if enabled else "Channel disabled: it sends nothing now.",
    )


@router.post("/ui/settings/channels/{channel_id}/delete")
async def delete_channel(channel_id: str, user: CheckedDep) -> Response:
    """Remove a channel and its delivery log."""
    user.require(Permission.MANAGE_CHANNELS)
    return await user.act(
        DeleteChannel(actor=user.actor, channel_id=ident(channel_id)),
        back="/ui/settings/channels",
        done="Channel deleted.",
    )


@router.post("/ui/settings/channels/{channel_id}/test")
async def test_channel(channel_id: str, user: CheckedDep) -> Response:
    """Send a test notification now; the page answering says how it went."""
    user.require(Permission.MANAGE_CHANNELS)
    target = ident(channel_id)
    timeout = max(user.gateway.timeout_s, TEST_TIMEOUT_S)
    try:
        tested: ChannelTested = await user.ask_notifier(
            TestChannel(actor=user.actor, channel_id=target), timeout=timeout
        )
    except FailureError as exc:
        return user.refused(exc)
    return await _channel_page(user, await _channel(user, target), tested=tested)
