"""The violations log and the audit log."""

from typing import Literal

from pydantic import Field

from versioner.common.governance import (
    AuditEntryPublic,
    ViolationPublic,
)
from versioner.common.messages.management.base import DEFAULT_LIMIT, MAX_LIMIT, ManagementCall
from versioner.common.resources import (
    Page,
)
from versioner.common.roles import Permission
from versioner.common.types import UtcDatetime


class ListViolations(ManagementCall[Page[ViolationPublic]]):
    """The violations log, newest first."""

    kind: Literal["list_violations"] = "list_violations"
    rule: str | None = None
    product: str | None = None
    environment: str | None = None
    since: UtcDatetime | None = None
    outcome: Literal["blocked", "reported", "overridden"] | None = None
    limit: int = Field(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)
    before: int | None = None


class ListAudit(ManagementCall[Page[AuditEntryPublic]]):
    """The audit log, newest first."""

    permission = Permission.READ_AUDIT
    kind: Literal["list_audit"] = "list_audit"
    since: UtcDatetime | None = None
    action: str | None = Field(default=None, max_length=64)
    # `?actor=` over HTTP; `actor` here is the caller, as on every request.
    by: str | None = Field(default=None, max_length=300)
    limit: int = Field(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)
    before: int | None = None
