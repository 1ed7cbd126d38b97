"""Helpers of the insights tests: days from T0, RFC 3339 text, incidents sent to policy."""

from datetime import datetime, timedelta
from typing import Any

from tests.support.policy import CI, T0, Policy
from versioner.common.errors import Failure
from versioner.common.events import IncidentEventIn
from versioner.common.insights import IncidentPublic
from versioner.common.messages.management import RecordIncident

HOUR = 3600.0


def day(n: int, hours: float = 0) -> datetime:
    """T0's day `n` (T0 is a Monday, 09:00 UTC), `hours` later."""
    return T0 + timedelta(days=n, hours=hours)


def rfc3339(at: datetime) -> str:
    """A UTC time as clients send it."""
    return at.isoformat().replace("+00:00", "Z")


async def incident(
    policy: Policy,
    incident_id: str,
    status: str,
    *,
    product: str = "shop",
    environment: str = "production",
    at: datetime,
    **fields: Any,
) -> IncidentPublic | Failure:
    """Send an incident event received at `at`; what policy answered."""
    body = IncidentEventIn.model_validate(
        {
            "product_name": product,
            "environment_name": environment,
            "incident_id": incident_id,
            "status": status,
            **{k: rfc3339(v) if isinstance(v, datetime) else v for k, v in fields.items()},
        }
    )
    reply = await policy.ask(RecordIncident(actor=CI, incident=body, received_at=at))
    assert isinstance(reply, IncidentPublic | Failure)
    return reply
