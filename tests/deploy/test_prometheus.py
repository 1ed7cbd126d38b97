"""Monitoring: Prometheus' scrape configuration and alerting rules (through promtool), the
Grafana dashboard and its provisioning, and how compose and Kubernetes expose the metrics —
all checked against the metrics the services serve, without a Prometheus running.
"""

import functools
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = ROOT / "deploy" / "prometheus"
CONFIG = PROMETHEUS / "prometheus.yml"
ALERTS = PROMETHEUS / "alerts.yml"
ALERT_TESTS = PROMETHEUS / "alerts.test.yml"
GRAFANA = ROOT / "deploy" / "grafana"
DASHBOARD = GRAFANA / "dashboards" / "versioner.json"
DATASOURCE = GRAFANA / "provisioning" / "datasources" / "prometheus.yml"
DASHBOARD_PROVIDER = GRAFANA / "provisioning" / "dashboards" / "versioner.yml"
COMPOSE_FILE = ROOT / "docker-compose.yml"
K8S = ROOT / "deploy" / "k8s"

# Where each service serves /metrics: ingest on its HTTP port, policy and the notifier on
# VERSIONER_METRICS_PORT (these are its defaults).
METRICS_PORTS = {"ingest": 8000, "policy": 9101, "notifier": 9102}
SERVICES = tuple(METRICS_PORTS)
JOBS = {f"versioner-{name}": name for name in SERVICES}

# The metrics the services serve: the contract the services' instrumentation implements.
# A name the dashboard or an alert uses and no service serves would only ever show "No
# data" or never fire, so every name used must be one of these.
HISTOGRAMS = frozenset(
    {
        "versioner_http_request_duration_seconds",
        "versioner_rpc_request_duration_seconds",
        "versioner_verdict_duration_seconds",
        "versioner_message_processing_seconds",
        "versioner_delivery_duration_seconds",
    }
)
METRICS = HISTOGRAMS | {
    # ingest
    "versioner_http_requests_total",
    "versioner_rpc_requests_total",
    # policy's gate and outbox
    "versioner_verdicts_total",
    "versioner_violations_total",
    "versioner_outbox_backlog",
    "versioner_outbox_oldest_age_seconds",
    "versioner_lane_backlog_messages",
    # messages, in policy and the notifier
    "versioner_messages_consumed_total",
    "versioner_messages_redelivered_total",
    "versioner_dead_letter_messages",
    # the notifier
    "versioner_deliveries_total",
    "versioner_slack_rate_limit_waits_total",
    "versioner_slack_rate_limit_wait_seconds_total",
    "versioner_button_firings_total",
    # every service
    "versioner_process_cpu_seconds_total",
    "versioner_process_resident_memory_bytes",
    "versioner_build_info",
}
HISTOGRAM_SERIES = ("_bucket", "_sum", "_count")
METRIC_NAME = re.compile(r"versioner_[a-z_]+")

# The alerts asked for, by what they watch.
EXPECTED_ALERTS = {
    "VersionerGateUnavailable",
    "VersionerPolicyNotAnswering",
    "VersionerOutboxStuck",
    "VersionerDeadLetters",
    "VersionerDeliveryFailures",
    "VersionerGateSlow",
    "VersionerServiceDown",
}
SEVERITIES = {"critical", "warning"}

# Grafana's own variables in the dashboard's queries, and a value that PromQL parses.
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$__interval": "1m", "$__range": "1h"}


def read_yaml(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict), path
    return data


def metric_names(text: str) -> set[str]:
    """The versioner_* names in PromQL (or any text), a histogram's series by its name."""
    names = set()
    for name in METRIC_NAME.findall(text):
        base = next(
            (name.removesuffix(suffix) for suffix in HISTOGRAM_SERIES if name.endswith(suffix)),
            name,
        )
        names.add(base if base in HISTOGRAMS else name)
    return names


def with_sample_values(expr: str) -> str:
    """A dashboard query with Grafana's variables replaced by values PromQL parses."""
    for variable, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
    return expr


# --- promtool ---------------------------------------------------------------------------------


@functools.cache
def promtool() -> str:
    binary = shutil.which("promtool")
    if binary is None:
        pytest.fail(
            "promtool is not installed: apt-get install -y prometheus "
            "(Debian's package provides it; make test installs it)"
        )
    return binary


