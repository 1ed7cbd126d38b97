"""Deployment Rules: what each rule type is configured with (API.md, "Policy configuration")."""

import re
from datetime import datetime
from functools import cache
from typing import Annotated, Any, Literal
from uuid import UUID
from zoneinfo import available_timezones

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    StrictBool,
    WithJsonSchema,
    model_validator,
)
from pydantic.config import JsonDict

from versioner.common.roles import ApprovalType
from versioner.common.types import Name, UtcDatetime

RuleType = Literal["schedule", "dr_required", "flow", "version_approval"]
RuleMode = Literal["enabled", "report_only", "disabled"]


@cache
def time_zones() -> list[str]:
    """The IANA time zone names this installation knows, sorted."""
    return sorted(available_timezones())


def _zone(name: str) -> str:
    if name not in time_zones():
        raise ValueError(f"unknown time zone {name!r} (an IANA name such as Europe/Berlin)")
    return name


# A wall-clock time: a date and a time of day, no offset (the rule's timezone applies). The
# calendar decides the rest (no 30 February): pydantic reads what the pattern lets through.
LOCAL_TIME_PATTERN = (
    r"^(?:000[1-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-9][0-9]{3})-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"
    r"[T ](?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9](?:\.[0-9]{1,6})?)?$"
)
_LOCAL_TIME = re.compile(LOCAL_TIME_PATTERN)


def _local_text(value: Any) -> Any:
    # Window times are wall-clock times in the rule's time zone, never instants.
    if isinstance(value, datetime):
        return _naive(value)
    if not isinstance(value, str) or not _LOCAL_TIME.match(value):
        raise ValueError(
            "give a local time without an offset, as 2026-12-23T00:00; the rule's timezone applies"
        )
    return value


def _naive(value: datetime) -> datetime:
    if value.tzinfo is not None:
        raise ValueError("give a local time without an offset; the rule's timezone applies")
    return value


def _zones_listed(schema: dict[str, Any]) -> None:
    schema["enum"] = time_zones()


# A number of minutes, fractions allowed; JSON's number only (not true, not "5").
Minutes = Annotated[float, Strict()]
TimeZoneName = Annotated[str, Field(json_schema_extra=_zones_listed), AfterValidator(_zone)]
LocalTime = Annotated[
    datetime,
    BeforeValidator(_local_text),
    AfterValidator(_naive),
    WithJsonSchema({"type": "string", "pattern": LOCAL_TIME_PATTERN}),
]


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Window(_Config):
    """A one-time window, in local times of the rule's time zone."""

    start: LocalTime
    end: LocalTime

    @model_validator(mode="after")
    def _ordered(self) -> "Window":
        if self.end <= self.start:
            raise ValueError("a window must end after it starts")
        return self


# `_some_window` below, as JSON Schema: an rrule that is set (a window needs one or the other).
_RRULE_SET: JsonDict = {
    "required": ["rrule"],
    "properties": {"rrule": {"type": "string", "minLength": 1}},
}
_SCHEDULE_RULES: JsonDict = {
    "anyOf": [
        {"required": ["windows"], "properties": {"windows": {"minItems": 1}}},
        _RRULE_SET,
    ],
    "if": _RRULE_SET,
    "then": {
        "required": ["duration_minutes"],
        "properties": {"duration_minutes": {"type": "number"}},
    },
    "else": {"properties": {"dtstart": {"type": "null"}, "duration_minutes": {"type": "null"}}},
}


class ScheduleConfig(_Config):
    """Deny (or only allow) deployments in one-time windows and/or a recurring window.

    A recurrence is an RFC 5545 RRULE with `dtstart` (local; default the rule's creation day at
    00:00) and `duration_minutes` of elapsed time.
    """

    model_config = ConfigDict(extra="forbid", json_schema_extra=_SCHEDULE_RULES)

    kind: Literal["deny", "allow"] = "deny"
    timezone: TimeZoneName = "UTC"
    reason: str | None = Field(default=None, max_length=1000)
    windows: list[Window] = Field(default_factory=list, max_length=500)
    rrule: str | None = Field(default=None, max_length=1000)
    dtstart: LocalTime | None = None
    duration_minutes: Minutes | None = Field(default=None, gt=0, le=366 * 24 * 60)

    @model_validator(mode="after")
    def _some_window(self) -> "ScheduleConfig":
        if not self.windows and not self.rrule:
            raise ValueError("give one-time `windows`, an `rrule`, or both")
        if self.rrule and self.duration_minutes is None:
            raise ValueError("an `rrule` needs `duration_minutes`")
        if not self.rrule and (self.dtstart is not None or self.duration_minutes is not None):
            raise ValueError("`dtstart` and `duration_minutes` go with an `rrule`")
        return self


