"""FastStream subscribers: domain events in, notifications out; the notifier's own RPCs."""

import logging
import time

from faststream.middlewares import AckPolicy
from faststream.rabbit import (
    Channel,
    RabbitBroker,
    RabbitResponse,
)
from faststream.rabbit.annotations import RabbitMessage

from versioner.common import logs, tracing
from versioner.common.errors import notifier_unavailable
from versioner.common.messages.domain import (
    ButtonFireRequested,
    DomainEvent,
    SlackActionHandled,
)
from versioner.common.messages.notifier import NotifierRequest
from versioner.common.metrics import Consumption
from versioner.common.names import DEADLINE_HEADER, BrokerNames
from versioner.common.tasks import to_the_end
from versioner.common.topology import Topology
from versioner.notifier import buttons, commands, replies
from versioner.notifier.announce import describe
from versioner.notifier.deliveries import Deliverer
from versioner.notifier.topology import rabbit_exchange, rabbit_queue

log = logging.getLogger("versioner.notifier")


def _expired(message: RabbitMessage) -> bool:
    deadline = message.headers.get(DEADLINE_HEADER)
    return isinstance(deadline, int) and deadline <= time.time() * 1000


_EVENTS = Consumption("notifier", "events")
_REQUESTS = Consumption("notifier", "rpc")


async def _handle(deliverer: Deliverer, event: DomainEvent) -> None:
    log.info("%s", describe(event), extra={"event_type": event.event_type})
    match event:
        case ButtonFireRequested():
            firing = await buttons.fire(deliverer, event)
            if firing is not None:
                label = await buttons.label_of(deliverer, event.button_id)
                await replies.report_firing(deliverer, event, firing, label)
        case SlackActionHandled():
            await replies.answer(deliverer, event)
        case _:
            await deliverer.handle(event)


def register(broker: RabbitBroker, names: BrokerNames, deliverer: Deliverer) -> None:
    """Subscribe the notifier to domain events and to its RPC queue."""

    topology = Topology(names)

    @broker.subscriber(
        rabbit_queue(topology.notifier_events),
        rabbit_exchange(topology.events),
        channel=Channel(prefetch_count=1),
        ack_policy=AckPolicy.NACK_ON_ERROR,
        title="notifier events",
    )
    async def on_event(event: DomainEvent, message: RabbitMessage) -> None:
        """Deliver an event to every channel that wants it; acked once every delivery is final.
        Every line logged meanwhile carries the event's id (and its HTTP request's)."""
        with (
            logs.bound_from(message.headers, event_id=event.event_id),
            _EVENTS.handling(redelivered=bool(message.raw_message.redelivered)),
            tracing.span(
                f"events process {event.event_type}",
                "consumer",
                {"versioner.event_id": str(event.event_id)},
                parent=message.headers,
            ),
        ):
            await to_the_end(_handle(deliverer, event))

    @broker.subscriber(
        rabbit_queue(topology.notifier_rpc),
        rabbit_exchange(topology.policy),
        channel=Channel(prefetch_count=8),
        ack_policy=AckPolicy.NACK_ON_ERROR,
        title="notifier rpc",
    )
    async def on_request(body: NotifierRequest, message: RabbitMessage) -> RabbitResponse:
        """Answer a configuration request, unless its caller has stopped waiting."""
        with (
            logs.bound_from(message.headers),
            _REQUESTS.handling(),
            tracing.span(f"rpc process {type(body).__name__}", "consumer", parent=message.headers),
        ):
            result = (
                notifier_unavailable()
                if _expired(message)
                else await to_the_end(commands.handle(deliverer, body))
            )
        # Direct reply-to on RabbitMQ 3.10 returns mandatory replies although it delivers them.
        return RabbitResponse(result, mandatory=False, content_type="application/json")
