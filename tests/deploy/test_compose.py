"""The compose stack, the image and the proxy, checked without a Docker engine."""

import functools
import os
import re
import shutil
import subprocess
import threading
import tomllib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "deploy" / "docker" / "Dockerfile"
HEALTHCHECK_SCRIPT = ROOT / "deploy" / "docker" / "healthcheck.sh"
NGINX_CONF = ROOT / "deploy" / "nginx" / "nginx.conf"
ENV_EXAMPLE = ROOT / "deploy" / "env.example"

SERVICES = ("ingest", "policy", "notifier")
STACK = {"rabbitmq", "postgres", *SERVICES, "proxy"}
# Shared by every replica, so compose refuses to start without them.
REQUIRED_SECRETS = {
    "VERSIONER_SECRET_KEY": "test-secret-key",
    "VERSIONER_SESSION_SECRET": "test-session-secret",
}
VARIABLE = re.compile(r"\bVERSIONER_[A-Z0-9_]+")


@functools.cache
def compose() -> dict[str, Any]:
    """The compose file, parsed once (tests only read it)."""
    data = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(data, dict)
    return data


def service(name: str) -> dict[str, Any]:
    services: dict[str, dict[str, Any]] = compose()["services"]
    return services[name]


def environment(name: str) -> dict[str, str | None]:
    env = service(name).get("environment", {})
    assert isinstance(env, dict), f"{name}: write environment as a mapping"
    return env


def runtime_stage() -> str:
    """The Dockerfile's last stage: what the image runs."""
    text = DOCKERFILE.read_text()
    return re.split(r"^FROM ", text, flags=re.MULTILINE)[-1]


# --- docker-compose itself ----------------------------------------------------------------


@pytest.fixture
def docker_compose(tmp_path: Path) -> list[str]:
    """The docker-compose command, isolated from the caller's variables and `.env`."""
    binary = shutil.which("docker-compose")
    if binary is None:
        reason = "docker-compose is not installed (apt-get install -y docker-compose)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}: CI must install it")
        print(reason)
        pytest.skip(reason)
    empty_env_file = tmp_path / "empty.env"
    empty_env_file.write_text("")
    return [
        binary,
        "--project-directory",
        str(ROOT),
        "--file",
        str(COMPOSE_FILE),
        "--env-file",
        str(empty_env_file),
    ]


def run_compose(command: list[str], variables: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("VERSIONER_", "COMPOSE_", "POSTGRES_", "RABBITMQ_"))
    }
    env.update(variables)
    return subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_docker_compose_accepts_the_file(docker_compose: list[str]) -> None:
    result = run_compose([*docker_compose, "config", "-q"], REQUIRED_SECRETS)
    assert result.returncode == 0, result.stderr


def test_docker_compose_interpolates_secrets_and_urls(docker_compose: list[str]) -> None:
    result = run_compose([*docker_compose, "config"], REQUIRED_SECRETS)
    assert result.returncode == 0, result.stderr
    rendered = yaml.safe_load(result.stdout)["services"]

    assert rendered["ingest"]["environment"]["VERSIONER_SESSION_SECRET"] == "test-session-secret"
    assert rendered["notifier"]["environment"]["VERSIONER_SECRET_KEY"] == "test-secret-key"
    assert (
        rendered["policy"]["environment"]["VERSIONER_DATABASE_URL"]
        == "postgresql+asyncpg://versioner:versioner@postgres:5432/versioner"
    )
    assert (
        rendered["notifier"]["environment"]["VERSIONER_NOTIFIER_DATABASE_URL"]
        == "postgresql+asyncpg://versioner:versioner@postgres:5432/versioner_notifier"
    )
    for name in SERVICES:
        assert (
            rendered[name]["environment"]["VERSIONER_AMQP_URL"]
            == "amqp://versioner:versioner@rabbitmq:5672/"
        )


@pytest.mark.parametrize("missing", sorted(REQUIRED_SECRETS))
def test_docker_compose_refuses_to_run_without_a_shared_secret(
    docker_compose: list[str], missing: str
) -> None:
    variables = {key: value for key, value in REQUIRED_SECRETS.items() if key != missing}
    result = run_compose([*docker_compose, "config", "-q"], variables)
    assert result.returncode != 0
    assert missing in result.stderr


# --- the compose file, read as YAML -------------------------------------------------------


