"""Exchange, queue and routing-key names, all under one prefix (`VERSIONER_BROKER_PREFIX`).

The topology: docs/architecture.md ("The broker"); the lanes: docs/adr/0005-ordered-lanes.md.
"""

import zlib
from dataclasses import dataclass
from typing import Literal

# Direct reply-to: RabbitMQ's pseudo-queue for RPC replies, no queue declared per caller.
DIRECT_REPLY_TO = "amq.rabbitmq.reply-to"

# Header carrying a request's absolute deadline, in milliseconds since the epoch.
DEADLINE_HEADER = "x-deadline"
# The event and the HTTP request a message serves, for the logs of every service it reaches.
EVENT_ID_HEADER = "x-event-id"
REQUEST_ID_HEADER = "x-request-id"

# `quorum` replicates over a RabbitMQ cluster; on one node it keeps nothing classic queues do
# not (durable, persistent messages, publisher confirms) and cost 0.7 ms more broker CPU per
# deployment (started + completed) in the gate benchmark: `classic` (v2) is the default.
LaneQueueType = Literal["classic", "quorum"]


@dataclass(frozen=True)
class BrokerNames:
    """Every name on the broker for one installation."""

    prefix: str = "versioner"
    lanes: int = 8
    lane_type: LaneQueueType = "classic"

    @property
    def policy_exchange(self) -> str:
        """Direct exchange in front of policy's lanes, its management queue and the notifier's
        RPC queue."""
        return f"{self.prefix}.policy"

    def lane_queue(self, lane: int) -> str:
        """Quorum queue of one ordered lane."""
        return f"{self.prefix}.policy.lane.{lane}"

    def lane_key(self, lane: int) -> str:
        """Routing key of one ordered lane on the policy exchange."""
        return f"lane.{lane}"

    def lane_for(self, product_name: str) -> int:
        """The lane of a product: a stable hash, the same in every process and version.

        Hashed by the name an event carries: after a rename, events sent under the old name
        and under the new one may take different lanes, so their relative order is not kept.
        Pipelines switch names at one moment, so in practice the order within each holds.
        """
        return zlib.crc32(product_name.encode()) % self.lanes

    @property
    def management_queue(self) -> str:
        """Policy's queue for management commands and queries (any replica answers)."""
        return f"{self.prefix}.policy.rpc"

    @property
    def management_key(self) -> str:
        """Routing key of the management queue."""
        return "rpc"

    @property
    def dead_letter_exchange(self) -> str:
        """Headers exchange receiving rejected and poison messages."""
        return f"{self.prefix}.dead"

    @property
    def dead_letter_queue(self) -> str:
        """Where poison messages wait for an operator."""
        return f"{self.prefix}.dead"

    @property
    def events_exchange(self) -> str:
        """Topic exchange of domain events, published by policy's outbox relay."""
        return f"{self.prefix}.events"

    @property
    def notifier_queue(self) -> str:
        """The notifier's queue of domain events."""
        return f"{self.prefix}.notifier.events"

    @property
    def notifier_rpc_queue(self) -> str:
        """The notifier's queue for its own configuration commands."""
        return f"{self.prefix}.notifier.rpc"

    @property
    def notifier_key(self) -> str:
        """Routing key of the notifier's RPC queue on the policy exchange.

        One direct exchange fronts every request queue, so ingest's RPC client publishes
        to one place whoever answers.
        """
        return "notifier.rpc"

    @property
    def credentials_exchange(self) -> str:
        """Fanout exchange telling every ingest replica to forget cached credentials."""
        return f"{self.prefix}.credentials"

    @property
    def queues(self) -> tuple[str, ...]:
        """Every queue of the installation (to remove one: tests, benchmarks)."""
        return (
            *(self.lane_queue(lane) for lane in range(self.lanes)),
            self.management_queue,
            self.dead_letter_queue,
            self.notifier_queue,
            self.notifier_rpc_queue,
        )

    @property
    def exchanges(self) -> tuple[str, ...]:
        """Every exchange of the installation."""
        return (
            self.policy_exchange,
            self.events_exchange,
            self.credentials_exchange,
            self.dead_letter_exchange,
        )