class DrRequiredConfig(_Config):
    """A Deployment Request in progress or approved, with these approval types, must cover it."""

    approval_types: list[ApprovalType] = Field(min_length=1)


class FlowConfig(_Config):
    """The version must have completed in the prerequisites first, and soaked in them."""

    prerequisites: list[Name] = Field(min_length=1, max_length=20)
    target: Name
    strict_order: StrictBool = True
    min_soak_minutes: Minutes = Field(default=0, ge=0, le=366 * 24 * 60)

    @model_validator(mode="after")
    def _target_not_a_prerequisite(self) -> "FlowConfig":
        if self.target in self.prerequisites:
            raise ValueError("the target cannot be its own prerequisite")
        return self


class VersionApprovalConfig(_Config):
    """The version needs these sign-offs (given in `environment`, or anywhere when null)."""

    approval_types: list[ApprovalType] = Field(min_length=1)
    environment: Name | None = None


RuleConfig = ScheduleConfig | DrRequiredConfig | FlowConfig | VersionApprovalConfig
CONFIGS: dict[str, type[BaseModel]] = {
    "schedule": ScheduleConfig,
    "dr_required": DrRequiredConfig,
    "flow": FlowConfig,
    "version_approval": VersionApprovalConfig,
}


def _inline(node: Any, defs: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        if "$ref" in node:
            return _inline(defs[node["$ref"].rsplit("/", 1)[-1]], defs)
        return {key: _inline(value, defs) for key, value in node.items()}
    if isinstance(node, list):
        return [_inline(item, defs) for item in node]
    return node


@cache
def config_schemas() -> dict[str, dict[str, Any]]:
    """Each rule type's configuration as one self-contained JSON Schema (no `$ref`), for the
    bodies that carry a `config`.

    What JSON Schema cannot state is checked all the same (422 naming `config`): a window
    ends after it starts, on a day the calendar has; an `rrule` is RFC 5545 and occurs; a
    flow's target is not one of its prerequisites.
    """
    found = {}
    for rule_type, model in CONFIGS.items():
        schema = model.model_json_schema()
        found[rule_type] = _inline(schema, schema.pop("$defs", {}))
    return found


def parse_config(rule_type: str, raw: Any) -> RuleConfig:
    """The configuration of a rule of this type (raises pydantic's ValidationError)."""
    config = CONFIGS[rule_type].model_validate(raw)
    assert isinstance(
        config, ScheduleConfig | DrRequiredConfig | FlowConfig | VersionApprovalConfig
    )
    return config


class RulePublic(BaseModel):
    """A Deployment Rule as the API shows it."""

    kind: Literal["rule"] = "rule"
    id: UUID
    name: str
    rule_type: RuleType
    mode: RuleMode
    products: list[str]
    environments: list[str]
    config: dict[str, Any]
    created_by: str | None = None
    created_at: UtcDatetime
    updated_at: UtcDatetime


class WindowPublic(BaseModel):
    """One window of a schedule rule, in UTC and in the rule's local time."""

    start: UtcDatetime
    end: UtcDatetime
    local_start: datetime
    local_end: datetime
    timezone: str


class WindowsPreview(BaseModel):
    """`GET /deployment-rules/{id}/windows`: the next windows of a schedule rule."""

    kind: Literal["windows"] = "windows"
    # None for a schedule previewed before it is saved.
    rule_id: UUID | None
    kind_of_windows: Literal["deny", "allow"]
    windows: list[WindowPublic]