def test_compose_file_is_the_compose_specification() -> None:
    # Without `version:` both docker-compose 1.29 and Compose v2 read the Compose
    # Specification; v2 warns about the key.
    assert "version" not in compose()


def test_stack_has_the_expected_services() -> None:
    # Monitoring (Prometheus, Grafana) comes only with `--profile monitoring`.
    services = compose()["services"]
    assert {name for name, service in services.items() if "profiles" not in service} == STACK
    assert {name for name, service in services.items() if "profiles" in service} == {
        "prometheus",
        "grafana",
    }


@pytest.mark.parametrize("name", sorted(STACK))
def test_no_service_has_a_fixed_container_name(name: str) -> None:
    assert "container_name" not in service(name)


@pytest.mark.parametrize("name", SERVICES)
def test_scalable_service_publishes_no_host_port(name: str) -> None:
    assert "ports" not in service(name)


@pytest.mark.parametrize("name", sorted(STACK))
def test_every_service_has_a_healthcheck(name: str) -> None:
    healthcheck = service(name).get("healthcheck")
    assert healthcheck, f"{name} has no healthcheck"
    assert not healthcheck.get("disable", False)
    test = healthcheck["test"]
    assert isinstance(test, list)
    assert test[0] in {"CMD", "CMD-SHELL"}
    assert len(test) > 1


@pytest.mark.parametrize("name", sorted(STACK))
def test_depends_on_waits_for_health(name: str) -> None:
    depends_on = service(name).get("depends_on", {})
    assert isinstance(depends_on, dict), f"{name}: depends_on must name conditions"
    for dependency, spec in depends_on.items():
        assert dependency in STACK
        assert spec == {"condition": "service_healthy"}, f"{name} -> {dependency}"


def test_start_order() -> None:
    expected = {
        "policy": {"rabbitmq", "postgres"},
        "notifier": {"rabbitmq", "postgres"},
        "ingest": {"rabbitmq", "policy", "notifier"},
        "proxy": {"ingest"},
    }
    for name, dependencies in expected.items():
        assert set(service(name)["depends_on"]) == dependencies, name


@pytest.mark.parametrize("name", SERVICES)
def test_service_is_built_from_the_root_with_its_own_service_argument(name: str) -> None:
    spec = service(name)
    assert spec["build"] == {
        "context": ".",
        "dockerfile": "deploy/docker/Dockerfile",
        "args": {"SERVICE": name},
    }
    assert spec["image"] == f"versioner-{name}"


@pytest.mark.parametrize("path", [COMPOSE_FILE, ENV_EXAMPLE], ids=lambda path: path.name)
def test_only_documented_variables_are_used(path: Path, known_variables: frozenset[str]) -> None:
    used = set(VARIABLE.findall(path.read_text()))
    assert used
    assert used <= known_variables, sorted(used - known_variables)


@pytest.mark.parametrize("name", SERVICES)
def test_no_variable_is_set_to_an_empty_value(name: str) -> None:
    # An empty string is a value, not a default: pass-through variables are left null so an
    # unset one stays unset in the container.
    for key, value in environment(name).items():
        assert value is None or str(value).strip(), f"{name}: {key} is empty"


@pytest.mark.parametrize("name", SERVICES)
def test_service_talks_to_the_stacks_broker(name: str) -> None:
    assert re.fullmatch(
        r"amqp://versioner:[^@]+@rabbitmq:5672/", str(environment(name)["VERSIONER_AMQP_URL"])
    )


@pytest.mark.parametrize(
    ("name", "variable", "database"),
    [
        ("policy", "VERSIONER_DATABASE_URL", "versioner"),
        ("notifier", "VERSIONER_NOTIFIER_DATABASE_URL", "versioner_notifier"),
    ],
)
def test_service_owns_its_postgres_database(name: str, variable: str, database: str) -> None:
    url = str(environment(name)[variable])
    assert url.startswith("postgresql+asyncpg://")
    assert url.endswith(f"@postgres:5432/{database}")


def test_no_service_sees_another_services_database() -> None:
    assert "VERSIONER_NOTIFIER_DATABASE_URL" not in environment("policy")
    assert "VERSIONER_DATABASE_URL" not in environment("notifier")
    assert not {"VERSIONER_DATABASE_URL", "VERSIONER_NOTIFIER_DATABASE_URL"} & set(
        environment("ingest")
    )


