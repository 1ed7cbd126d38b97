"""Tracing off costs nothing and adds nothing; on, the trace context travels in the headers
that carry the event's ids (end to end on the real broker:
tests/e2e/test_traces_across_services.py)."""

from collections.abc import Iterator
from contextlib import nullcontext

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.support.tracing import recorded_spans
from versioner.common import logs, tracing

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """Tracing on for one test."""
    with recorded_spans() as exporter:
        yield exporter


def test_off_a_span_is_a_null_context_and_no_trace_header_is_sent() -> None:
    assert not tracing.enabled()
    assert isinstance(tracing.span("anything", "server"), nullcontext)
    with logs.bound(event_id="e-1"), tracing.span("anything"):
        assert logs.headers() == {"x-event-id": "e-1"}


def test_off_without_an_otlp_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", raising=False)
    assert tracing.configure("policy") is False
    assert not tracing.enabled()


def test_on_the_headers_carry_the_current_span_and_a_consumer_continues_it(
    spans: InMemorySpanExporter,
) -> None:
    with tracing.span("send", "producer", parent={"traceparent": TRACEPARENT.encode()}):
        sent = logs.headers()
    assert sent["traceparent"].split("-")[1] == TRACEPARENT.split("-")[1]
    with tracing.span("process", "consumer", parent=sent):
        pass
    send, process = spans.get_finished_spans()
    assert process.parent is not None
    assert process.parent.span_id == send.context.span_id
    assert send.context.trace_id == process.context.trace_id == int(TRACEPARENT.split("-")[1], 16)
