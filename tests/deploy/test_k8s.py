"""The Kubernetes manifests, checked without a cluster."""

import functools
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
KUSTOMIZATION = K8S / "kustomization.yaml"

SERVICES = ("ingest", "policy", "notifier")
REPLICAS = {"ingest": 2, "policy": 2, "notifier": 1}
# What only the Secret may hold: credentials, and URLs that carry them.
SECRET_VARIABLES = {
    "VERSIONER_AMQP_URL",
    "VERSIONER_DATABASE_URL",
    "VERSIONER_NOTIFIER_DATABASE_URL",
    "VERSIONER_BOOTSTRAP_TOKEN",
    "VERSIONER_SECRET_KEY",
    "VERSIONER_SESSION_SECRET",
    "VERSIONER_SLACK_SIGNING_SECRET",
}
# The secrets each service is given, and no other.
SERVICE_SECRETS = {
    "ingest": {"VERSIONER_AMQP_URL", "VERSIONER_SESSION_SECRET", "VERSIONER_SLACK_SIGNING_SECRET"},
    "policy": {"VERSIONER_AMQP_URL", "VERSIONER_DATABASE_URL", "VERSIONER_BOOTSTRAP_TOKEN"},
    "notifier": {
        "VERSIONER_AMQP_URL",
        "VERSIONER_NOTIFIER_DATABASE_URL",
        "VERSIONER_SECRET_KEY",
    },
}
VARIABLE = re.compile(r"\bVERSIONER_[A-Z0-9_]+")


def manifest_files() -> list[Path]:
    return sorted(path for path in K8S.iterdir() if path != KUSTOMIZATION)


@functools.cache
def documents(path: Path) -> list[dict[str, Any]]:
    """One file's manifests, parsed once (tests only read them)."""
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def resources() -> list[dict[str, Any]]:
    return [doc for path in manifest_files() for doc in documents(path)]


