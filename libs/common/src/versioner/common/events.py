"""Bodies of the Versioner-compatible event endpoints, as clients send them."""

import json
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)

from versioner.common.status import (
    BUILD_ALIASES,
    DEPLOYMENT_ALIASES,
    Status,
    parse_status,
    status_pattern,
)
from versioner.common.types import (
    MAX_METADATA_BYTES,
    Instant,
    LongText,
    Name,
    ShortText,
    Url,
    printable,
)


def _status_in(aliases: dict[str, Status]) -> Callable[[Any], Status]:
    def parse(value: Any) -> Status:
        if not isinstance(value, str):
            raise ValueError("status must be a string")
        return parse_status(value, aliases)

    return parse


def _vocabulary(aliases: dict[str, Status]) -> WithJsonSchema:
    return WithJsonSchema(
        {
            "type": "string",
            "pattern": status_pattern(aliases),
            "description": f"One of {', '.join(sorted(aliases))}, in any case, padded or not",
        }
    )


BuildStatus = Annotated[
    Status, BeforeValidator(_status_in(BUILD_ALIASES)), _vocabulary(BUILD_ALIASES)
]
DeploymentStatus = Annotated[
    Status, BeforeValidator(_status_in(DEPLOYMENT_ALIASES)), _vocabulary(DEPLOYMENT_ALIASES)
]


def _check_metadata(value: dict[str, Any] | None) -> dict[str, Any] | None:
    if value is None:
        return None
    try:
        compact = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except ValueError:
        # JSON has no NaN or Infinity (Python's parser takes them): stored, they became null.
        raise ValueError("extra_metadata must not contain NaN or Infinity") from None
    size = len(compact.encode())
    if size > MAX_METADATA_BYTES:
        raise ValueError(f"extra_metadata is {size} bytes; at most {MAX_METADATA_BYTES} allowed")
    return value


class _EventIn(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=False)

    product_name: Name
    version: Name
    scm_sha: ShortText = None
    scm_repository: ShortText = None
    scm_branch: ShortText = None
    build_number: ShortText = None
    build_url: Url = None
    source_system: ShortText = None
    invoke_id: ShortText = None
    completed_at: Instant | None = None
    extra_metadata: dict[str, Any] | None = None

    _metadata = field_validator("extra_metadata")(_check_metadata)


class BuildEventIn(_EventIn):
    """`POST /build-events/`: a build started, finished or failed."""

    status: BuildStatus
    built_by: ShortText = None
    built_by_email: ShortText = None
    built_by_name: ShortText = None
    started_at: Instant | None = None
    error_message: LongText = None
    error_code: ShortText = None

    @field_validator("status", mode="before")
    @classmethod
    def _status(cls, value: Any) -> Status:
        if not isinstance(value, str):
            raise ValueError("status must be a string")
        return parse_status(value, BUILD_ALIASES)


class DeploymentEventIn(_EventIn):
    """`POST /deployment-events/`: a deployment asks to start, or reports how it went."""

    environment_name: Name
    status: DeploymentStatus
    deploy_url: Url = None
    deployed_by: ShortText = None
    deployed_by_email: ShortText = None
    deployed_by_name: ShortText = None
    override_reason: Annotated[str, Field(max_length=2000), AfterValidator(printable)] | None = None

    @field_validator("status", mode="before")
    @classmethod
    def _status(cls, value: Any) -> Status:
        if not isinstance(value, str):
            raise ValueError("status must be a string")
        return parse_status(value, DEPLOYMENT_ALIASES)

    @property
    def break_glass_reason(self) -> str | None:
        """The override reason, from the body or, as Versioner's clients send it, metadata."""
        if self.override_reason and self.override_reason.strip():
            return self.override_reason.strip()
        raw = (self.extra_metadata or {}).get("override_reason")
        if isinstance(raw, str) and raw.strip():
            return raw.strip()[:2000]
        return None


class IncidentEventIn(BaseModel):
    """`POST /incident-events/`: an incident opened or resolved, from a pager or by hand.

    Idempotent by `incident_id`: the same incident sent again updates the one record. A time
    left out is when the event was received (`opened_at` of an incident first seen resolved is
    its `resolved_at`).
    """

    model_config = ConfigDict(extra="ignore")

    product_name: Name
    environment_name: Name
    incident_id: Name
    status: Literal["opened", "resolved"]
    title: LongText = None
    url: Url = None
    opened_at: Instant | None = None
    resolved_at: Instant | None = None

    @field_validator("resolved_at")
    @classmethod
    def _times_agree(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        if value is None:
            return None
        if info.data.get("status") == "opened":
            raise ValueError("resolved_at is sent only with status resolved")
        opened_at = info.data.get("opened_at")
        if opened_at is not None and value < opened_at:
            raise ValueError("resolved_at must not be before opened_at")
        return value
