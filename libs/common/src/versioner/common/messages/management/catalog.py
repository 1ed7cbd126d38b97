"""Products, environments and versions: listed, read and edited."""

from typing import Any, Literal
from uuid import UUID

from pydantic import Field

from versioner.common.messages.management.base import ManagementCall, Paged
from versioner.common.resources import (
    EnvironmentPublic,
    EnvironmentType,
    Page,
    ProductPublic,
    VersionPublic,
)
from versioner.common.roles import Permission
from versioner.common.types import Name


class ListProducts(Paged[Page[ProductPublic]]):
    """Every product, newest first."""

    kind: Literal["list_products"] = "list_products"


class GetProduct(ManagementCall[ProductPublic]):
    """A product by id or by any name it has had."""

    kind: Literal["get_product"] = "get_product"
    ref: str


class UpdateProduct(ManagementCall[ProductPublic]):
    """Rename or describe a product; `None` leaves a field as it is."""

    permission = Permission.EDIT_PRODUCTS
    kind: Literal["update_product"] = "update_product"
    product_id: UUID
    name: Name | None = None
    description: str | None = Field(default=None, max_length=10_000)
    metadata: dict[str, Any] | None = None


class ListEnvironments(Paged[Page[EnvironmentPublic]]):
    """Every environment, newest first."""

    kind: Literal["list_environments"] = "list_environments"
    type: EnvironmentType | None = None


class GetEnvironment(ManagementCall[EnvironmentPublic]):
    """An environment by id or by any name it has had."""

    kind: Literal["get_environment"] = "get_environment"
    ref: str


class UpdateEnvironment(ManagementCall[EnvironmentPublic]):
    """Rename, retype or describe an environment; `None` leaves a field as it is."""

    permission = Permission.EDIT_ENVIRONMENTS
    kind: Literal["update_environment"] = "update_environment"
    environment_id: UUID
    name: Name | None = None
    type: EnvironmentType | None = None
    description: str | None = Field(default=None, max_length=10_000)
    metadata: dict[str, Any] | None = None


class ListVersions(Paged[Page[VersionPublic]]):
    """Versions, newest first, by product name and SHA."""

    kind: Literal["list_versions"] = "list_versions"
    product: str | None = None
    scm_sha: str | None = None


class GetVersion(ManagementCall[VersionPublic]):
    """A version by id."""

    kind: Literal["get_version"] = "get_version"
    version_id: UUID
