"""The notifier's tables: channels, Slack thread anchors, its delivery log (docs/architecture.md).

They live on a metadata of their own, apart from policy's: the two services may share a
PostgreSQL database, never a schema definition.
"""

from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import JSON, Column, DateTime, Index, UniqueConstraint
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import registry
from sqlalchemy.types import TypeDecorator
from sqlmodel import AutoString, Field, SQLModel

from versioner.common.notifications import ButtonKind, ChannelKind, HttpMethod
from versioner.common.types import utcnow


class Instant(TypeDecorator[datetime]):
    """A moment in UTC, read back aware on every engine (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """In UTC; naive for SQLite."""
        if value is None:
            return None
        aware = (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)
        return aware.replace(tzinfo=None) if dialect.name == "sqlite" else aware

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Aware, in UTC."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class NotifierModel(SQLModel, registry=registry()):
    """Base of the notifier's tables: their own metadata."""


def _json(factory: type[dict[str, Any]] | type[list[Any]]) -> Any:
    return Field(default_factory=factory, sa_column=Column(JSON, nullable=False))


def _when(*, nullable: bool = False) -> Any:
    if nullable:
        return Field(default=None, sa_type=Instant, nullable=True)
    return Field(default_factory=utcnow, sa_type=Instant, nullable=False)


class Channel(NotifierModel, table=True):
    """Where notifications go: a Slack channel or webhook URL, or an outbound webhook.

    `config` holds what may be shown; `sealed` the secrets, encrypted (crypto.Sealer).
    """

    __tablename__ = "notification_channels"
    id: UUID = Field(default_factory=uuid4, primary_key=True)
    name: str = Field(max_length=255, unique=True)
    # Typed by its Literal, stored as the VARCHAR it always was (no database enum).
    kind: ChannelKind = Field(sa_type=AutoString(16))
    config: dict[str, Any] = _json(dict)
    sealed: str = Field(default="")
    events: list[str] = _json(list)
    filter_products: list[str] = _json(list)
    filter_environments: list[str] = _json(list)
    enabled: bool = True
    created_by: str = Field(max_length=255)
    created_at: datetime = _when()
    updated_at: datetime = _when()


class Delivery(NotifierModel, table=True):
    """One notification to one channel; its id is the `X-Versioner-Delivery` header.

    Recorded `sending` before each call and `sent` or `failed` after, so a redelivered event
    re-sends only what did not finish, under the same id.
    """

    __tablename__ = "notification_deliveries"
    __table_args__ = (
        UniqueConstraint("channel_id", "event_id", "event_type", name="uq_delivery_event"),
        Index("ix_deliveries_channel_seq", "channel_id", "seq"),
    )
    seq: int | None = Field(default=None, primary_key=True)
    id: UUID = Field(default_factory=uuid4, unique=True)
    channel_id: UUID = Field(foreign_key="notification_channels.id", ondelete="CASCADE")
    event_id: UUID
    event_type: str = Field(max_length=64)
    status: str = Field(max_length=16)
    attempts: int = 0
    status_code: int | None = None
    error: str | None = Field(default=None, max_length=2000)
    created_at: datetime = _when()
    updated_at: datetime = _when()
    sent_at: datetime | None = _when(nullable=True)


class SlackThread(NotifierModel, table=True):
    """The first message about a version in a Slack channel: later ones go in its thread."""

    __tablename__ = "slack_threads"
    __table_args__ = (
        UniqueConstraint("channel_id", "product_id", "version", name="uq_slack_thread"),
    )
    id: UUID = Field(default_factory=uuid4, primary_key=True)
    channel_id: UUID = Field(foreign_key="notification_channels.id", ondelete="CASCADE")
    product_id: UUID
    version: str = Field(max_length=255)
    slack_channel: str = Field(max_length=64)
    ts: str = Field(max_length=32)
    created_at: datetime = _when()


class Button(NotifierModel, table=True):
    """A deployment button of one product: a link to open, or a webhook to fire.

    The product by id (it keeps its buttons through renames; `product` is the name it had
    when last seen); environments by name. `sealed` holds the webhook's secret, if any.
    """

    __tablename__ = "deployment_buttons"
    id: UUID = Field(default_factory=uuid4, primary_key=True)
    product_id: UUID = Field(index=True)
    product: str = Field(max_length=255)
    label: str = Field(max_length=75)
    kind: ButtonKind = Field(sa_type=AutoString(16))
    url_template: str = Field(max_length=2048)
    method: HttpMethod = Field(sa_type=AutoString(8))
    body_template: str | None = None
    secret_hint: str | None = Field(default=None, max_length=16)
    sealed: str = Field(default="")
    created_by: str = Field(max_length=255)
    created_at: datetime = _when()
    updated_at: datetime = _when()


class ButtonEnvironment(NotifierModel, table=True):
    """Which button a product shows in an environment: at most one (the key says so)."""

    __tablename__ = "deployment_button_environments"
    product_id: UUID = Field(primary_key=True)
    environment: str = Field(primary_key=True, max_length=255)
    button_id: UUID = Field(foreign_key="deployment_buttons.id", ondelete="CASCADE", index=True)
    position: int = 0


class Firing(NotifierModel, table=True):
    """One firing of a webhook button: recorded `firing` before the call, so it is made at
    most once; `succeeded` or `failed` after."""

    __tablename__ = "button_firings"
    __table_args__ = (Index("ix_firings_button_seq", "button_id", "seq"),)
    seq: int | None = Field(default=None, primary_key=True)
    id: UUID = Field(unique=True)
    button_id: UUID
    product: str = Field(max_length=255)
    version: str = Field(max_length=255)
    environment: str = Field(max_length=255)
    status: str = Field(max_length=16)
    status_code: int | None = None
    error: str | None = Field(default=None, max_length=2000)
    fired_by: str = Field(max_length=300)
    created_at: datetime = _when()
    finished_at: datetime | None = _when(nullable=True)
