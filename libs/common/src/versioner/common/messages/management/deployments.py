"""Deployments listed, read and aborted; the state matrix."""

from typing import Literal
from uuid import UUID

from pydantic import Field

from versioner.common.messages.management.base import ManagementCall, Paged
from versioner.common.resources import (
    DeploymentPublic,
    Page,
    StateView,
)
from versioner.common.roles import Permission
from versioner.common.status import Status


class ListDeployments(Paged[Page[DeploymentPublic]]):
    """Deployments, newest first."""

    kind: Literal["list_deployments"] = "list_deployments"
    product: str | None = None
    environment: str | None = None
    status: Status | None = None


class GetDeployment(ManagementCall[DeploymentPublic]):
    """A deployment by id."""

    kind: Literal["get_deployment"] = "get_deployment"
    deployment_id: UUID


class AbortDeployment(ManagementCall[DeploymentPublic]):
    """Close a started deployment as aborted, so it stops blocking its environment."""

    permission = Permission.SEND_EVENTS
    kind: Literal["abort_deployment"] = "abort_deployment"
    deployment_id: UUID


class GetState(ManagementCall[StateView]):
    """The state matrix, narrowed to some products and environments."""

    kind: Literal["get_state"] = "get_state"
    products: list[str] = Field(default_factory=list)
    environments: list[str] = Field(default_factory=list)
