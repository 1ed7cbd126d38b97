"""Deployment Requests, version approvals, the violations and audit logs, as the API shows them."""

from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field, StrictBool

from versioner.common.roles import ApprovalType
from versioner.common.types import Name, UtcDatetime

RequestStatus = Literal["draft", "in_progress", "approved", "rejected", "completed", "cancelled"]
SlotStatus = Literal["pending", "approved", "rejected"]
# What came of a failed check: it blocked the start, was only reported, or was overridden.
ViolationOutcome = Literal["blocked", "reported", "overridden"]
# Open requests are checked on every deployment they cover (a rejected one blocks).
OPEN_STATUSES: tuple[RequestStatus, ...] = ("in_progress", "approved", "rejected")
ProgressStatus = Literal["deployed", "not_deployed", "failed", "in_progress"]


class RequestItemIn(BaseModel):
    """A product and version a request ships."""

    product: Name
    version: Name


class SlotIn(BaseModel):
    """An approval slot to fill; an optional one is advisory."""

    approval_type: ApprovalType
    optional: StrictBool = False


class RequestItemPublic(BaseModel):
    """A product and version of a request."""

    product: str
    version: str


class SlotPublic(BaseModel):
    """An approval slot and its decision."""

    id: UUID
    approval_type: ApprovalType
    optional: bool
    status: SlotStatus
    decided_by: str | None = None
    decided_role: str | None = None
    decided_at: UtcDatetime | None = None
    comment: str | None = None


class StepPublic(BaseModel):
    """A checklist step and who ticked it, when."""

    id: UUID
    text: str
    completed_by: str | None = None
    completed_at: UtcDatetime | None = None


class ProgressCell(BaseModel):
    """How far one item has gone in one environment."""

    product: str
    version: str
    environment: str
    status: ProgressStatus
    deployment_id: UUID | None = None


class DeploymentRequestPublic(BaseModel):
    """A Deployment Request."""

    kind: Literal["deployment_request"] = "deployment_request"
    id: UUID
    name: str
    description: str | None = None
    status: RequestStatus
    created_by: str
    created_by_id: UUID | None = None
    items: list[RequestItemPublic]
    environments: list[str]
    approval_slots: list[SlotPublic]
    pre_steps: list[StepPublic]
    post_steps: list[StepPublic]
    progress: list[ProgressCell] = Field(default_factory=list)
    created_at: UtcDatetime
    updated_at: UtcDatetime
    submitted_at: UtcDatetime | None = None
    closed_at: UtcDatetime | None = None


class VersionApprovalPublic(BaseModel):
    """A sign-off on a version."""

    kind: Literal["version_approval"] = "version_approval"
    id: UUID
    version_id: UUID
    product_name: str
    version: str
    approval_type: ApprovalType
    environment: str | None = None
    comment: str | None = None
    approved_by: str
    approver_role: str
    created_at: UtcDatetime
    revoked_at: UtcDatetime | None = None


class ViolationPublic(BaseModel):
    """One entry of the violations log."""

    kind: Literal["violation"] = "violation"
    id: int
    event_id: UUID
    deployment_id: UUID | None = None
    product: str
    version: str
    environment: str
    rule_id: UUID | None = None
    rule_name: str
    rule_type: str
    code: str
    message: str
    outcome: ViolationOutcome
    actor: str
    at: UtcDatetime


class AuditEntryPublic(BaseModel):
    """One line of the audit log."""

    kind: Literal["audit_entry"] = "audit_entry"
    id: int
    at: UtcDatetime
    actor: str
    action: str
    subject_id: str | None = None
    summary: str
    data: dict[str, Any] = Field(default_factory=dict)
