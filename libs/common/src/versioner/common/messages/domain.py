"""Domain events: what happened, published by policy's outbox to the events exchange.

The routing key is the event name (`deployment.completed`, `build.completed`, …), so a
consumer binds to exactly the events it wants.
"""

from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, BeforeValidator, Field

from versioner.common.errors import Violation
from versioner.common.governance import DeploymentRequestPublic, VersionApprovalPublic
from versioner.common.notifications import TemplateVariables
from versioner.common.resources import BuildPublic, DeploymentPublic
from versioner.common.types import UtcDatetime

BuildEventName = Literal[
    "build.pending", "build.started", "build.completed", "build.failed", "build.aborted"
]
DeploymentChangeName = Literal[
    "deployment.pending",
    "deployment.started",
    "deployment.completed",
    "deployment.failed",
    "deployment.aborted",
    "deployment.overridden",
    "deployment.gate_skipped",
]


class BuildEventOccurred(BaseModel):
    """A build changed state (`build.completed` registers the version: ready to deploy)."""

    kind: Literal["build_event"] = "build_event"
    event_type: BuildEventName
    event_id: UUID
    occurred_at: UtcDatetime
    actor: str
    build: BuildPublic


class DeploymentAttempt(BaseModel):
    """What was asked for when a deployment was blocked (blocked attempts have no record)."""

    attempt_id: UUID
    product_id: UUID
    product_name: str
    version_id: UUID
    version: str
    environment_id: UUID
    environment_name: str
    scm_sha: str | None = None
    deployed_by: str | None = None


class DeploymentChanged(BaseModel):
    """A deployment was recorded or changed state (pending, started, completed, failed,
    aborted), or went on despite its rules: overridden (break-glass) or completed without
    asking the gate (gate_skipped), with the violations it carried."""

    kind: Literal["deployment_changed"] = "deployment_changed"
    event_type: DeploymentChangeName
    event_id: UUID
    occurred_at: UtcDatetime
    actor: str
    deployment: DeploymentPublic
    violations: list[Violation] = Field(default_factory=list)


class DeploymentBlocked(BaseModel):
    """A deployment the gate refused before it started: what was asked for (no deployment
    was recorded) and every violation that refused it."""

    kind: Literal["deployment_blocked"] = "deployment_blocked"
    event_type: Literal["deployment.preflight_failed"] = "deployment.preflight_failed"
    event_id: UUID
    occurred_at: UtcDatetime
    actor: str
    attempt: DeploymentAttempt
    violations: list[Violation] = Field(min_length=1)


class EventRejected(BaseModel):
    """A fact answered 202 and refused when policy got to it (e.g. a version/SHA clash)."""

    kind: Literal["event_rejected"] = "event_rejected"
    event_type: Literal["event.rejected"] = "event.rejected"
    event_id: UUID
    occurred_at: UtcDatetime
    actor: str
    event_kind: Literal["build", "deployment"]
    product_name: str
    version: str
    environment_name: str | None = None
    status_code: int
    reason: str


RequestEventName = Literal[
    "dr.created",
    "dr.activated",
    "dr.deactivated",
    "dr.approved",
    "dr.rejected",
    "dr.completed",
    "dr.cancelled",
]


class RequestEventOccurred(BaseModel):
    """A Deployment Request changed: created, submitted, reverted, a slot decided, closed."""

    kind: Literal["request_event"] = "request_event"
    event_type: RequestEventName
    event_id: UUID
    occurred_at: UtcDatetime
    actor: str
    request: DeploymentRequestPublic
    # Slot decisions (`dr.approved`, `dr.rejected`) only:
    approval_type: str | None = None
    approver_role: str | None = None
    slot_status: Literal["approved", "rejected"] | None = None
    comments: str | None = None


class VersionApproved(BaseModel):
    """A version was signed off."""

    kind: Literal["version_approved"] = "version_approved"
    event_type: Literal["version.approved"] = "version.approved"
    event_id: UUID
    occurred_at: UtcDatetime
    actor: str
    approval: VersionApprovalPublic


class SlackOrigin(BaseModel):
    """The Slack message a click came from: where to answer, and where to thread."""

    channel_id: str
    message_ts: str
    thread_ts: str | None = None
    slack_user_id: str
    response_url: str | None = None
    block_id: str | None = None
    # The clicked message's blocks, to update it with who did what.
    blocks: list[dict[str, Any]] = Field(default_factory=list)


class ButtonFireRequested(BaseModel):
    """Policy authorized firing a webhook deployment button: the notifier fires it, once."""

    kind: Literal["button_fire_requested"] = "button_fire_requested"
    event_type: Literal["button.fire_requested"] = "button.fire_requested"
    event_id: UUID
    occurred_at: UtcDatetime
    actor: str
    firing_id: UUID
    button_id: UUID
    variables: TemplateVariables
    origin: SlackOrigin | None = None


class SlackActionHandled(BaseModel):
    """A click in Slack was handled (or refused): update the message or tell the clicker."""

    kind: Literal["slack_action_handled"] = "slack_action_handled"
    event_type: Literal["slack.action_handled"] = "slack.action_handled"
    event_id: UUID
    occurred_at: UtcDatetime
    actor: str
    origin: SlackOrigin
    ok: bool
    note: str


def _before_the_split(data: Any) -> Any:
    """A deployment event written before it was two types (`kind: deployment_event`, still
    in an outbox or a queue while an upgrade rolls out), read as the type it now is."""
    if isinstance(data, dict) and data.get("kind") == "deployment_event":
        blocked = data.get("attempt") is not None
        data = {
            key: value
            for key, value in data.items()
            if key not in ("sha_mismatch", "attempt" if not blocked else "deployment")
        }
        data["kind"] = "deployment_blocked" if blocked else "deployment_changed"
    return data


DomainEvent = Annotated[
    BuildEventOccurred
    | DeploymentChanged
    | DeploymentBlocked
    | EventRejected
    | RequestEventOccurred
    | VersionApproved
    | ButtonFireRequested
    | SlackActionHandled,
    Field(discriminator="kind"),
    BeforeValidator(_before_the_split),
]
