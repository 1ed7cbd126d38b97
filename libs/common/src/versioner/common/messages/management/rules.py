"""Deployment Rules and their windows."""

from typing import Any, Literal
from uuid import UUID

from pydantic import Field

from versioner.common.messages.management.base import ManagementCall, Paged
from versioner.common.resources import (
    Done,
    Page,
)
from versioner.common.roles import Permission
from versioner.common.rules import RuleMode, RulePublic, RuleType, WindowsPreview
from versioner.common.types import Name


class CreateRule(ManagementCall[RulePublic]):
    """A new Deployment Rule."""

    permission = Permission.MANAGE_RULES
    kind: Literal["create_rule"] = "create_rule"
    name: Name
    rule_type: RuleType
    mode: RuleMode = "enabled"
    products: list[Name] = Field(default_factory=list, max_length=500)
    environments: list[Name] = Field(default_factory=list, max_length=500)
    config: dict[str, Any]


class ListRules(Paged[Page[RulePublic]]):
    """Every Deployment Rule, newest first."""

    kind: Literal["list_rules"] = "list_rules"


class GetRule(ManagementCall[RulePublic]):
    """One Deployment Rule."""

    kind: Literal["get_rule"] = "get_rule"
    rule_id: UUID


class UpdateRule(ManagementCall[RulePublic]):
    """Change a rule: its mode, name, scope or configuration; `None` leaves a field as it is."""

    permission = Permission.MANAGE_RULES
    kind: Literal["update_rule"] = "update_rule"
    rule_id: UUID
    name: Name | None = None
    mode: RuleMode | None = None
    products: list[Name] | None = Field(default=None, max_length=500)
    environments: list[Name] | None = Field(default=None, max_length=500)
    config: dict[str, Any] | None = None


class DeleteRule(ManagementCall[Done]):
    """Delete a rule."""

    permission = Permission.MANAGE_RULES
    kind: Literal["delete_rule"] = "delete_rule"
    rule_id: UUID


class PreviewWindows(ManagementCall[WindowsPreview]):
    """The next windows of a schedule rule, or of a schedule `config` not saved yet (a form
    being filled in)."""

    kind: Literal["preview_windows"] = "preview_windows"
    rule_id: UUID | None = None
    config: dict[str, Any] | None = None
    count: int = Field(default=10, ge=1, le=1000)
