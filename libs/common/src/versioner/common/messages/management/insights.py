"""Insights (the DORA keys, what the gate cost and saved) and incidents."""

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, Field

from versioner.common.events import IncidentEventIn
from versioner.common.insights import Bucket, DoraReport, GateReport, IncidentPublic
from versioner.common.messages.management.base import ManagementCall, Paged
from versioner.common.resources import Page
from versioner.common.roles import Permission
from versioner.common.types import UtcDatetime


class InsightsPeriod(BaseModel):
    """What a report covers: a product (None: all), environments (empty: every production
    environment), a period (None: the last 90 days up to now) cut into buckets."""

    product: str | None = None
    environments: list[str] = Field(default_factory=list)
    since: UtcDatetime | None = None
    until: UtcDatetime | None = None
    bucket: Bucket = "week"


class DoraInsights(ManagementCall[DoraReport], InsightsPeriod):
    """The four DORA keys over a period."""

    kind: Literal["dora_insights"] = "dora_insights"


class GateInsights(ManagementCall[GateReport], InsightsPeriod):
    """What the gate cost and saved over a period."""

    kind: Literal["gate_insights"] = "gate_insights"


class RecordIncident(ManagementCall[IncidentPublic]):
    """An incident opened or resolved: recorded once per `incident_id`, updated after."""

    permission = Permission.SEND_EVENTS
    kind: Literal["record_incident"] = "record_incident"
    incident: IncidentEventIn
    received_at: datetime


class ListIncidents(Paged[Page[IncidentPublic]]):
    """Incidents, newest opened first."""

    kind: Literal["list_incidents"] = "list_incidents"
    product: str | None = None
    environment: str | None = None
    status: Literal["opened", "resolved"] | None = None
    deployment_id: UUID | None = None
