"""Notification channels and their delivery logs: the notifier's configuration, over its RPC."""

from typing import Any, Literal

from fastapi import Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from versioner.common.messages.notifier import (
    DEFAULT_LIMIT,
    CreateChannel,
    DeleteChannel,
    GetChannel,
    ListChannels,
    ListDeliveries,
    TestChannel,
    UpdateChannel,
)
from versioner.common.notifications import (
    CHANNEL_CONFIG_PATCH,
    CHANNEL_CONFIGS,
    ChannelFilters,
    ChannelKind,
    ChannelPublic,
    ChannelTested,
    ChannelView,
    DeliveryPublic,
    EventNames,
)
from versioner.common.resources import Done
from versioner.common.types import Name
from versioner.ingest.deps import ActorDep, GatewayDep, ident
from versioner.ingest.openapi import conflict
from versioner.ingest.routes.catalog import Limit
from versioner.ingest.web import Router, respond, respond_list

router = Router(tags=["notifications"])


def _channel(channel: ChannelPublic, status_code: int = 200) -> Response:
    return JSONResponse(channel.api_view(), status_code=status_code)


def _config_by_kind(schema: dict[str, Any]) -> None:
    schema["oneOf"] = [
        {"properties": {"kind": {"const": kind}, "config": config}}
        for kind, config in CHANNEL_CONFIGS.items()
    ]


def _config_patch(schema: dict[str, Any]) -> None:
    schema["properties"]["config"] = {"anyOf": [CHANNEL_CONFIG_PATCH, {"type": "null"}]}


class ChannelIn(BaseModel):
    """A new channel. Slack: `{"bot_token", "channel"}` or `{"webhook_url"}`; webhook:
    `{"url", "secret"}`. Secrets are write-only."""

    model_config = ConfigDict(json_schema_extra=_config_by_kind)

    name: Name
    kind: ChannelKind
    config: dict[str, Any]
    events: EventNames
    filters: ChannelFilters = Field(default_factory=ChannelFilters)
    enabled: StrictBool = True


class ChannelPatch(BaseModel):
    """Changes to a channel; config keys left out keep their value, `null` removes one."""

    model_config = ConfigDict(json_schema_extra=_config_patch)

    name: Name | None = None
    config: dict[str, Any] | None = None
    events: EventNames | None = None
    filters: ChannelFilters | None = None
    enabled: StrictBool | None = None


_NAME_TAKEN = conflict("Another channel has the name")


@router.both(
    "/notification-channels",
    methods=["POST"],
    status_code=201,
    responses={201: {"model": ChannelView}, **_NAME_TAKEN},
)
async def create_channel(channel: ChannelIn, actor: ActorDep, gateway: GatewayDep) -> Response:
    """Create a channel (admin, sre)."""
    fields = channel.model_dump(exclude={"kind"})
    request = CreateChannel(actor=actor, channel_kind=channel.kind, **fields)
    return _channel(await gateway.ask_notifier(request), 201)


@router.both(
    "/notification-channels", methods=["GET"], responses={200: {"model": list[ChannelView]}}
)
async def list_channels(
    actor: ActorDep, gateway: GatewayDep, limit: Limit = DEFAULT_LIMIT, before: str | None = None
) -> Response:
    """Every channel, newest first (admin, sre)."""
    request = ListChannels(actor=actor, limit=limit, before=ident(before) if before else None)
    page = await gateway.ask_notifier(request)
    return JSONResponse(
        [c.api_view() for c in page.items], headers={"X-Total-Count": str(page.total)}
    )


@router.both(
    "/notification-channels/{channel_id}",
    methods=["GET"],
    responses={200: {"model": ChannelView}},
)
async def get_channel(channel_id: str, actor: ActorDep, gateway: GatewayDep) -> Response:
    """One channel."""
    request = GetChannel(actor=actor, channel_id=ident(channel_id))
    return _channel(await gateway.ask_notifier(request))


@router.both(
    "/notification-channels/{channel_id}",
    methods=["PATCH"],
    responses={200: {"model": ChannelView}, **_NAME_TAKEN},
)
async def update_channel(
    channel_id: str, patch: ChannelPatch, actor: ActorDep, gateway: GatewayDep
) -> Response:
    """Change a channel."""
    request = UpdateChannel(
        actor=actor, channel_id=ident(channel_id), **patch.model_dump(exclude_unset=True)
    )
    return _channel(await gateway.ask_notifier(request))


@router.both(
    "/notification-channels/{channel_id}",
    methods=["DELETE"],
    responses={200: {"model": Done}},
)
async def delete_channel(channel_id: str, actor: ActorDep, gateway: GatewayDep) -> Response:
    """Remove a channel and its delivery log."""
    request = DeleteChannel(actor=actor, channel_id=ident(channel_id))
    return respond(await gateway.ask_notifier(request))


@router.both(
    "/notification-channels/{channel_id}/test",
    methods=["POST"],
    responses={200: {"model": ChannelTested}},
)
async def test_channel(channel_id: str, actor: ActorDep, gateway: GatewayDep) -> Response:
    """Send a test notification now; the answer says how it went. Webhook retries can take a
    few seconds, so this waits longer than other requests."""
    request = TestChannel(actor=actor, channel_id=ident(channel_id))
    timeout = max(gateway.timeout_s, 30.0)
    return respond(await gateway.ask_notifier(request, timeout=timeout))


@router.both(
    "/notification-channels/{channel_id}/deliveries",
    methods=["GET"],
    responses={200: {"model": list[DeliveryPublic]}},
)
async def list_deliveries(
    channel_id: str,
    actor: ActorDep,
    gateway: GatewayDep,
    status: Literal["sending", "sent", "failed"] | None = None,
    limit: Limit = DEFAULT_LIMIT,
    before: str | None = None,
) -> Response:
    """A channel's delivery log, newest first."""
    request = ListDeliveries(
        actor=actor,
        channel_id=ident(channel_id),
        status=status,
        limit=limit,
        before=ident(before) if before else None,
    )
    page = await gateway.ask_notifier(request)
    return respond_list(page.items, page.total)
