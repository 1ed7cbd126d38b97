"""Prometheus metrics: one registry per process, the metrics every service shares, and the way
each service shows them (ingest on `GET /metrics`, policy and the notifier on a port of their
own, `VERSIONER_METRICS_PORT`).

Conventions (https://prometheus.io/docs/practices/naming/): every name starts with
`versioner_`, counters end in `_total`, durations are `_seconds` histograms; labels take a
small, fixed set of values — a route template, a request type, an outcome, a violation code —
never a product, a version, a user or a token. Replicas do not collide: each serves its own
numbers and Prometheus tells them apart by the `instance` it scraped.

The registry is not prometheus_client's global one, so the process's metrics are exactly
these (`versioner_process_*` from its process collector included), whatever else is imported.
"""

import logging
import time
from contextlib import AbstractContextManager
from importlib import metadata
from typing import Generic, TypeVar

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
    start_http_server,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST

log = logging.getLogger(__name__)

REGISTRY = CollectorRegistry(auto_describe=True)
ProcessCollector(namespace="versioner", registry=REGISTRY)
CONTENT_TYPE = CONTENT_TYPE_LATEST

# Latency buckets for work measured in milliseconds to seconds (a verdict, an RPC, a delivery).
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

BUILD_INFO = Gauge(
    "versioner_build_info",
    "Always 1: the service and the version of Versioner it runs.",
    ["service", "version"],
    registry=REGISTRY,
)

MESSAGES_CONSUMED = Counter(
    "versioner_messages_consumed_total",
    "Messages a service took from a queue, by how their handling ended (ok, failed).",
    ["service", "queue", "outcome"],
    registry=REGISTRY,
)
MESSAGE_SECONDS = Histogram(
    "versioner_message_processing_seconds",
    "Time from taking a message to settling it.",
    ["service", "queue"],
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
MESSAGES_REDELIVERED = Counter(
    "versioner_messages_redelivered_total",
    "Messages the broker delivered again (their first consumer died or gave them back).",
    ["service", "queue"],
    registry=REGISTRY,
)
DEAD_LETTERS = Gauge(
    "versioner_dead_letter_messages",
    "Messages waiting in a dead-letter queue, read from the broker at scrape time.",
    ["queue"],
    registry=REGISTRY,
)


M = TypeVar("M", Counter, Gauge, Histogram)


class Children(Generic[M]):
    """A labelled metric's children, each looked up once per label values (in the order the
    metric names its labels): `labels()` takes a lock and builds a key on every call, three
    times the cost of the count itself on the gate's path. Label values are few by design."""

    def __init__(self, metric: M) -> None:
        self.metric: M = metric
        self._made: dict[tuple[str, ...], M] = {}

    def __call__(self, *values: str) -> M:
        """The child for these label values."""
        child = self._made.get(values)
        if child is None:
            child = self._made[values] = self.metric.labels(*values)
        return child


def announce(service: str) -> None:
    """Say which service and version this process is (`versioner_build_info`)."""
    try:
        version = metadata.version(f"versioner-{service}")
    except metadata.PackageNotFoundError:
        version = "unknown"
    BUILD_INFO.labels(service=service, version=version).set(1)


def serve(service: str, port: int, host: str) -> bool:
    """Serve `/metrics` on `host:port` from a thread of its own (policy and the notifier);
    whether it is served. A port already taken is logged, not fatal: a service without its
    metrics still gates deployments (Prometheus' `up` says they are missing)."""
    announce(service)
    if not port:
        return False
    try:
        start_http_server(port, addr=host, registry=REGISTRY)
    except OSError as exc:
        log.error("metrics not served on %s:%d: %s", host, port, exc)
        return False
    log.info("metrics on http://%s:%d/metrics", host, port)
    return True


def exposition() -> bytes:
    """The registry in Prometheus' text format (ingest's `GET /metrics`)."""
    return generate_latest(REGISTRY)


class Consumption:
    """The consumed-message metrics of one queue of one service, its label children bound
    once (a lookup per message would cost the lanes' hot path)."""

    def __init__(self, service: str, queue: str) -> None:
        self._ok = MESSAGES_CONSUMED.labels(service=service, queue=queue, outcome="ok")
        self._failed = MESSAGES_CONSUMED.labels(service=service, queue=queue, outcome="failed")
        self._seconds = MESSAGE_SECONDS.labels(service=service, queue=queue)
        self._redelivered = MESSAGES_REDELIVERED.labels(service=service, queue=queue)

    def handling(self, *, redelivered: bool = False) -> AbstractContextManager[None]:
        """Count one message, its handling time and whether it ended well (no exception)."""
        if redelivered:
            self._redelivered.inc()
        return _Handling(self._ok, self._failed, self._seconds)


class _Handling:
    """One message being handled (a class, not a generator: one per lane message)."""

    __slots__ = ("_failed", "_ok", "_seconds", "_started")

    def __init__(self, ok: Counter, failed: Counter, seconds: Histogram) -> None:
        self._ok, self._failed, self._seconds = ok, failed, seconds
        self._started = 0.0

    def __enter__(self) -> None:
        self._started = time.perf_counter()

    def __exit__(self, kind: type[BaseException] | None, *rest: object) -> None:
        (self._ok if kind is None else self._failed).inc()
        self._seconds.observe(time.perf_counter() - self._started)
