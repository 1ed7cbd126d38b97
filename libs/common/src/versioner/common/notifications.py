"""Notification channels and their delivery log, as the API shows them (API.md "Notifications")."""

from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from versioner.common.types import NOT_BLANK_PATTERN, STRIPPED, Name, UtcDatetime

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


# `canonical_events` checks the names; the schema lists them.
EventName = Annotated[
    str, Field(json_schema_extra={"enum": [*EVENT_NAMES, *EVENT_ALIASES], "type": "string"})
]
EventNames = Annotated[
    list[EventName],
    Field(min_length=1, max_length=len(EVENT_NAMES) + 1),
    AfterValidator(canonical_events),
]


# An absolute http(s) URL with a plain host name, padded or not: what the notifier's check
# accepts (it also takes other URLs that `urlsplit` reads with a host, as IDNs and IPv6).
_LABEL = "[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
HTTP_URL_PATTERN = (
    f"^{STRIPPED}*[Hh][Tt][Tt][Pp][Ss]?://{_LABEL}(?:\\.{_LABEL})*(?::[0-9]{{1,5}})?"
    f"(?:[/?#][!-~]*)?{STRIPPED}*$"
)
_VALUE = {"type": "string", "maxLength": 2048, "pattern": NOT_BLANK_PATTERN}
_URL = {"type": "string", "maxLength": 2048, "pattern": HTTP_URL_PATTERN}
_ABSENT = {"type": "null"}
# Per kind, what the notifier takes as a channel's `config` (values are trimmed; a null value
# counts as left out): Slack posts with a bot token to a channel, or to an incoming webhook.
CHANNEL_CONFIGS: dict[str, dict[str, Any]] = {
    "slack": {
        "oneOf": [
            {
                "type": "object",
                "additionalProperties": False,
                "required": ["bot_token", "channel"],
                "properties": {
                    "bot_token": {**_VALUE, "pattern": f"^{STRIPPED}*xox"},
                    "channel": _VALUE,
                    "webhook_url": _ABSENT,
                },
            },
            {
                "type": "object",
                "additionalProperties": False,
                "required": ["webhook_url"],
                "properties": {"webhook_url": _URL, "bot_token": _ABSENT, "channel": _ABSENT},
            },
        ]
    },
    "webhook": {
        "type": "object",
        "additionalProperties": False,
        "required": ["url"],
        "properties": {"url": _URL, "secret": {"anyOf": [_VALUE, _ABSENT]}},
    },
}
# A change: keys of the channel's kind, each a new value or null to remove it; the result
# must be a whole configuration of that kind.
CHANNEL_CONFIG_PATCH: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        key: {"anyOf": [_URL if key in ("url", "webhook_url") else _VALUE, _ABSENT]}
        for key in ("bot_token", "channel", "webhook_url", "url", "secret")
    },
}


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
        """The channel as the API shows it (`ChannelView`)."""
        fields = self.model_dump(exclude={"kind", "channel_kind"})
        return ChannelView(**fields, kind=self.channel_kind).model_dump(mode="json")


class ChannelView(BaseModel):
    """A notification channel as the HTTP API shows it (and its OpenAPI describes it): the
    channel's kind is `kind`."""

    model_config = ConfigDict(extra="forbid")

    id: UUID
    name: str
    kind: ChannelKind
    config: dict[str, Any]
    events: list[str]
    filters: ChannelFilters
    enabled: bool
    created_by: str
    created_at: UtcDatetime
    updated_at: UtcDatetime


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
    return f"••••{secret[-4:]}"


ButtonKind = Literal["link", "webhook"]
HttpMethod = Literal["GET", "POST", "PUT", "PATCH"]


class ButtonPublic(BaseModel):
    """A deployment button: a link to open, or a webhook the notifier fires (API.md).

    `kind` tags the message; the API shows `button_kind` as `kind` (see `api_view`).
    """

    kind: Literal["deployment_button"] = "deployment_button"
    id: UUID
    product: str
    product_id: UUID
    environments: list[str]
    label: str
    button_kind: ButtonKind
    url_template: str
    method: HttpMethod
    body_template: str | None = None
    secret: str | None = None
    created_by: str
    created_at: UtcDatetime
    updated_at: UtcDatetime

    def api_view(self) -> dict[str, Any]:
        """The button as the API shows it (`ButtonView`)."""
        fields = self.model_dump(exclude={"kind", "button_kind"})
        return ButtonView(**fields, kind=self.button_kind).model_dump(mode="json")


class ButtonView(BaseModel):
    """A deployment button as the HTTP API shows it (and its OpenAPI describes it): the
    button's kind is `kind`."""

    model_config = ConfigDict(extra="forbid")

    id: UUID
    product: str
    product_id: UUID
    environments: list[str]
    label: str
    kind: ButtonKind
    url_template: str
    method: HttpMethod
    body_template: str | None = None
    secret: str | None = None
    created_by: str
    created_at: UtcDatetime
    updated_at: UtcDatetime


class ButtonRequest(BaseModel):
    """A button's request, rendered for one version and environment (`POST …/preview`)."""

    kind: Literal["button_request"] = "button_request"
    method: HttpMethod
    url: str
    body: str | None = None
    content_type: str | None = None


FiringStatus = Literal["firing", "succeeded", "failed"]


class FiringPublic(BaseModel):
    """One firing of a webhook button: at most one call, its outcome."""

    kind: Literal["firing"] = "firing"
    id: UUID
    button_id: UUID
    product: str
    version: str
    environment: str
    status: FiringStatus
    status_code: int | None = None
    error: str | None = None
    fired_by: str
    created_at: UtcDatetime
    finished_at: UtcDatetime | None = None


class FireAccepted(BaseModel):
    """`POST /deployment-buttons/{id}/fire`: the firing was handed to the notifier."""

    kind: Literal["fire_accepted"] = "fire_accepted"
    firing_id: UUID


class TemplateVariables(BaseModel):
    """The `{vi_*}` values of one version in one environment, as policy knows them."""

    kind: Literal["template_variables"] = "template_variables"
    version: str
    product_name: str
    product_id: UUID
    environment_name: str
    environment_id: UUID | None = None
    sha: str | None = None
    build_number: str | None = None