def run_promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool(), *args], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )


def test_promtool_accepts_the_scrape_config() -> None:
    # It also loads the rule files the configuration names, relative to the file.
    result = run_promtool("check", "config", str(CONFIG))
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_accepts_the_alerting_rules() -> None:
    result = run_promtool("check", "rules", str(ALERTS))
    assert result.returncode == 0, result.stdout + result.stderr


def test_alerting_rules_pass_their_unit_tests() -> None:
    result = run_promtool("test", "rules", str(ALERT_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr


def test_dashboard_queries_are_promql(tmp_path: Path) -> None:
    """Every panel's query parses: each becomes a recording rule promtool checks."""
    rules = []
    for panel_id, ref, query in dashboard_queries():
        expr = with_sample_values(query)
        assert "$" not in expr, f"panel {panel_id} {ref}: a variable promtool cannot check"
        rules.append({"record": f"dashboard:panel_{panel_id}_{ref}", "expr": expr})
    path = tmp_path / "dashboard-queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = run_promtool("check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


# --- the scrape configuration ---------------------------------------------------------------


def scrape_jobs() -> dict[str, dict[str, Any]]:
    return {job["job_name"]: job for job in read_yaml(CONFIG)["scrape_configs"]}


def test_scrape_config_loads_the_alerts_every_15_seconds() -> None:
    config = read_yaml(CONFIG)
    assert config["global"]["scrape_interval"] == "15s"
    assert config["rule_files"] == [ALERTS.name]


@pytest.mark.parametrize("job", sorted(JOBS))
def test_scrape_job_finds_every_replica_through_dns(job: str) -> None:
    # One A record per replica: each is a target (an instance) of its own.
    spec = scrape_jobs()[job]
    name = JOBS[job]
    assert spec.get("metrics_path", "/metrics") == "/metrics"
    assert "static_configs" not in spec
    assert spec["dns_sd_configs"] == [
        {"names": [name], "type": "A", "port": METRICS_PORTS[name], "refresh_interval": "15s"}
    ]


def test_scrape_config_adds_no_target_label_the_metrics_carry() -> None:
    # The message metrics have a `service` label of their own.
    for job in scrape_jobs().values():
        for rule in job.get("relabel_configs", []):
            assert rule.get("target_label") not in {"service", "queue", "outcome"}, job


# --- the alerting rules ----------------------------------------------------------------------


def alert_rules() -> list[dict[str, Any]]:
    return [rule for group in read_yaml(ALERTS)["groups"] for rule in group["rules"]]


def test_the_requested_alerts_are_defined() -> None:
    names = [rule["alert"] for rule in alert_rules()]
    assert len(names) == len(set(names))
    assert set(names) >= EXPECTED_ALERTS, sorted(EXPECTED_ALERTS - set(names))


@pytest.mark.parametrize("rule", alert_rules(), ids=lambda rule: rule["alert"])
def test_alert_waits_and_says_what_to_do(rule: dict[str, Any]) -> None:
    assert re.fullmatch(r"\d+[smh]", rule["for"]), "every alert waits before it fires"
    assert rule["labels"]["severity"] in SEVERITIES
    annotations = rule["annotations"]
    assert annotations["summary"].strip()
    assert "Look first" in annotations["description"], "what to look at first"


def test_alerts_watch_only_the_services_metrics() -> None:
    for path in (ALERTS, ALERT_TESTS):
        used = metric_names(path.read_text())
        assert used <= METRICS, f"{path.name}: {sorted(used - METRICS)}"


def test_alerts_on_up_name_the_scrape_jobs() -> None:
    jobs = set(scrape_jobs())
    for rule in alert_rules():
        for operator, value in re.findall(r'\bjob(=~|=)"([^"]*)"', rule["expr"]):
            matched = {job for job in jobs if re.fullmatch(value, job)}
            if operator == "=":
                assert value in jobs, rule["alert"]
            else:
                assert matched == set(JOBS), rule["alert"]


def test_every_alert_is_tested_firing_and_not_firing() -> None:
    cases: dict[str, set[bool]] = {}
    for test in read_yaml(ALERT_TESTS)["tests"]:
        for case in test.get("alert_rule_test", []):
            cases.setdefault(case["alertname"], set()).add(bool(case.get("exp_alerts")))
    for rule in alert_rules():
        assert cases.get(rule["alert"]) == {True, False}, rule["alert"]


# --- the Grafana dashboard --------------------------------------------------------------------


@functools.cache
def dashboard() -> dict[str, Any]:
    data = json.loads(DASHBOARD.read_text())
    assert isinstance(data, dict)
    return data


def all_panels() -> list[dict[str, Any]]:
    """Every panel, those inside collapsed rows included."""
    panels: list[dict[str, Any]] = []
    for panel in dashboard()["panels"]:
        panels.append(panel)
        panels.extend(panel.get("panels", []))
    return panels


def dashboard_queries() -> list[tuple[int, str, str]]:
    """(panel id, refId, PromQL) of every query of every panel."""
    return [
        (panel["id"], target["refId"], target["expr"])
        for panel in all_panels()
        for target in panel.get("targets", [])
    ]


def test_dashboard_parses_with_unique_panel_ids() -> None:
    ids = [panel["id"] for panel in all_panels()]
    assert ids
    assert all(isinstance(panel_id, int) for panel_id in ids)
    assert len(ids) == len(set(ids))


def test_dashboard_is_the_schema_grafana_provisions() -> None:
    data = dashboard()
    assert data["schemaVersion"] == 39
    assert data["uid"]
    assert data["title"]


def test_dashboard_queries_the_prometheus_variable() -> None:
    variables = {variable["name"]: variable for variable in dashboard()["templating"]["list"]}
    source = variables["DS_PROMETHEUS"]
    assert source["type"] == "datasource"
    assert source["query"] == "prometheus"
    assert source["current"]["value"] == read_yaml(DATASOURCE)["datasources"][0]["uid"]
    expected = {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}
    for panel in all_panels():
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == expected, panel["title"]
        for target in panel["targets"]:
            assert target.get("datasource", expected) == expected, panel["title"]


def test_dashboard_has_the_requested_rows() -> None:
    rows = {panel["title"] for panel in dashboard()["panels"] if panel["type"] == "row"}
    assert rows >= {
        "Traffic",
        "Errors",
        "Latency",
        "Saturation",
        "Gate outcomes",
        "Messages",
        "Notifications",
    }


def test_dashboard_queries_use_only_the_services_metrics() -> None:
    queries = dashboard_queries()
    assert queries
    for panel_id, ref, expr in queries:
        used = metric_names(expr)
        assert used or re.search(r"\bup\{", expr), f"panel {panel_id} {ref}: no metric"
        assert used <= METRICS, f"panel {panel_id} {ref}: {sorted(used - METRICS)}"


def test_dashboard_shows_every_metric() -> None:
    used = set().union(*(metric_names(expr) for _, _, expr in dashboard_queries()))
    assert used == METRICS, sorted(METRICS - used)


def test_every_panel_has_a_title_and_a_place() -> None:
    for panel in all_panels():
        assert panel["title"]
        position = panel["gridPos"]
        assert position["x"] + position["w"] <= 24, panel["title"]


# --- Grafana's provisioning ---------------------------------------------------------------------


def test_datasource_is_the_compose_prometheus() -> None:
    (source,) = read_yaml(DATASOURCE)["datasources"]
    assert source["type"] == "prometheus"
    assert source["uid"] == "prometheus"
    assert source["url"] == "http://prometheus:9090"


def test_dashboard_provider_reads_the_mounted_folder() -> None:
    (provider,) = read_yaml(DASHBOARD_PROVIDER)["providers"]
    mounts = dict(
        str(volume).removesuffix(":ro").split(":", 1) for volume in service("grafana")["volumes"]
    )
    assert mounts[f"./{DASHBOARD.parent.relative_to(ROOT)}"] == provider["options"]["path"]
    assert mounts[f"./{DATASOURCE.parents[1].relative_to(ROOT)}"] == "/etc/grafana/provisioning"


# --- docker-compose ---------------------------------------------------------------------------


@functools.cache
def compose() -> dict[str, Any]:
    return read_yaml(COMPOSE_FILE)


def service(name: str) -> dict[str, Any]:
    services: dict[str, dict[str, Any]] = compose()["services"]
    return services[name]


@pytest.mark.parametrize("name", ["prometheus", "grafana"])
def test_monitoring_runs_only_with_its_profile_and_on_loopback(name: str) -> None:
    spec = service(name)
    assert spec["profiles"] == ["monitoring"], "a plain `docker compose up` starts without it"
    image, _, tag = spec["image"].partition(":")
    assert image in {"prom/prometheus", "grafana/grafana"}
    assert re.fullmatch(r"v?\d+\.\d+\.\d+", tag), "a pinned version"
    assert spec["ports"]
    for port in spec["ports"]:
        assert str(port).startswith("127.0.0.1:")
    for volume in spec["volumes"]:
        if str(volume).startswith("./"):
            assert str(volume).endswith(":ro"), volume
            assert (ROOT / str(volume).split(":", 1)[0]).exists(), volume


def test_prometheus_reads_this_folder() -> None:
    spec = service("prometheus")
    assert "./deploy/prometheus:/etc/prometheus:ro" in spec["volumes"]
    assert "--config.file=/etc/prometheus/prometheus.yml" in spec["command"]


@pytest.mark.parametrize("name", ["policy", "notifier"])
def test_compose_serves_metrics_where_prometheus_scrapes(name: str) -> None:
    port = service(name)["environment"]["VERSIONER_METRICS_PORT"]
    assert int(port) == METRICS_PORTS[name]
    assert "ports" not in service(name), "scraped on the compose network, not the host"


def test_compose_ingest_serves_metrics_on_its_http_port() -> None:
    assert int(service("ingest")["environment"]["VERSIONER_HTTP_PORT"]) == METRICS_PORTS["ingest"]


# --- Kubernetes -------------------------------------------------------------------------------


@functools.cache
def k8s_resources() -> list[dict[str, Any]]:
    return [
        doc
        for path in sorted(K8S.glob("*.yaml"))
        for doc in yaml.safe_load_all(path.read_text())
        if doc is not None and "kind" in doc and doc["kind"] != "Kustomization"
    ]


def k8s(kind: str) -> list[dict[str, Any]]:
    return [doc for doc in k8s_resources() if doc["kind"] == kind]


def deployment(name: str) -> dict[str, Any]:
    (found,) = [doc for doc in k8s("Deployment") if doc["metadata"]["name"] == name]
    return found


def container_ports(name: str) -> dict[str, int]:
    (container,) = deployment(name)["spec"]["template"]["spec"]["containers"]
    return {port["name"]: port["containerPort"] for port in container.get("ports", [])}


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return selector.items() <= labels.items()


@pytest.mark.parametrize("name", SERVICES)
def test_pods_are_annotated_for_scraping(name: str) -> None:
    annotations = deployment(name)["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == str(METRICS_PORTS[name])
    assert annotations["prometheus.io/path"] == "/metrics"


@pytest.mark.parametrize("name", SERVICES)
def test_metrics_port_is_named(name: str) -> None:
    port_name = "http" if name == "ingest" else "metrics"
    assert container_ports(name)[port_name] == METRICS_PORTS[name]


@pytest.mark.parametrize("name", SERVICES)
def test_service_monitor_scrapes_the_metrics_port(name: str) -> None:
    pod_labels = deployment(name)["spec"]["template"]["metadata"]["labels"]
    (monitor,) = [
        doc
        for doc in k8s("ServiceMonitor")
        if selects(doc["spec"]["selector"]["matchLabels"], pod_labels)
    ]
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    (service_,) = [
        doc
        for doc in k8s("Service")
        if selects(monitor["spec"]["selector"]["matchLabels"], doc["metadata"]["labels"])
    ]
    assert selects(service_["spec"]["selector"], pod_labels)
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["path"] == "/metrics"
    (port,) = [port for port in service_["spec"]["ports"] if port["name"] == endpoint["port"]]
    assert container_ports(name)[port["targetPort"]] == METRICS_PORTS[name]
    # The job prometheus.yml names, so the alerts and the dashboard work on either.
    relabel = {rule["targetLabel"]: rule["replacement"] for rule in endpoint["relabelings"]}
    assert relabel["job"] == f"versioner-{name}"
