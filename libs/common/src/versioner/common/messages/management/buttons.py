"""What Slack and deployment buttons ask of policy."""

from typing import Literal
from uuid import UUID

from pydantic import Field

from versioner.common.messages.domain import SlackOrigin
from versioner.common.messages.management.base import ManagementCall
from versioner.common.notifications import FireAccepted, TemplateVariables
from versioner.common.resources import (
    Done,
)
from versioner.common.roles import Permission
from versioner.common.slack_actions import ApproveAction, FireAction, SlotAction
from versioner.common.types import Name


class ResolveVariables(ManagementCall[TemplateVariables]):
    """The `{vi_*}` values of a product's version in an environment (to preview a button)."""

    kind: Literal["resolve_variables"] = "resolve_variables"
    product_id: UUID
    version: Name
    environment: Name


class AuthorizeFire(ManagementCall[FireAccepted]):
    """May this caller fire this webhook button for this version there? If so, hand the firing
    to the notifier (through the outbox, with the version's `{vi_*}` values)."""

    permission = Permission.FIRE_BUTTONS
    kind: Literal["authorize_fire"] = "authorize_fire"
    firing_id: UUID
    button_id: UUID
    product_id: UUID
    version: Name
    environment: Name
    origin: SlackOrigin | None = None


class HandleSlackAction(ManagementCall[Done]):
    """A click in Slack, its signature verified by ingest: map the Slack user, check the role,
    act once per (message, `action_ts`), and have the notifier answer in Slack."""

    permission = None
    kind: Literal["handle_slack_action"] = "handle_slack_action"
    action: FireAction | SlotAction | ApproveAction = Field(discriminator="kind")
    action_ts: str = Field(max_length=64)
    origin: SlackOrigin