@pytest.mark.parametrize(
    ("name", "variable"),
    [("ingest", "VERSIONER_SESSION_SECRET"), ("notifier", "VERSIONER_SECRET_KEY")],
)
def test_secret_shared_by_replicas_is_required(name: str, variable: str) -> None:
    assert re.fullmatch(rf"\$\{{{variable}:\?.+\}}", str(environment(name)[variable]))


def test_ingest_listens_on_every_interface_of_its_container() -> None:
    env = environment("ingest")
    assert env["VERSIONER_HTTP_HOST"] == "0.0.0.0"
    assert str(env["VERSIONER_HTTP_PORT"]) == "8000"


def test_ingest_healthcheck_is_readiness() -> None:
    assert service("ingest")["healthcheck"]["test"] == ["CMD", "versioner-healthcheck", "ready"]


@pytest.mark.parametrize("name", ["policy", "notifier"])
def test_consumer_healthcheck_pings_over_the_broker(name: str) -> None:
    healthcheck = service(name)["healthcheck"]
    assert healthcheck["test"] == ["CMD", f"versioner-{name}", "health"]
    # The ping's own deadline is 5 s.
    assert int(str(healthcheck["timeout"]).removesuffix("s")) > 5


@pytest.mark.parametrize("name", sorted(STACK))
def test_bind_mounts_exist(name: str) -> None:
    for volume in service(name).get("volumes", []):
        source = str(volume).split(":", 1)[0]
        if source.startswith("./"):
            assert (ROOT / source).is_file(), f"{name}: {source}"


def test_postgres_init_script_creates_both_databases() -> None:
    spec = service("postgres")
    assert spec["image"] == "postgres:16"
    # With `postgres` here the image creates no database and the script may create both.
    assert spec["environment"]["POSTGRES_DB"] == "postgres"
    scripts = [
        volume.split(":")[0]
        for volume in spec["volumes"]
        if ":/docker-entrypoint-initdb.d/" in volume
    ]
    assert len(scripts) == 1
    sql = (ROOT / scripts[0]).read_text()
    created = set(re.findall(r"CREATE DATABASE (\w+);", sql))
    assert created == {"versioner", "versioner_notifier"}
    assert "pg_isready" in spec["healthcheck"]["test"]


def test_rabbitmq_keeps_its_node_name_and_answers_pings() -> None:
    spec = service("rabbitmq")
    assert spec["image"] == "rabbitmq:3.13-management"
    assert spec["hostname"] == "rabbitmq"
    assert spec["healthcheck"]["test"] == ["CMD", "rabbitmq-diagnostics", "-q", "ping"]
    for port in spec.get("ports", []):
        assert str(port).startswith("127.0.0.1:"), "the broker is not for the outside"


def test_proxy_fronts_ingest_on_port_8000() -> None:
    spec = service("proxy")
    assert spec["image"] == "nginx:1.27-alpine"
    assert spec["ports"] == ["8000:8000"]
    assert "./deploy/nginx/nginx.conf:/etc/nginx/nginx.conf:ro" in spec["volumes"]


# --- the proxy's configuration ------------------------------------------------------------


def test_nginx_resolves_ingest_at_request_time() -> None:
    conf = NGINX_CONF.read_text()
    assert re.search(r"^\s*resolver 127\.0\.0\.11\b", conf, flags=re.MULTILINE)
    target = re.search(r"^\s*set \$(\w+) http://ingest:8000;", conf, flags=re.MULTILINE)
    assert target, "the upstream must be a variable, or nginx resolves it once at start"
    assert re.search(rf"^\s*proxy_pass \${target.group(1)};", conf, flags=re.MULTILINE)
    assert not re.search(r"^\s*upstream\b", conf, flags=re.MULTILINE)
    assert re.search(r"^\s*listen 8000;", conf, flags=re.MULTILINE)


