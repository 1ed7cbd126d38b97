"""Field types shared by every message and HTTP body."""

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, BeforeValidator, Field, WithJsonSchema


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

# What the validators below accept, as JSON Schema patterns: the OpenAPI document says what
# is refused (and a client or a fuzzer can send what is accepted). A character of one line;
# one that is not blank either (what `str.strip` removes, less what a line cannot hold).
_LINE_CHAR = r"[^\x00-\x1f\x7f\x85\u2028\u2029]"
_VISIBLE_CHAR = r"[^\x00-\x20\x7f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
# What `str.strip` removes (tests/common/test_status_pattern.py checks it against every code point).
STRIPPED = r"[\t\n\x0b\x0c\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
# Somewhere a character `str.strip` keeps (a JSON Schema pattern matches anywhere).
NOT_BLANK_PATTERN = "[^" + STRIPPED[1:]
SINGLE_LINE_PATTERN = f"^{_LINE_CHAR}*$"
NAME_PATTERN = f"^{_LINE_CHAR}*{_VISIBLE_CHAR}{_LINE_CHAR}*$"
NO_NUL_PATTERN = r"^[^\x00]*$"


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


# An ISO 8601 date, maybe with a time: what a client means by a time, never a Unix one.
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def iso8601(value: Any) -> Any:
    """Refuse what is not ISO 8601 text before pydantic reads it: pydantic also takes a number
    or a numeric string as a Unix time, which no client here means."""
    if isinstance(value, datetime) or (isinstance(value, str) and _ISO_DATE.match(value)):
        return value
    raise ValueError("must be an ISO 8601 time, as 2026-01-02T17:00:00Z or 2026-01-02")


def email_address(value: str) -> str:
    """The address normalised, if its syntax is valid (pydantic's `EmailStr`, less its refusal
    of special-use domains: `ops@corp.local` is a fine address on a self-hosted install, and
    JSON Schema's `email` format takes it)."""
    try:
        found = validate_email(value, check_deliverability=False, globally_deliverable=False)
    except EmailNotValidError as exc:
        raise ValueError(f"value is not a valid email address: {exc}") from None
    return found.normalized


def utcnow() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)


def _stringify_number(value: Any) -> Any:
    # CI systems send build numbers as JSON numbers as often as strings.
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


UtcDatetime = Annotated[datetime, AfterValidator(as_utc)]
# A time a client sends (`since=`, an event's `completed_at`): ISO 8601; naive is UTC.
Instant = Annotated[
    datetime,
    BeforeValidator(iso8601),
    AfterValidator(as_utc),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "format": "date-time"},
                {"type": "string", "format": "date"},
            ],
            "description": "An ISO 8601 time (or date); without an offset, UTC",
        }
    ),
]
Name = Annotated[
    str,
    Field(min_length=1, max_length=255, json_schema_extra={"pattern": NAME_PATTERN}),
    AfterValidator(single_line),
    AfterValidator(_not_blank),
]
Email = Annotated[
    str, Field(max_length=254, json_schema_extra={"format": "email"}), AfterValidator(email_address)
]
ShortText = (
    Annotated[
        str,
        # A number is taken as its text; `maxLength` and `pattern` apply to strings only.
        BeforeValidator(_stringify_number, json_schema_input_type=str | float),
        Field(max_length=255, json_schema_extra={"pattern": SINGLE_LINE_PATTERN}),
        AfterValidator(single_line),
    ]
    | None
)
Url = (
    Annotated[
        str,
        Field(max_length=4096, json_schema_extra={"pattern": SINGLE_LINE_PATTERN}),
        AfterValidator(single_line),
    ]
    | None
)
LongText = (
    Annotated[
        str,
        Field(max_length=10_000, json_schema_extra={"pattern": NO_NUL_PATTERN}),
        AfterValidator(printable),
    ]
    | None
)

# Compact UTF-8 JSON of `extra_metadata` may not exceed this (API.md: 100 KB).
MAX_METADATA_BYTES = 102_400
