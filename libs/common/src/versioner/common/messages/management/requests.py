"""Deployment Requests: submitted, edited, moved, decided and checked off."""

from typing import Annotated, Literal
from uuid import UUID

from pydantic import Field

from versioner.common.governance import (
    DeploymentRequestPublic,
    RequestItemIn,
    RequestStatus,
    SlotIn,
)
from versioner.common.messages.management.base import ManagementCall, Paged
from versioner.common.resources import (
    Page,
)
from versioner.common.roles import Permission
from versioner.common.types import Name


class CreateRequest(ManagementCall[DeploymentRequestPublic]):
    """A new Deployment Request, in draft."""

    permission = Permission.MANAGE_DRS
    kind: Literal["create_request"] = "create_request"
    name: Name
    description: str | None = Field(default=None, max_length=20_000)
    items: list[RequestItemIn] = Field(default_factory=list, max_length=200)
    environments: list[Name] = Field(default_factory=list, max_length=100)
    approval_slots: list[SlotIn] = Field(default_factory=list, max_length=50)
    pre_steps: list[Annotated[str, Field(min_length=1, max_length=2000)]] = Field(
        default_factory=list, max_length=100
    )
    post_steps: list[Annotated[str, Field(min_length=1, max_length=2000)]] = Field(
        default_factory=list, max_length=100
    )


class UpdateRequest(ManagementCall[DeploymentRequestPublic]):
    """Change a draft request; `None` leaves a field as it is."""

    permission = Permission.MANAGE_DRS
    kind: Literal["update_request"] = "update_request"
    request_id: UUID
    name: Name | None = None
    description: str | None = Field(default=None, max_length=20_000)
    items: list[RequestItemIn] | None = Field(default=None, max_length=200)
    environments: list[Name] | None = Field(default=None, max_length=100)
    approval_slots: list[SlotIn] | None = Field(default=None, max_length=50)
    pre_steps: list[Annotated[str, Field(min_length=1, max_length=2000)]] | None = Field(
        default=None, max_length=100
    )
    post_steps: list[Annotated[str, Field(min_length=1, max_length=2000)]] | None = Field(
        default=None, max_length=100
    )


class ListRequests(Paged[Page[DeploymentRequestPublic]]):
    """Deployment Requests, newest first; `awaiting_me`: those with a slot the caller may decide."""

    kind: Literal["list_requests"] = "list_requests"
    status: RequestStatus | None = None
    awaiting_me: bool = False


class GetRequest(ManagementCall[DeploymentRequestPublic]):
    """One Deployment Request, with its progress."""

    kind: Literal["get_request"] = "get_request"
    request_id: UUID


class MoveRequest(ManagementCall[DeploymentRequestPublic]):
    """Submit, revert, complete or cancel a request."""

    permission = Permission.MANAGE_DRS
    kind: Literal["move_request"] = "move_request"
    request_id: UUID
    action: Literal["submit", "revert", "complete", "cancel"]


class DecideSlot(ManagementCall[DeploymentRequestPublic]):
    """Approve or reject one approval slot (a role that may fill its type; never the creator)."""

    permission = None
    kind: Literal["decide_slot"] = "decide_slot"
    request_id: UUID
    slot_id: UUID
    decision: Literal["approve", "reject"]
    comment: str | None = Field(default=None, max_length=5000)


class CompleteStep(ManagementCall[DeploymentRequestPublic]):
    """Tick a checklist step."""

    permission = Permission.MANAGE_DRS
    kind: Literal["complete_step"] = "complete_step"
    request_id: UUID
    step_id: UUID
