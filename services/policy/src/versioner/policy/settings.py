"""Policy's settings, from `VERSIONER_*` environment variables."""

from pathlib import Path

from pydantic import Field, SecretStr

from versioner.common.settings import BrokerSettings


def default_database_url() -> str:
    """SQLite under `./var/`, the embedded default for one machine."""
    return f"sqlite+aiosqlite:///{Path('var/versioner.db').resolve()}"


class PolicySettings(BrokerSettings):
    """Everything the policy service needs to start."""

    # Prometheus metrics on http://METRICS_HOST:METRICS_PORT/metrics (0: not served). Each
    # service has its own port, so that all three run side by side on one machine.
    metrics_port: int = Field(default=9101, ge=0, le=65535)
    metrics_host: str = "127.0.0.1"
    database_url: str = Field(default_factory=default_database_url)
    org: str = Field(default="local", pattern=r"^[a-z0-9]+$")
    public_url: str = "http://127.0.0.1:8000"
    bootstrap_token: SecretStr | None = None
    deployment_timeout_min: float = Field(default=120.0, gt=0)
    # Management RPCs handled at once by one replica (lanes take one message each).
    management_concurrency: int = Field(default=16, ge=1, le=256)
    # How often started deployments older than the timeout are looked for and closed.
    timeout_sweep_s: float = Field(default=30.0, gt=0)
    # Outbox relay: how often a replica without the lease looks for stale rows.
    relay_poll_s: float = Field(default=1.0, gt=0)
