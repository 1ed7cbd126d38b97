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


# Line breaks a text protocol, a log line or a header would split on, besides C0 and DEL.
_LINE_BREAKS = frozenset("\x85\u2028\u2029")


def single_line(value: str) -> str:
    """Refuse control characters (CR and LF among them): a name, a version, a SHA or a URL is
    one line, and one carrying CR/LF could forge log lines or headers where it is echoed."""
    for char in value:
        if char < " " or char == "\x7f" or char in _LINE_BREAKS:
            if char == "\x00":
                raise ValueError("must not contain NUL characters")
            raise ValueError("must be a single line without control characters")
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
    str,
    Field(min_length=1, max_length=255),
    AfterValidator(single_line),
    AfterValidator(_not_blank),
]
ShortText = (
    Annotated[
        str, BeforeValidator(_stringify_number), Field(max_length=255), AfterValidator(single_line)
    ]
    | None
)
Url = Annotated[str, Field(max_length=4096), AfterValidator(single_line)] | None
LongText = Annotated[str, Field(max_length=10_000), AfterValidator(printable)] | None

# Compact UTF-8 JSON of `extra_metadata` may not exceed this (API.md: 100 KB).
MAX_METADATA_BYTES = 102_400
