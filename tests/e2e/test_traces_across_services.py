"""OpenTelemetry traces on the real RabbitMQ: one `deployment started` is one trace across the
three services — ingest's request, its RPC, policy's consume and verdict, the outbox's
publish, the notifier's consume and its delivery — recorded with the SDK's in-memory
exporter (off: tests/common/test_tracing.py)."""

import asyncio
import itertools
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.support.databases import sqlite_url
from tests.support.receiver import Receiver
from tests.support.stack import NotifierSetup, Stack, real_stack
from tests.support.tracing import recorded_spans

STARTED = {
    "product_name": "api",
    "version": "1.0.0",
    "environment_name": "production",
    "status": "started",
}
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """Tracing on, every finished span kept in memory; off again after."""
    with recorded_spans() as exporter:
        yield exporter


async def _stack_with_a_webhook(
    tmp_path: Path, amqp_url: str, receiver: Receiver
) -> tuple[Any, Stack]:
    setup = NotifierSetup(database_url=f"sqlite+aiosqlite:///{tmp_path / 'notifier.db'}")
    running = real_stack(sqlite_url(tmp_path), amqp_url, notifier=setup)
    stack = await running.__aenter__()
    channel = await stack.http.post(
        "/notification-channels/",
        json={
            "name": "ci-hook",
            "kind": "webhook",
            "config": {"url": receiver.url("/hook")},
            "events": ["deployment.started"],
        },
        headers=stack.admin,
    )
    assert channel.status_code == 201, channel.text
    return running, stack


async def _delivered(receiver: Receiver) -> None:
    deadline = time.monotonic() + 15
    while not receiver.requests_to("/hook"):
        assert time.monotonic() < deadline, "the webhook never arrived"
        await asyncio.sleep(0.05)


def _by_name(spans: tuple[ReadableSpan, ...], start: str) -> ReadableSpan:
    found = [s for s in spans if s.name.startswith(start)]
    assert len(found) == 1, (start, [s.name for s in spans])
    return found[0]


async def test_one_start_is_one_trace_across_the_three_services(
    tmp_path: Path, amqp_url: str, receiver: Receiver, spans: InMemorySpanExporter
) -> None:
    running, stack = await _stack_with_a_webhook(tmp_path, amqp_url, receiver)
    try:
        key = await stack.api_key()
        spans.clear()
        response = await stack.http.post(
            "/deployment-events/",
            json=STARTED,
            headers={**stack.auth(key), "traceparent": TRACEPARENT},
        )
        assert response.status_code == 200, response.text
        await _delivered(receiver)
        deadline = time.monotonic() + 5
        while not any(s.name.startswith("deliver") for s in spans.get_finished_spans()):
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
    finally:
        await running.__aexit__(None, None, None)

    finished = spans.get_finished_spans()
    request = _by_name(finished, "POST /deployment-events")
    rpc = next(s for s in finished if s.name.endswith("send EvaluateDeployment"))
    processed = next(s for s in finished if s.name.endswith("process EvaluateDeployment"))
    verdict = _by_name(finished, "verdict")
    published = _by_name(finished, "events publish deployment.started")
    notified = _by_name(finished, "events process deployment.started")
    delivered = _by_name(finished, "deliver deployment.started to webhook")

    chain = [request, rpc, processed, verdict, published, notified, delivered]
    # One trace, the caller's: the request continued the `traceparent` it was sent.
    assert {s.context.trace_id for s in chain} == {int(TRACEPARENT.split("-")[1], 16)}
    for parent, child in itertools.pairwise(chain):
        assert child.parent is not None, child.name
        assert child.parent.span_id == parent.context.span_id, (parent.name, child.name)
    assert request.attributes is not None
    assert request.attributes["http.route"] == "/deployment-events"
    assert request.attributes["http.response.status_code"] == 200
    kinds = [s.kind.name for s in chain]
    assert kinds == [
        "SERVER",
        "PRODUCER",
        "CONSUMER",
        "INTERNAL",
        "PRODUCER",
        "CONSUMER",
        "CLIENT",
    ]
