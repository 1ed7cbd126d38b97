"""The notifier's Prometheus metrics (the registry and the shared ones:
`versioner.common.metrics`)."""

from typing import get_args

from prometheus_client import Counter, Histogram

from versioner.common.metrics import LATENCY_BUCKETS, REGISTRY
from versioner.common.notifications import ChannelKind

DELIVERIES = Counter(
    "versioner_deliveries_total",
    "Notifications sent to channels, by channel kind and how they ended (delivered, failed).",
    ["channel_kind", "outcome"],
    registry=REGISTRY,
)
DELIVERY_SECONDS = Histogram(
    "versioner_delivery_duration_seconds",
    "Time to deliver one notification to one channel, its retries and waits included.",
    ["channel_kind"],
    buckets=(*LATENCY_BUCKETS, 30.0, 60.0),
    registry=REGISTRY,
)
SLACK_RATE_LIMIT_WAITS = Counter(
    "versioner_slack_rate_limit_waits_total",
    "Times Slack answered 429 and the notifier waited before trying again.",
    registry=REGISTRY,
)
SLACK_RATE_LIMIT_WAIT_SECONDS = Counter(
    "versioner_slack_rate_limit_wait_seconds_total",
    "Time spent waiting out Slack's rate limits.",
    registry=REGISTRY,
)
BUTTON_FIRINGS = Counter(
    "versioner_button_firings_total",
    "Deployment-button firings, by how they ended.",
    ["outcome"],
    registry=REGISTRY,
)


def prepare() -> None:
    """Show every delivery series at zero from the start (alerts take the rate of failures:
    a series that first appears at its first increment hides that one)."""
    for kind in get_args(ChannelKind):
        for outcome in ("delivered", "failed"):
            DELIVERIES.labels(channel_kind=kind, outcome=outcome)
