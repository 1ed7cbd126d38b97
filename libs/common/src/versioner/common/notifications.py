"""Notification channels and their delivery log, as the API shows them (API.md "Notifications")."""

from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import AfterValidator, BaseModel, Field

from versioner.common.types import Name, UtcDatetime

ChannelKind = Literal["slack", "webhook"]

# Every event a channel may subscribe to (API.md), in the order the docs list them.
EVENT_NAMES: tuple[str, ...] = (
    "build.pending",
    "build.started",
    "build.completed",
    "build.failed",
    "build.aborted",
    "deployment.pending",
    "deployment.started",
    "deployment.completed",
    "deployment.failed",
    "deployment.aborted",
    "deployment.preflight_failed",
    "deployment.overridden",
    "deployment.gate_skipped",
    "dr.created",
    "dr.activated",
    "dr.deactivated",
    "dr.approved",
    "dr.rejected",
    "dr.completed",
    "dr.cancelled",
    "version.approved",
)
EVENT_ALIASES = {"deployment.blocked": "deployment.preflight_failed"}


def canonical_events(names: list[str]) -> list[str]:
    """Subscriptions in their canonical spelling, deduplicated, in the order given."""
    unknown = [n for n in names if n not in EVENT_NAMES and n not in EVENT_ALIASES]
    if unknown:
        raise ValueError(
            f"unknown event {', '.join(repr(n) for n in unknown)}; "
            f"expected one of {', '.join(EVENT_NAMES)}"
        )
    return list(dict.fromkeys(EVENT_ALIASES.get(n, n) for n in names))


EventNames = Annotated[
    list[str],
    Field(min_length=1, max_length=len(EVENT_NAMES) + 1),
    AfterValidator(canonical_events),
]


class ChannelFilters(BaseModel):
    """Which products and environments a channel hears about; empty means all.

    Names, compared exactly; names not seen yet are allowed.
    """

    products: list[Name] = Field(default_factory=list, max_length=500)
    environments: list[Name] = Field(default_factory=list, max_length=500)

    def match(self, products: list[str], environments: list[str]) -> bool:
        """Whether an event about these products and environments passes: each filter that
        is set must share a name with the event. An event about no environment (a build, a
        version approval given anywhere) passes environment filters."""
        if self.products and not set(products) & set(self.products):
            return False
        return not (
            self.environments and environments and not set(environments) & set(self.environments)
        )


class ChannelPublic(BaseModel):
    """A channel; secrets show only as `••••` and their last four characters.

    `kind` tags the message; the API shows `channel_kind` as `kind` (see `api_view`).
    """

    kind: Literal["notification_channel"] = "notification_channel"
    id: UUID
    name: str
    channel_kind: ChannelKind
    config: dict[str, Any]
    events: list[str]
    filters: ChannelFilters
    enabled: bool
    created_by: str
    created_at: UtcDatetime
    updated_at: UtcDatetime

    def api_view(self) -> dict[str, Any]:
        """The channel as the API shows it: `{id, name, kind, config, events, filters, …}`."""
        body = self.model_dump(mode="json", exclude={"kind", "channel_kind"})
        return {"id": body.pop("id"), "name": body.pop("name"), "kind": self.channel_kind, **body}


DeliveryStatus = Literal["sending", "sent", "failed"]


class DeliveryPublic(BaseModel):
    """One notification to one channel: `sending` before the call, then `sent` or `failed`."""

    id: UUID
    channel_id: UUID
    event_id: UUID
    event_type: str
    status: DeliveryStatus
    attempts: int
    status_code: int | None = None
    error: str | None = None
    created_at: UtcDatetime
    updated_at: UtcDatetime
    sent_at: UtcDatetime | None = None


class ChannelTested(BaseModel):
    """What `POST /notification-channels/{id}/test` sent and how it went."""

    kind: Literal["channel_tested"] = "channel_tested"
    ok: bool
    delivery: DeliveryPublic


def mask(secret: str) -> str:
    """A write-only secret as responses show it."""
    return f"••••{secret[-4:]}" if len(secret) > 8 else "••••"
