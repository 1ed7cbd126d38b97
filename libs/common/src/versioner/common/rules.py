"""Deployment Rules: what each rule type is configured with (API.md, "Policy configuration")."""

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from versioner.common.roles import ApprovalType
from versioner.common.types import Name, UtcDatetime

RuleType = Literal["schedule", "dr_required", "flow", "version_approval"]
RuleMode = Literal["enabled", "report_only", "disabled"]


def _zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {name!r} (an IANA name such as Europe/Berlin)"
        ) from None
    return name


def _naive(value: datetime) -> datetime:
    # Window times are wall-clock times in the rule's time zone, never instants.
    if value.tzinfo is not None:
        raise ValueError("give a local time without an offset; the rule's timezone applies")
    return value


TimeZoneName = Annotated[str, AfterValidator(_zone)]
LocalTime = Annotated[datetime, AfterValidator(_naive)]


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


class ScheduleConfig(_Config):
    """Deny (or only allow) deployments in one-time windows and/or a recurring window.

    A recurrence is an RFC 5545 RRULE with `dtstart` (local; default the rule's creation day at
    00:00) and `duration_minutes` of elapsed time.
    """

    kind: Literal["deny", "allow"] = "deny"
    timezone: TimeZoneName = "UTC"
    reason: str | None = Field(default=None, max_length=1000)
    windows: list[Window] = Field(default_factory=list, max_length=500)
    rrule: str | None = Field(default=None, max_length=1000)
    dtstart: LocalTime | None = None
    duration_minutes: float | None = Field(default=None, gt=0, le=366 * 24 * 60)

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
    strict_order: bool = True
    min_soak_minutes: float = Field(default=0, ge=0, le=366 * 24 * 60)

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
