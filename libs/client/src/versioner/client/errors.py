"""Errors raised by the HTTP client, with the policy block parsed out of 409/423/428 bodies."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

BLOCK_STATUSES = frozenset({409, 423, 428})


class VersionerError(Exception):
    """Base class of everything the client raises."""


class NetworkError(VersionerError):
    """The API could not be reached, even after every retry."""


@dataclass(frozen=True)
class Violation:
    """One reason a deployment was blocked."""

    code: str
    message: str
    rule_name: str | None = None
    rule_type: str | None = None
    retry_after: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Block:
    """A policy refusal: the first violation's summary plus every violation."""

    code: str
    message: str
    retry_after: str | None
    rule_name: str | None
    violations: list[Violation]
    details: dict[str, Any]
    error: str | None = None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _object(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def parse_violation(raw: object) -> Violation | None:
    """Read one entry of `detail.details.violations`."""
    entry = _object(raw)
    code = _text(entry.get("code"))
    if code is None:
        return None
    return Violation(
        code=code,
        message=_text(entry.get("message")) or "",
        rule_name=_text(entry.get("rule_name")),
        rule_type=_text(entry.get("rule_type")),
        retry_after=_text(entry.get("retry_after")),
        details=_object(entry.get("details")),
    )


def parse_block(detail: object) -> Block | None:
    """Read a structured `detail` object; None when it is a plain string or list."""
    data = _object(detail)
    code = _text(data.get("code"))
    if code is None:
        return None
    details = _object(data.get("details"))
    message = _text(data.get("message")) or ""
    retry_after = _text(data.get("retry_after"))
    rule_name = _text(details.get("rule_name"))
    raw = details.get("violations")
    parsed = [parse_violation(r) for r in raw] if isinstance(raw, list) else []
    violations = [v for v in parsed if v is not None]
    if not violations:
        # Versioner's own server sends a single rejection without a list.
        rest = {k: v for k, v in details.items() if k not in ("rule_name", "violations")}
        violations = [Violation(code, message, rule_name, None, retry_after, rest)]
    return Block(
        code=code,
        message=message,
        retry_after=retry_after,
        rule_name=rule_name,
        violations=violations,
        details=details,
        error=_text(data.get("error")),
    )


def _describe_validation(items: list[Any]) -> str:
    parts = []
    for item in items:
        entry = _object(item)
        loc = entry.get("loc")
        where = ".".join(str(p) for p in loc) if isinstance(loc, list) else ""
        msg = str(entry.get("msg", item))
        parts.append(f"{where}: {msg}" if where else msg)
    return "; ".join(parts) or "validation error"


class ApiError(VersionerError):
    """A non-2xx answer (after retries, for 5xx and 429)."""

    def __init__(self, status: int, body: object, headers: dict[str, str] | None = None) -> None:
        self.status_code = status
        self.body = body
        self.headers = headers or {}
        super().__init__(f"HTTP {status}: {self.message}")

    @property
    def detail(self) -> object:
        """The body's `detail` field (string, validation list or object), else the body."""
        if isinstance(self.body, dict) and "detail" in self.body:
            return self.body["detail"]
        return self.body

    @cached_property
    def block(self) -> Block | None:
        """The parsed policy refusal, when the body carries a structured one."""
        return parse_block(self.detail)

    @property
    def retryable(self) -> bool:
        """True for answers the client retries: 429 and 5xx."""
        return self.status_code == 429 or self.status_code >= 500

    @property
    def message(self) -> str:
        """A one-line human reading of the body."""
        if isinstance(self.body, dict) and isinstance(self.body.get("message"), str):
            return str(self.body["message"])
        detail = self.detail
        if isinstance(detail, str):
            return detail or f"HTTP {self.status_code}"
        if isinstance(detail, list):
            return _describe_validation(detail)
        block = parse_block(detail)
        if block is not None:
            return block.message or block.code
        if isinstance(detail, dict) and isinstance(detail.get("message"), str):
            return str(detail["message"])
        return f"HTTP {self.status_code}" if detail in (None, "", {}) else str(detail)
