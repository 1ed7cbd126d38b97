"""Messages on policy's ordered lanes: everything that must happen in order per product.

A lane is chosen by a hash of the product name (`BrokerNames.lane_for`); policy consumes each
lane one message at a time, so a start request never overtakes its product's earlier facts.
"""

from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, Field

from versioner.common.errors import Failure
from versioner.common.events import BuildEventIn, DeploymentEventIn
from versioner.common.messages.actor import Actor
from versioner.common.resources import BuildPublic, DeploymentPublic
from versioner.common.types import UtcDatetime


class BuildEventReceived(BaseModel):
    """A build event accepted by the gateway: a fact policy must record exactly once."""

    kind: Literal["build_event_received"] = "build_event_received"
    event_id: UUID
    received_at: UtcDatetime
    actor: Actor
    event: BuildEventIn


class DeploymentEventReceived(BaseModel):
    """A deployment reported pending, completed, failed or aborted: a fact to record once."""

    kind: Literal["deployment_event_received"] = "deployment_event_received"
    event_id: UUID
    received_at: UtcDatetime
    actor: Actor
    event: DeploymentEventIn


class EvaluateDeployment(BaseModel):
    """A deployment asks to start: record it and answer with the verdict, before the deadline."""

    kind: Literal["evaluate_deployment"] = "evaluate_deployment"
    event_id: UUID
    received_at: UtcDatetime
    actor: Actor
    event: DeploymentEventIn


class DeploymentStartAbandoned(BaseModel):
    """The gateway gave up waiting for a verdict: close anything recorded for that event."""

    kind: Literal["deployment_start_abandoned"] = "deployment_start_abandoned"
    event_id: UUID
    product_name: str
    abandoned_at: UtcDatetime


LaneMessage = Annotated[
    BuildEventReceived | DeploymentEventReceived | EvaluateDeployment | DeploymentStartAbandoned,
    Field(discriminator="kind"),
]


class BuildRecorded(BaseModel):
    """A build event's record: created, updated, or the same one again for a replay."""

    kind: Literal["build_recorded"] = "build_recorded"
    build: BuildPublic


class DeploymentRecorded(BaseModel):
    """A deployment event's record: the deployment let through, closed or replayed."""

    kind: Literal["deployment_recorded"] = "deployment_recorded"
    deployment: DeploymentPublic


BuildReply = Annotated[BuildRecorded | Failure, Field(discriminator="kind")]
DeploymentReply = Annotated[DeploymentRecorded | Failure, Field(discriminator="kind")]
