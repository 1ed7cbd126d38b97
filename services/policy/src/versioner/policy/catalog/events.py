"""What became of an event the gateway accepted."""

from versioner.common.errors import Failure, not_found
from versioner.common.messages.management import (
    GetEvent,
)
from versioner.common.resources import (
    EventStatus,
)
from versioner.policy.context import PolicyContext
from versioner.policy.registry import handles
from versioner.policy.store import eventlog


@handles(GetEvent)
async def get_event(ctx: PolicyContext, request: GetEvent) -> EventStatus | Failure:
    """What became of an event; API keys see only the events they sent."""
    async with ctx.db.read() as session:
        record = await eventlog.find(session, request.event_id)
    if record is None:
        return not_found()
    if request.actor.kind == "api_key" and record.sender_id != request.actor.id:
        return not_found()
    return eventlog.event_status(record)
