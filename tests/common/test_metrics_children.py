"""`Children`: a labelled metric's children looked up once per label values; `Consumption`:
a queue's consumed messages."""

import pytest
from prometheus_client import CollectorRegistry, Counter

from versioner.common.metrics import REGISTRY, Children, Consumption


def test_children_are_the_metric_s_own_made_once_per_label_values() -> None:
    registry = CollectorRegistry()
    requests = Counter("t_requests_total", "t", ["method", "status"], registry=registry)
    children = Children(requests)
    children("POST", "200").inc()
    children("POST", "200").inc()
    children("POST", "428").inc()
    assert children("POST", "200") is children("POST", "200")
    assert children("POST", "200") is requests.labels(method="POST", status="200")
    assert registry.get_sample_value("t_requests_total", {"method": "POST", "status": "200"}) == 2
    assert registry.get_sample_value("t_requests_total", {"method": "POST", "status": "428"}) == 1


def test_a_consumed_message_is_counted_by_outcome_with_its_time_and_redelivery() -> None:
    consumption = Consumption("policy", "t-consumed")
    labels = {"service": "policy", "queue": "t-consumed"}

    def sample(name: str, **more: str) -> float:
        return REGISTRY.get_sample_value(name, {**labels, **more}) or 0.0

    with consumption.handling():
        pass
    with pytest.raises(RuntimeError), consumption.handling(redelivered=True):
        raise RuntimeError("the database is busy")
    assert sample("versioner_messages_consumed_total", outcome="ok") == 1
    assert sample("versioner_messages_consumed_total", outcome="failed") == 1
    assert sample("versioner_messages_redelivered_total") == 1
    assert sample("versioner_message_processing_seconds_count") == 2
