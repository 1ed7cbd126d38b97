"""Field types shared by every message and HTTP body."""

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field


def as_utc(value: datetime) -> datetime:
    """Read a naive time as UTC and convert an aware one to UTC, so it serialises with `Z`."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("the time is out of range once moved to UTC") from None


def printable(value: str) -> str:
    """Refuse NUL characters (PostgreSQL cannot store them in text)."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


def utcnow() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)


def _stringify_number(value: Any) -> Any:
    # CI systems send build numbers as JSON numbers as often as strings.
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


UtcDatetime = Annotated[datetime, AfterValidator(as_utc)]
Name = Annotated[
    str, Field(min_length=1, max_length=255), AfterValidator(printable), AfterValidator(_not_blank)
]
ShortText = (
    Annotated[
        str, BeforeValidator(_stringify_number), Field(max_length=255), AfterValidator(printable)
    ]
    | None
)
Url = Annotated[str, Field(max_length=4096), AfterValidator(printable)] | None
LongText = Annotated[str, Field(max_length=10_000), AfterValidator(printable)] | None

# Compact UTF-8 JSON of `extra_metadata` may not exceed this (API.md: 100 KB).
MAX_METADATA_BYTES = 102_400
