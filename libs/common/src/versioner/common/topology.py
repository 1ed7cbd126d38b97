"""The broker topology of one installation, as data: every exchange and queue with its type,
arguments and bindings (docs/architecture.md, "The broker"; the lanes: ADR 0005).

Each service renders what it declares from here — ingest and policy's lanes with aio-pika
(`versioner.common.broker.declare_queue`), policy's and the notifier's subscribers with
faststream — so two declarers of one queue cannot disagree: RabbitMQ refuses a second
declaration with other arguments (PRECONDITION_FAILED) and closes the channel.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

from versioner.common.names import BrokerNames

ExchangeKind = Literal["direct", "topic", "fanout", "headers"]


@dataclass(frozen=True)
class Exchange:
    """An exchange (every one durable)."""

    name: str
    kind: ExchangeKind


@dataclass(frozen=True)
class Binding:
    """A queue's binding to an exchange."""

    exchange: Exchange
    routing_key: str = ""
    arguments: Mapping[str, object] | None = None


@dataclass(frozen=True)
class Queue:
    """A durable queue: its arguments and its bindings."""

    name: str
    arguments: Mapping[str, object]
    bindings: tuple[Binding, ...] = ()
    # A lane keeps the type it was created with (RabbitMQ cannot change a queue's type): one
    # that exists is declared passively, whatever `VERSIONER_LANE_QUEUE_TYPE` says now.
    keeps_its_type: bool = False

    @property
    def queue_type(self) -> Literal["classic", "quorum"]:
        """`classic` or `quorum`."""
        return "quorum" if self.arguments.get("x-queue-type") == "quorum" else "classic"

    @property
    def routing_key(self) -> str:
        """The routing key of its first binding (what a subscriber binds with)."""
        return self.bindings[0].routing_key if self.bindings else ""


# Poison messages (redelivered this often after failing) go to the dead-letter exchange.
DELIVERY_LIMIT = 5


def lane_queue_arguments(names: BrokerNames) -> dict[str, object]:
    """Arguments of a lane queue: one active consumer, poison messages dead-lettered.

    Policy counts a message's failed tries itself and dead-letters it after `DELIVERY_LIMIT`
    (classic queues keep no count); a quorum lane enforces the same limit as a backstop.
    """
    if names.lane_type == "quorum":
        return {
            "x-queue-type": "quorum",
            "x-single-active-consumer": True,
            "x-delivery-limit": DELIVERY_LIMIT,
            "x-dead-letter-exchange": names.dead_letter_exchange,
        }
    return {
        "x-queue-type": "classic",
        "x-queue-version": 2,
        "x-single-active-consumer": True,
        "x-dead-letter-exchange": names.dead_letter_exchange,
    }


def work_queue_arguments(names: BrokerNames) -> dict[str, object]:
    """Arguments of a queue any replica may consume from (management RPCs, notifications)."""
    return {
        "x-queue-type": "quorum",
        "x-delivery-limit": DELIVERY_LIMIT,
        "x-dead-letter-exchange": names.dead_letter_exchange,
    }


# The dead-letter exchange is a headers exchange that keeps rejected and poison messages
# and drops expired ones: a start request past its deadline is no one's business any more.
# `all-with-x` (RabbitMQ 3.10+): a plain `all` ignores the `x-` headers it would match on.
DEAD_LETTER_BINDINGS: tuple[dict[str, object], ...] = (
    {"x-match": "all-with-x", "x-first-death-reason": "rejected"},
    {"x-match": "all-with-x", "x-first-death-reason": "delivery_limit"},
    # What the notifier gave up delivering (it publishes those here itself).
    {"x-match": "all", "versioner-dead-reason": "delivery-failed"},
    # Lane messages policy gave up on, published here by policy with the error
    # (`versioner-dead-error`), the lane and the number of tries.
    {"x-match": "all", "versioner-dead-reason": "lane-failed"},
    {"x-match": "all", "versioner-dead-reason": "lane-unreadable"},
)


@dataclass(frozen=True)
class Topology:
    """Every exchange and queue of one installation."""

    names: BrokerNames

    @cached_property
    def policy(self) -> Exchange:
        """The direct exchange in front of every request queue (lanes, management, notifier)."""
        return Exchange(self.names.policy_exchange, "direct")

    @cached_property
    def events(self) -> Exchange:
        """The topic exchange of domain events, routed by event name."""
        return Exchange(self.names.events_exchange, "topic")

    @cached_property
    def credentials(self) -> Exchange:
        """The fanout exchange telling every ingest replica to forget cached credentials."""
        return Exchange(self.names.credentials_exchange, "fanout")

    @cached_property
    def dead_letters(self) -> Exchange:
        """The headers exchange keeping rejected and poison messages."""
        return Exchange(self.names.dead_letter_exchange, "headers")

    def lane(self, lane: int) -> Queue:
        """One of the ordered lanes (a product's events always go to the same one)."""
        return Queue(
            self.names.lane_queue(lane),
            lane_queue_arguments(self.names),
            (Binding(self.policy, self.names.lane_key(lane)),),
            keeps_its_type=True,
        )

    @property
    def lanes(self) -> tuple[Queue, ...]:
        """Every lane."""
        return tuple(self.lane(lane) for lane in range(self.names.lanes))

    @cached_property
    def management(self) -> Queue:
        """Policy's management RPCs."""
        return Queue(
            self.names.management_queue,
            work_queue_arguments(self.names),
            (Binding(self.policy, self.names.management_key),),
        )

    @cached_property
    def dead_letter(self) -> Queue:
        """Where dead letters are kept, bound to the reasons worth keeping."""
        bindings = tuple(Binding(self.dead_letters, "", b) for b in DEAD_LETTER_BINDINGS)
        return Queue(self.names.dead_letter_queue, {"x-queue-type": "quorum"}, bindings)

    @cached_property
    def notifier_events(self) -> Queue:
        """The notifier's events, bound to just the events some channel wants (it keeps
        those bindings itself)."""
        return Queue(
            self.names.notifier_queue,
            work_queue_arguments(self.names),
            (Binding(self.events, "#"),),
        )

    @cached_property
    def notifier_rpc(self) -> Queue:
        """The notifier's RPCs."""
        return Queue(
            self.names.notifier_rpc_queue,
            work_queue_arguments(self.names),
            (Binding(self.policy, self.names.notifier_key),),
        )

    @property
    def policy_queues(self) -> tuple[Queue, ...]:
        """What ingest sends to and policy consumes, declared by both (ingest first, so a
        request sent before policy started waits in its queue)."""
        return (self.dead_letter, *self.lanes, self.management)
