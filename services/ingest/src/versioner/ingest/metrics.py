"""Ingest's Prometheus metrics: HTTP requests and RPCs to policy and the notifier (the registry
and how it is served: `versioner.common.metrics`; `GET /metrics`: routes/metrics.py)."""

from typing import Literal

from prometheus_client import Counter, Histogram

from versioner.common.metrics import LATENCY_BUCKETS, REGISTRY, Children

HTTP_REQUESTS = Counter(
    "versioner_http_requests_total",
    "HTTP requests answered, by method, route template and status code.",
    ["method", "route", "status"],
    registry=REGISTRY,
)
HTTP_SECONDS = Histogram(
    "versioner_http_request_duration_seconds",
    "Time from a request's arrival to its answer, by method and route template.",
    ["method", "route"],
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
RPC_REQUESTS = Counter(
    "versioner_rpc_requests_total",
    "Requests to policy or the notifier, by request type and how they ended: answer, "
    "timeout (no answer in time; for a fact, safe in the broker and answered 202), "
    "unavailable (the broker refused it or was away: 503).",
    ["target", "kind", "outcome"],
    registry=REGISTRY,
)
RPC_SECONDS = Histogram(
    "versioner_rpc_request_duration_seconds",
    "Time from sending a request to policy or the notifier to its answer (or giving up).",
    ["target", "kind"],
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)

RpcOutcome = Literal["answer", "timeout", "unavailable"]

# By (method, route, status), (method, route), (target, kind, outcome) and (target, kind).
HTTP_COUNTS = Children(HTTP_REQUESTS)
HTTP_TIMES = Children(HTTP_SECONDS)
_RPC_COUNTS = Children(RPC_REQUESTS)
_RPC_TIMES = Children(RPC_SECONDS)


def rpc(
    target: Literal["policy", "notifier"], kind: str, outcome: RpcOutcome, seconds: float
) -> None:
    """Count one request to another service and how long it took."""
    _RPC_COUNTS(target, kind, outcome).inc()
    _RPC_TIMES(target, kind).observe(seconds)


def prepare() -> None:
    """Show the series alerts watch at zero from the start: a counter that first appears at
    its first increment is missed by `rate()`, and an alert on it fires one failure late."""
    for outcome in ("answer", "timeout", "unavailable"):
        RPC_REQUESTS.labels(target="policy", kind="EvaluateDeployment", outcome=outcome)
    for status in ("200", "409", "428", "503"):
        HTTP_REQUESTS.labels(method="POST", route="/deployment-events", status=status)
