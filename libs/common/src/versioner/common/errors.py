"""Error bodies: what a refused request answers, over RPC and then over HTTP.

A refusal travels as a returned `Failure`, never as an exception:
docs/adr/0003-failures-returned-not-raised.md.
"""

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from versioner.common.types import UtcDatetime

UNAUTHENTICATED = "Invalid authentication credentials"
FORBIDDEN = "You do not have permission to perform this action"
NOT_FOUND = "Not found"
INVALID_JSON = "Invalid JSON in request body"


class Violation(BaseModel):
    """One reason a deployment may not start now, and what to do about it."""

    code: str
    rule_name: str
    rule_type: Literal[
        "schedule",
        "dr_required",
        "flow",
        "version_approval",
        "deployment_request",
        "concurrency",
        "version",
    ]
    message: str
    retry_after: UtcDatetime | None = None
    details: dict[str, Any] = Field(default_factory=dict)


class ErrorDetail(BaseModel):
    """The structured `detail` of a 409, 428 or 503 (the shape Versioner's clients parse)."""

    error: str
    code: str
    message: str
    retry_after: UtcDatetime | None = None
    # Left out of the body where there is nothing to detail (the 503).
    details: dict[str, Any] = Field(default_factory=dict)


class ErrorBody(BaseModel):
    """An HTTP error body: `detail` as FastAPI writes it, plus Versioner's top-level `message`."""

    detail: str | ErrorDetail | list[dict[str, Any]]
    message: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The body as sent: `message` only where it has one."""
        body = self.model_dump(mode="json")
        if self.message is None:
            del body["message"]
        if isinstance(body["detail"], dict) and not body["detail"].get("details"):
            del body["detail"]["details"]
        return body


class Failure(BaseModel):
    """A request refused or failed: the HTTP status and body ingest should answer with."""

    kind: Literal["failure"] = "failure"
    status_code: int
    body: ErrorBody
    retry_after_seconds: int | None = None

    @classmethod
    def of(cls, status_code: int, detail: str) -> "Failure":
        """A plain `{"detail": "..."}` error."""
        return cls(status_code=status_code, body=ErrorBody(detail=detail))

    @classmethod
    def structured(
        cls,
        status_code: int,
        *,
        error: str,
        code: str,
        message: str,
        details: dict[str, Any] | None = None,
        retry_after: datetime | None = None,
        top_level_message: bool = False,
    ) -> "Failure":
        """A `{"detail": {error, code, message, retry_after, details}}` error."""
        detail = ErrorDetail(
            error=error, code=code, message=message, retry_after=retry_after, details=details or {}
        )
        return cls(
            status_code=status_code,
            body=ErrorBody(detail=detail, message=message if top_level_message else None),
        )


def not_found() -> Failure:
    """404 with Versioner's body."""
    return Failure.of(404, NOT_FOUND)


def forbidden() -> Failure:
    """403 with Versioner's body."""
    return Failure.of(403, FORBIDDEN)


def unauthenticated() -> Failure:
    """401 with Versioner's body."""
    return Failure.of(401, UNAUTHENTICATED)


def conflict(message: str) -> Failure:
    """409 with a plain message."""
    return Failure.of(409, message)


def unprocessable(field: str, message: str, where: str = "body") -> Failure:
    """422 in FastAPI's list form, naming the body field (`config.rrule`: a nested one), or a
    `path` or `query` parameter."""
    loc = [where, *field.split(".")]
    return Failure(
        status_code=422,
        body=ErrorBody(detail=[{"loc": loc, "msg": message, "type": "value_error"}]),
    )


def policy_unavailable() -> Failure:
    """503: policy gave no answer in time; the gate fails closed."""
    failure = Failure.structured(
        503,
        error="policy_unavailable",
        code="POLICY_UNAVAILABLE",
        message="The policy service did not answer in time; nothing was decided. Retry shortly.",
    )
    failure.retry_after_seconds = 5
    return failure


def notifier_unavailable() -> Failure:
    """503: the notifier gave no answer in time; nothing was changed."""
    failure = Failure.structured(
        503,
        error="notifier_unavailable",
        code="NOTIFIER_UNAVAILABLE",
        message="The notifier did not answer in time; nothing was changed. Retry shortly.",
    )
    failure.retry_after_seconds = 5
    return failure
