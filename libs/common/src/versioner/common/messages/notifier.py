"""The notifier's RPCs: its own configuration (channels, the delivery log), asked by ingest.

Like policy's management requests, each names the result it answers with (`Reply`) and may
answer with a `Failure` instead; each carries the caller ingest authenticated, and the role
its action needs (ingest checks it before asking; the notifier checks it again).
"""

from typing import Annotated, Any, ClassVar, Literal
from uuid import UUID

from pydantic import BaseModel, Field

from versioner.common.messages.actor import Actor
from versioner.common.notifications import (
    ChannelFilters,
    ChannelKind,
    ChannelPublic,
    ChannelTested,
    DeliveryPublic,
    EventNames,
)
from versioner.common.resources import Done, Page
from versioner.common.roles import Permission
from versioner.common.types import Name

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


class _Request(BaseModel):
    Reply: ClassVar[type[BaseModel]] = Done
    permission: ClassVar[Permission] = Permission.MANAGE_CHANNELS
    actor: Actor


class CreateChannel(_Request):
    """A new channel; its config is checked for its kind and its secrets sealed."""

    Reply = ChannelPublic
    kind: Literal["create_channel"] = "create_channel"
    name: Name
    channel_kind: ChannelKind
    config: dict[str, Any]
    events: EventNames
    filters: ChannelFilters = Field(default_factory=ChannelFilters)
    enabled: bool = True


class ListChannels(_Request):
    """Every channel, newest first."""

    Reply = Page[ChannelPublic]
    kind: Literal["list_channels"] = "list_channels"
    limit: int = Field(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)
    before: UUID | None = None


class GetChannel(_Request):
    """One channel."""

    Reply = ChannelPublic
    kind: Literal["get_channel"] = "get_channel"
    channel_id: UUID


class UpdateChannel(_Request):
    """Change a channel; `None` leaves a field as it is. Config keys left out keep their value,
    so a secret need not be sent again to change something else."""

    Reply = ChannelPublic
    kind: Literal["update_channel"] = "update_channel"
    channel_id: UUID
    name: Name | None = None
    config: dict[str, Any] | None = None
    events: EventNames | None = None
    filters: ChannelFilters | None = None
    enabled: bool | None = None


class DeleteChannel(_Request):
    """Remove a channel (its delivery log goes with it)."""

    kind: Literal["delete_channel"] = "delete_channel"
    channel_id: UUID


class TestChannel(_Request):
    """Send a test notification now and say how it went (it joins the delivery log)."""

    Reply = ChannelTested
    kind: Literal["test_channel"] = "test_channel"
    channel_id: UUID


class ListDeliveries(_Request):
    """A channel's delivery log, newest first."""

    Reply = Page[DeliveryPublic]
    kind: Literal["list_deliveries"] = "list_deliveries"
    channel_id: UUID
    status: Literal["sending", "sent", "failed"] | None = None
    limit: int = Field(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)
    before: UUID | None = None


NotifierRequest = Annotated[
    CreateChannel
    | ListChannels
    | GetChannel
    | UpdateChannel
    | DeleteChannel
    | TestChannel
    | ListDeliveries,
    Field(discriminator="kind"),
]


class DeliveryFailed(BaseModel):
    """A notification that could not be delivered, handed to the dead-letter queue."""

    kind: Literal["delivery_failed"] = "delivery_failed"
    delivery_id: UUID
    channel_id: UUID
    event_id: UUID
    event_type: str
    attempts: int
    status_code: int | None = None
    error: str
