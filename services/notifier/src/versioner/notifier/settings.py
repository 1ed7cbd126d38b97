"""The notifier's settings, from `VERSIONER_*` environment variables."""

from pathlib import Path

from pydantic import Field, SecretStr

from versioner.common.settings import BrokerSettings


def default_database_url() -> str:
    """A second SQLite file under `./var/`."""
    return f"sqlite+aiosqlite:///{Path('var/notifier.db').resolve()}"


class NotifierSettings(BrokerSettings):
    """Everything the notifier needs to start."""

    # Prometheus metrics on http://METRICS_HOST:METRICS_PORT/metrics (0: not served). Each
    # service has its own port, so that all three run side by side on one machine.
    metrics_port: int = Field(default=9102, ge=0, le=65535)
    metrics_host: str = "127.0.0.1"
    notifier_database_url: str = Field(default_factory=default_database_url)
    # Links in messages point at ingest: `VERSIONER_PUBLIC_URL`, else where ingest listens.
    public_url: str | None = None
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8000, ge=1, le=65535)
    slack_api_url: str = "https://slack.com/api/"
    # Seals stored secrets; `make run` generates one into ./var/, compose requires one.
    secret_key: SecretStr | None = None
    # Hosts or CIDRs that outbound calls may reach although they are not global addresses.
    webhook_allow_hosts: str = ""
    # How many channels one event is delivered to at once (events go one at a time, in order).
    delivery_concurrency: int = Field(default=8, ge=1, le=256)
    log_level: str = "INFO"

    @property
    def base_url(self) -> str:
        """The base of links in messages, without a trailing slash."""
        return (self.public_url or f"http://{self.http_host}:{self.http_port}").rstrip("/")
