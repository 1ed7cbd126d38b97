"""`Children`: a labelled metric's children looked up once per label values."""

from prometheus_client import CollectorRegistry, Counter

from versioner.common.metrics import Children


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
