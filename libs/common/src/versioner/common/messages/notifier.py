"""The notifier's RPCs: its own configuration (channels, the delivery log), asked by ingest.

Like policy's management requests, each is typed by the result it answers with
(`NotifierCall[Reply]`) and may answer with a `Failure` instead; each carries the caller
ingest authenticated, and the role its action needs (ingest checks it before asking; the
notifier checks it again).
"""

from typing import Annotated, Any, ClassVar, Generic, Literal
from uuid import UUID

from pydantic import BaseModel, Field

from versioner.common.messages.rpc import ReplyT_co, Rpc
from versioner.common.notifications import (
    ButtonKind,
    ButtonPublic,
    ButtonRequest,
    ChannelFilters,
    ChannelKind,
    ChannelPublic,
    ChannelTested,
    DeliveryPublic,
    EventNames,
    FiringPublic,
    TemplateVariables,
)
from versioner.common.resources import Done, Page
from versioner.common.roles import Permission
from versioner.common.types import Name

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


class NotifierCall(Rpc[ReplyT_co], Generic[ReplyT_co]):
    """A notifier request, typed by its reply: `NotifierCall[Reply]`."""

    permission: ClassVar[Permission] = Permission.MANAGE_CHANNELS


class CreateChannel(NotifierCall[ChannelPublic]):
    """A new channel; its config is checked for its kind and its secrets sealed."""

    kind: Literal["create_channel"] = "create_channel"
    name: Name
    channel_kind: ChannelKind
    config: dict[str, Any]
    events: EventNames
    filters: ChannelFilters = Field(default_factory=ChannelFilters)
    enabled: bool = True


class ListChannels(NotifierCall[Page[ChannelPublic]]):
    """Every channel, newest first."""

    kind: Literal["list_channels"] = "list_channels"
    limit: int = Field(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)
    before: UUID | None = None


class GetChannel(NotifierCall[ChannelPublic]):
    """One channel."""

    kind: Literal["get_channel"] = "get_channel"
    channel_id: UUID


class UpdateChannel(NotifierCall[ChannelPublic]):
    """Change a channel; `None` leaves a field as it is. Config keys left out keep their value,
    so a secret need not be sent again to change something else."""

    kind: Literal["update_channel"] = "update_channel"
    channel_id: UUID
    name: Name | None = None
    config: dict[str, Any] | None = None
    events: EventNames | None = None
    filters: ChannelFilters | None = None
    enabled: bool | None = None


class DeleteChannel(NotifierCall[Done]):
    """Remove a channel (its delivery log goes with it)."""

    kind: Literal["delete_channel"] = "delete_channel"
    channel_id: UUID


class TestChannel(NotifierCall[ChannelTested]):
    """Send a test notification now and say how it went (it joins the delivery log)."""

    kind: Literal["test_channel"] = "test_channel"
    channel_id: UUID


class ListDeliveries(NotifierCall[Page[DeliveryPublic]]):
    """A channel's delivery log, newest first."""

    kind: Literal["list_deliveries"] = "list_deliveries"
    channel_id: UUID
    status: Literal["sending", "sent", "failed"] | None = None
    limit: int = Field(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)
    before: UUID | None = None


class CreateButton(NotifierCall[ButtonPublic]):
    """A deployment button for one product (resolved by ingest) and its environments."""

    permission = Permission.MANAGE_RULES
    kind: Literal["create_button"] = "create_button"
    product_id: UUID
    product: str
    environments: list[Name] = Field(min_length=1, max_length=100)
    label: str = Field(min_length=1, max_length=75)
    button_kind: ButtonKind
    url_template: str = Field(min_length=1, max_length=2048)
    method: str = "POST"
    body_template: str | None = Field(default=None, max_length=65536)
    secret: str | None = Field(default=None, max_length=1024)


class ListButtons(NotifierCall[Page[ButtonPublic]]):
    """Buttons, newest first; of one product when given."""

    permission = Permission.READ_BUTTONS
    kind: Literal["list_buttons"] = "list_buttons"
    product_id: UUID | None = None
    limit: int = Field(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)
    before: UUID | None = None


class GetButton(NotifierCall[ButtonPublic]):
    """One button."""

    permission = Permission.READ_BUTTONS
    kind: Literal["get_button"] = "get_button"
    button_id: UUID


class UpdateButton(NotifierCall[ButtonPublic]):
    """Change a button; `None` leaves a field as it is."""

    permission = Permission.MANAGE_RULES
    kind: Literal["update_button"] = "update_button"
    button_id: UUID
    environments: list[Name] | None = Field(default=None, min_length=1, max_length=100)
    label: str | None = Field(default=None, min_length=1, max_length=75)
    url_template: str | None = Field(default=None, min_length=1, max_length=2048)
    method: str | None = None
    body_template: str | None = Field(default=None, max_length=65536)
    secret: str | None = Field(default=None, max_length=1024)


class DeleteButton(NotifierCall[Done]):
    """Remove a button (its firings stay in the log)."""

    permission = Permission.MANAGE_RULES
    kind: Literal["delete_button"] = "delete_button"
    button_id: UUID


class PreviewButton(NotifierCall[ButtonRequest]):
    """The request a button would make for these values (ingest resolves them with policy)."""

    permission = Permission.READ_BUTTONS
    kind: Literal["preview_button"] = "preview_button"
    button_id: UUID
    variables: TemplateVariables


class ListFirings(NotifierCall[Page[FiringPublic]]):
    """A button's firings, newest first."""

    permission = Permission.READ_BUTTONS
    kind: Literal["list_firings"] = "list_firings"
    button_id: UUID
    limit: int = Field(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)
    before: UUID | None = None


NotifierRequest = Annotated[
    CreateChannel
    | ListChannels
    | GetChannel
    | UpdateChannel
    | DeleteChannel
    | TestChannel
    | ListDeliveries
    | CreateButton
    | ListButtons
    | GetButton
    | UpdateButton
    | DeleteButton
    | PreviewButton
    | ListFirings,
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
