"""OpenTelemetry traces: one trace per request across the three services, or nothing at all.

With `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) set, a service
exports its spans over OTLP/HTTP (the SDK reads the standard `OTEL_*` variables: headers,
sampler, resource attributes); `OTEL_SERVICE_NAME` defaults to `versioner-<service>`. The
spans of one `deployment started`: ingest's HTTP request, its RPC to a lane, policy's consume,
the verdict's transaction, the outbox's publish, the notifier's consume and each delivery —
parents and children through W3C trace context (`traceparent`) in the AMQP headers, the
outbox's rows included.

Unset, nothing is imported or created: `span(...)` is a `nullcontext`, no header is added,
and the gate's path pays one attribute read per call.
"""

import os
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any, Literal

Kind = Literal["server", "client", "producer", "consumer", "internal"]

# The tracer once tracing is on (`configure` or `enable`); None: off, and free.
_tracer: Any = None
_propagator: Any = None


def enabled() -> bool:
    """Whether spans are recorded in this process."""
    return _tracer is not None


def configure(service: str) -> bool:
    """Turn tracing on at start when an OTLP endpoint is configured; whether it is on."""
    if not (
        os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    ):
        return False
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # noqa: PLC0415
        OTLPSpanExporter,
    )
    from opentelemetry.sdk.resources import Resource  # noqa: PLC0415
    from opentelemetry.sdk.trace import TracerProvider  # noqa: PLC0415
    from opentelemetry.sdk.trace.export import BatchSpanProcessor  # noqa: PLC0415

    name = os.environ.get("OTEL_SERVICE_NAME") or f"versioner-{service}"
    provider = TracerProvider(resource=Resource.create({"service.name": name}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    enable(provider)
    return True


def enable(provider: Any) -> None:
    """Record spans with this `TracerProvider` (tests give one with an in-memory exporter)."""
    global _tracer, _propagator  # noqa: PLW0603 (set once, at start)
    from opentelemetry.trace.propagation.tracecontext import (  # noqa: PLC0415
        TraceContextTextMapPropagator,
    )

    _tracer = provider.get_tracer("versioner")
    _propagator = TraceContextTextMapPropagator()


def disable() -> None:
    """Stop recording spans (tests)."""
    global _tracer, _propagator  # noqa: PLW0603
    _tracer = _propagator = None


def span(
    name: str,
    kind: Kind = "internal",
    attributes: Mapping[str, Any] | None = None,
    parent: Mapping[str, Any] | None = None,
) -> AbstractContextManager[Any]:
    """A span around a block (a no-op while tracing is off); `parent`: the headers of the
    message being handled, whose trace context it continues."""
    if _tracer is None:
        return nullcontext()
    return _span(name, kind, attributes, parent)


@contextmanager
def _span(
    name: str, kind: Kind, attributes: Mapping[str, Any] | None, parent: Mapping[str, Any] | None
) -> Iterator[Any]:
    from opentelemetry.trace import SpanKind  # noqa: PLC0415

    context = _propagator.extract(_text_headers(parent)) if parent is not None else None
    with _tracer.start_as_current_span(
        name,
        context=context,
        kind=getattr(SpanKind, kind.upper()),
        attributes=dict(attributes or {}),
    ) as current:
        yield current


def inject(headers: MutableMapping[str, Any]) -> None:
    """Add the current trace context (`traceparent`, `tracestate`) to outgoing headers."""
    if _propagator is not None:
        _propagator.inject(headers)


def _text_headers(headers: Mapping[str, Any]) -> dict[str, str]:
    # aiormq hands AMQP header values over as bytes.
    return {
        key: value.decode(errors="replace") if isinstance(value, bytes) else str(value)
        for key, value in headers.items()
    }