def test_nginx_accepts_the_configuration() -> None:
    binary = shutil.which("nginx")
    if binary is None:
        pytest.skip("nginx is not installed; the text checks above still ran")
    result = subprocess.run(
        [binary, "-t", "-q", "-c", str(NGINX_CONF), "-e", "/dev/stderr"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr


# --- the image -----------------------------------------------------------------------------


def test_dockerfile_installs_one_service_from_the_lock() -> None:
    text = DOCKERFILE.read_text()
    assert re.search(r"^ARG SERVICE$", text, flags=re.MULTILINE)
    sync = re.search(r"uv sync [^\n]*", text)
    assert sync
    for flag in ("--frozen", "--no-dev", "--no-editable", '--package "versioner-${SERVICE}"'):
        assert flag in sync.group(0)
    assert "ingest|policy|notifier" in text, "an unknown SERVICE must fail the build"


def test_dockerfile_builds_from_python_311_slim() -> None:
    stages = re.findall(r"^FROM (\S+)", DOCKERFILE.read_text(), flags=re.MULTILINE)
    assert stages
    assert set(stages) == {"python:3.11-slim"}


def test_dockerfile_copies_only_files_that_exist() -> None:
    for line in DOCKERFILE.read_text().splitlines():
        if line.startswith("COPY ") and "--from=" not in line:
            *sources, _destination = line.split()[1:]
            for source in sources:
                assert (ROOT / source).exists(), source


def test_dockerfile_copies_the_whole_workspace() -> None:
    text = DOCKERFILE.read_text()
    assert "COPY pyproject.toml uv.lock " in text
    assert "COPY libs " in text
    assert "COPY services " in text


def test_image_runs_as_a_numeric_non_root_user() -> None:
    users = re.findall(r"^USER (\S+)$", runtime_stage(), flags=re.MULTILINE)
    assert users
    uid = users[-1].split(":")[0]
    assert uid.isdigit(), "numeric, so Kubernetes can check runAsNonRoot"
    assert int(uid) != 0


def test_image_starts_the_service_without_a_shell() -> None:
    stage = runtime_stage()
    assert 'ENTRYPOINT ["versioner-service"]' in stage
    assert "HEALTHCHECK" in stage
    assert 'CMD ["versioner-healthcheck"]' in stage
    link = r'ln -s "versioner-\$\{SERVICE\}" /app/\.venv/bin/versioner-service'
    assert re.search(link, DOCKERFILE.read_text())


@pytest.mark.parametrize("name", SERVICES)
def test_service_declares_the_console_script_the_image_runs(name: str) -> None:
    project = tomllib.loads((ROOT / "services" / name / "pyproject.toml").read_text())
    assert project["project"]["name"] == f"versioner-{name}"
    assert f"versioner-{name}" in project["project"]["scripts"]


def test_dockerignore_keeps_the_context_small_and_secret_free() -> None:
    patterns = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".git", "**/.venv", "**/var", "**/__pycache__", "tests", ".env"} <= patterns
    needed = {"pyproject.toml", "uv.lock", "libs", "services", "deploy", "deploy/docker", "*"}
    assert not patterns & needed


# --- the image's health check script -------------------------------------------------------


class _HealthHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/health/live" else 503)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        """Keep the test output quiet."""


@pytest.fixture
def ingest_port() -> Iterator[int]:
    """A stand-in ingest on loopback: live, not ready."""
    server = HTTPServer(("127.0.0.1", 0), _HealthHandler)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def run_healthcheck(
    env: dict[str, str], *args: str, path: str | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {
        key: value
        for key, value in os.environ.items()
        if key != "SERVICE_NAME" and not key.startswith("VERSIONER_")
    }
    full_env.update(env)
    if path is not None:
        full_env["PATH"] = path
    return subprocess.run(
        ["sh", str(HEALTHCHECK_SCRIPT), *args],
        env=full_env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_ingest_healthcheck_asks_liveness_then_readiness(ingest_port: int) -> None:
    env = {"SERVICE_NAME": "ingest", "VERSIONER_HTTP_PORT": str(ingest_port)}
    assert run_healthcheck(env).returncode == 0
    assert run_healthcheck(env, "ready").returncode == 1


@pytest.mark.parametrize("name", ["policy", "notifier"])
def test_consumer_healthcheck_runs_the_service_health_command(tmp_path: Path, name: str) -> None:
    fake = tmp_path / f"versioner-{name}"
    fake.write_text('#!/bin/sh\necho "$0 $*"\nexit 0\n')
    fake.chmod(0o755)
    result = run_healthcheck(
        {"SERVICE_NAME": name}, path=f"{tmp_path}{os.pathsep}{os.environ['PATH']}"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"{fake} health"


def test_healthcheck_refuses_an_unknown_service() -> None:
    result = run_healthcheck({"SERVICE_NAME": "bogus"})
    assert result.returncode == 1
    assert "SERVICE_NAME" in result.stderr
