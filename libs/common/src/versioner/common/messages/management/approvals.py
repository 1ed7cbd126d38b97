"""Version sign-offs: given, revoked and listed."""

from typing import Literal
from uuid import UUID

from pydantic import Field

from versioner.common.governance import (
    VersionApprovalPublic,
)
from versioner.common.messages.management.base import ManagementCall
from versioner.common.resources import (
    Page,
)
from versioner.common.roles import ApprovalType, Permission
from versioner.common.types import Name


class ApproveVersion(ManagementCall[VersionApprovalPublic]):
    """Sign off a version (by id, or by product and version names)."""

    permission = Permission.APPROVE_VERSIONS
    kind: Literal["approve_version"] = "approve_version"
    version_id: UUID | None = None
    product: str | None = None
    version: str | None = None
    approval_type: ApprovalType
    environment: Name | None = None
    comment: str | None = Field(default=None, max_length=5000)


class RevokeVersionApproval(ManagementCall[VersionApprovalPublic]):
    """Withdraw a sign-off."""

    permission = Permission.APPROVE_VERSIONS
    kind: Literal["revoke_version_approval"] = "revoke_version_approval"
    approval_id: UUID
    # The version the path names, by id or by product and version: the approval must be its own.
    version_id: UUID | None = None
    product: str | None = None
    version: str | None = None


class ListVersionApprovals(ManagementCall[Page[VersionApprovalPublic]]):
    """A version's sign-offs, newest first."""

    kind: Literal["list_version_approvals"] = "list_version_approvals"
    version_id: UUID | None = None
    product: str | None = None
    version: str | None = None
