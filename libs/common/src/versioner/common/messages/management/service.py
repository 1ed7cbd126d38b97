"""The service's own requests: alive, events answered 202, an event's status, the home page."""

from typing import Literal
from uuid import UUID

from pydantic import BaseModel, Field

from versioner.common.governance import (
    DeploymentRequestPublic,
    ViolationPublic,
)
from versioner.common.messages.management.base import ManagementCall
from versioner.common.resources import (
    DeploymentPublic,
    Done,
    EventStatus,
    StateView,
)
from versioner.common.roles import Permission
from versioner.common.types import UtcDatetime


class Pong(BaseModel):
    """Policy is alive and its database answers."""

    kind: Literal["pong"] = "pong"
    at: UtcDatetime


class Ping(ManagementCall[Pong]):
    """Is policy there, with its database?"""

    permission = None
    kind: Literal["ping"] = "ping"


class QueuedEvent(BaseModel):
    """An event answered 202, and who sent it (ingest checked that they may send events)."""

    event_id: UUID
    event_kind: Literal["build", "deployment"]
    sender_id: UUID | None
    received_at: UtcDatetime


# Events noted in one message at most.
MAX_QUEUED_NOTES = 500


class NoteEventsQueued(ManagementCall[Done]):
    """Events answered 202: remember each as queued until its lane records it.

    Ingest notes every event it answered 202 at about the same moment in one message (one
    transaction in policy; under load that is most facts, issue 8), as the system: each
    event's sender is in its note.
    """

    permission = Permission.SEND_EVENTS
    kind: Literal["note_events_queued"] = "note_events_queued"
    events: list[QueuedEvent] = Field(min_length=1, max_length=MAX_QUEUED_NOTES)


class GetEvent(ManagementCall[EventStatus]):
    """What became of an event."""

    kind: Literal["get_event"] = "get_event"
    event_id: UUID


class HomeView(BaseModel):
    """Everything the dashboard's home page shows, in one answer."""

    kind: Literal["home_view"] = "home_view"
    state: StateView
    requests: list[DeploymentRequestPublic]
    deployments: list[DeploymentPublic]
    blocked: list[ViolationPublic]


class GetHome(ManagementCall[HomeView]):
    """The home page: the state matrix (narrowed), open requests, recent deployments, the
    violations of recent blocked attempts. One round trip instead of five."""

    kind: Literal["get_home"] = "get_home"
    products: list[str] = Field(default_factory=list)
    environments: list[str] = Field(default_factory=list)