def resource(kind: str, name: str) -> dict[str, Any]:
    found = [doc for doc in resources() if doc["kind"] == kind and doc["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}"
    return found[0]


def only(kind: str) -> dict[str, Any]:
    found = [doc for doc in resources() if doc["kind"] == kind]
    assert len(found) == 1, kind
    return found[0]


def kustomization() -> dict[str, Any]:
    data = yaml.safe_load(KUSTOMIZATION.read_text())
    assert isinstance(data, dict)
    return data


def pod_spec(name: str) -> dict[str, Any]:
    spec: dict[str, Any] = resource("Deployment", name)["spec"]["template"]["spec"]
    return spec


def container(name: str) -> dict[str, Any]:
    containers: list[dict[str, Any]] = pod_spec(name)["containers"]
    assert len(containers) == 1
    return containers[0]


def test_folder_holds_only_yaml_manifests() -> None:
    assert K8S.is_dir()
    assert all(path.suffix == ".yaml" for path in K8S.iterdir())


@pytest.mark.parametrize("path", manifest_files(), ids=lambda path: path.name)
def test_manifest_parses(path: Path) -> None:
    docs = documents(path)
    assert docs
    for doc in docs:
        assert doc["apiVersion"]
        assert doc["kind"]
        assert doc["metadata"]["name"]


def test_kustomization_lists_every_manifest() -> None:
    listed = kustomization()["resources"]
    assert len(listed) == len(set(listed))
    assert set(listed) == {path.name for path in manifest_files()}


def test_kustomization_namespace_is_the_one_created() -> None:
    namespace = only("Namespace")
    assert kustomization()["namespace"] == namespace["metadata"]["name"]
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_deployments_are_the_three_services() -> None:
    names = {doc["metadata"]["name"] for doc in resources() if doc["kind"] == "Deployment"}
    assert names == set(SERVICES)


def test_kustomization_maps_each_service_image() -> None:
    assert {image["name"] for image in kustomization()["images"]} == {
        f"versioner-{name}" for name in SERVICES
    }


@pytest.mark.parametrize("name", SERVICES)
def test_deployment_runs_its_own_image(name: str) -> None:
    assert container(name)["name"] == name
    assert container(name)["image"] == f"versioner-{name}"


@pytest.mark.parametrize("name", SERVICES)
def test_deployment_replicas(name: str) -> None:
    assert resource("Deployment", name)["spec"]["replicas"] == REPLICAS[name]


@pytest.mark.parametrize("name", SERVICES)
def test_deployment_selector_matches_its_pods(name: str) -> None:
    deployment = resource("Deployment", name)
    selector = deployment["spec"]["selector"]["matchLabels"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert selector.items() <= labels.items()
    assert labels["app.kubernetes.io/component"] == name


@pytest.mark.parametrize("name", SERVICES)
def test_deployment_has_probes(name: str) -> None:
    spec = container(name)
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert spec.get(probe), f"{name} has no {probe}"


def test_ingest_probes_use_its_health_endpoints() -> None:
    spec = container("ingest")
    assert spec["readinessProbe"]["httpGet"]["path"] == "/health"
    assert spec["livenessProbe"]["httpGet"]["path"] == "/health/live"
    ports = {port["name"] for port in spec["ports"]}
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert spec[probe]["httpGet"]["port"] in ports


@pytest.mark.parametrize("name", ["policy", "notifier"])
def test_consumer_probes_ping_over_the_broker(name: str) -> None:
    spec = container(name)
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert spec[probe]["exec"]["command"] == [f"versioner-{name}", "health"]
        # The ping's own deadline is 5 s, and the probe starts a Python process.
        assert spec[probe]["timeoutSeconds"] > 5


@pytest.mark.parametrize("name", SERVICES)
def test_deployment_has_requests_and_limits(name: str) -> None:
    resources_ = container(name)["resources"]
    for section in ("requests", "limits"):
        assert set(resources_[section]) >= {"cpu", "memory"}, f"{name} {section}"


@pytest.mark.parametrize("name", SERVICES)
def test_deployment_runs_as_non_root(name: str) -> None:
    pod = pod_spec(name)
    pod_context = pod.get("securityContext", {})
    context = {**pod_context, **container(name).get("securityContext", {})}
    assert context["runAsNonRoot"] is True
    assert context.get("runAsUser", 10001) != 0
    assert context["allowPrivilegeEscalation"] is False
    assert context["readOnlyRootFilesystem"] is True
    assert context["capabilities"]["drop"] == ["ALL"]
    assert context["seccompProfile"]["type"] == "RuntimeDefault"
    assert pod["automountServiceAccountToken"] is False


@pytest.mark.parametrize("name", SERVICES)
def test_read_only_root_leaves_tmp_writable(name: str) -> None:
    mounts = {mount["mountPath"]: mount["name"] for mount in container(name)["volumeMounts"]}
    volumes = {volume["name"]: volume for volume in pod_spec(name)["volumes"]}
    assert "emptyDir" in volumes[mounts["/tmp"]]


@pytest.mark.parametrize("name", SERVICES)
def test_deployment_references_resolve(name: str) -> None:
    config_map = only("ConfigMap")
    secret = only("Secret")
    spec = container(name)
    assert [source["configMapRef"]["name"] for source in spec["envFrom"]] == [
        config_map["metadata"]["name"]
    ]
    for variable in spec["env"]:
        ref = variable["valueFrom"]["secretKeyRef"]
        assert ref["name"] == secret["metadata"]["name"]
        assert ref["key"] == variable["name"]
        assert ref["key"] in secret["stringData"] or ref.get("optional") is True, ref["key"]


@pytest.mark.parametrize("name", SERVICES)
def test_deployment_gets_only_its_own_secrets(name: str) -> None:
    assert {variable["name"] for variable in container(name)["env"]} == SERVICE_SECRETS[name]


def test_config_map_holds_no_secret() -> None:
    data = only("ConfigMap")["data"]
    assert not set(data) & SECRET_VARIABLES
    assert all(isinstance(value, str) and value for value in data.values())
    assert data["VERSIONER_HTTP_HOST"] == "0.0.0.0"


def test_secret_is_a_template_of_placeholders() -> None:
    secret = only("Secret")
    assert "data" not in secret
    values = secret["stringData"]
    assert set(values) <= SECRET_VARIABLES
    for key, value in values.items():
        assert "REPLACE-ME" in value, f"{key} must hold a placeholder, never a real value"
    for key in ("VERSIONER_DATABASE_URL", "VERSIONER_NOTIFIER_DATABASE_URL"):
        assert values[key].startswith("postgresql+asyncpg://")


def test_only_documented_variables_are_used(known_variables: frozenset[str]) -> None:
    used = {name for path in manifest_files() for name in VARIABLE.findall(path.read_text())}
    assert used <= known_variables, sorted(used - known_variables)


def test_ingest_service_reaches_the_ingest_pods() -> None:
    service = resource("Service", "ingest")["spec"]
    labels = resource("Deployment", "ingest")["spec"]["template"]["metadata"]["labels"]
    assert service["selector"].items() <= labels.items()
    ports = {port["name"] for port in container("ingest")["ports"]}
    assert all(port["targetPort"] in ports for port in service["ports"])


@pytest.mark.parametrize("name", ["ingest", "policy"])
def test_autoscaler_targets_its_deployment(name: str) -> None:
    spec = resource("HorizontalPodAutoscaler", name)["spec"]
    assert spec["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}
    assert spec["minReplicas"] == REPLICAS[name]
    assert spec["maxReplicas"] > spec["minReplicas"]
    assert spec["metrics"]


def test_policy_never_scales_past_its_lanes() -> None:
    lanes = int(only("ConfigMap")["data"]["VERSIONER_POLICY_LANES"])
    assert resource("HorizontalPodAutoscaler", "policy")["spec"]["maxReplicas"] <= lanes


def test_kustomize_renders_the_manifests() -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed; the manifests were still checked one by one")
    result = subprocess.run(
        [kubectl, "kustomize", str(K8S)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    rendered = [doc for doc in yaml.safe_load_all(result.stdout) if doc is not None]
    assert len(rendered) == len(resources())
    for doc in rendered:
        if doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == "versioner"
    images = {
        doc["metadata"]["name"]: doc["spec"]["template"]["spec"]["containers"][0]["image"]
        for doc in rendered
        if doc["kind"] == "Deployment"
    }
    for name in SERVICES:
        assert images[name].rsplit("/", 1)[-1].startswith(f"versioner-{name}:")
