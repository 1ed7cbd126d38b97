"""Policy's Prometheus metrics (the registry and the shared ones: `versioner.common.metrics`)."""

from prometheus_client import Counter, Gauge, Histogram

from versioner.common.metrics import LATENCY_BUCKETS, REGISTRY, Children

VERDICTS = Counter(
    "versioner_verdicts_total",
    "Start verdicts of the gate: allowed, blocked, overridden (break-glass), report_only "
    "(allowed, with violations of rules in report-only mode).",
    ["outcome"],
    registry=REGISTRY,
)
VIOLATIONS = Counter(
    "versioner_violations_total",
    "Violations found by start verdicts, whatever came of them (blocked, overridden, reported).",
    ["code", "rule_type"],
    registry=REGISTRY,
)
# By outcome, and by (code, rule type).
VERDICT_COUNTS = Children(VERDICTS)
VIOLATION_COUNTS = Children(VIOLATIONS)
VERDICT_SECONDS = Histogram(
    "versioner_verdict_duration_seconds",
    "Time policy took for a start verdict, its transaction included.",
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
OUTBOX_BACKLOG = Gauge(
    "versioner_outbox_backlog",
    "Outbox rows committed and not yet published (read at scrape time).",
    registry=REGISTRY,
)
OUTBOX_OLDEST_AGE = Gauge(
    "versioner_outbox_oldest_age_seconds",
    "Age of the oldest outbox row not yet published; 0 when none waits (read at scrape time).",
    registry=REGISTRY,
)
LANE_BACKLOG = Gauge(
    "versioner_lane_backlog_messages",
    "Messages waiting in the lanes, ready for policy (read from the broker at scrape time).",
    registry=REGISTRY,
)
