"""Ingest's settings, from `VERSIONER_*` environment variables."""

import ipaddress

from pydantic import Field, SecretStr, field_validator

from versioner.common.settings import BrokerSettings


class IngestSettings(BrokerSettings):
    """Everything the gateway needs to start."""

    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8000, ge=1, le=65535)
    public_url: str | None = None
    org: str = Field(default="local", pattern=r"^[a-z0-9]+$")
    rpc_timeout_s: float = Field(default=5.0, gt=0, le=120)
    session_secret: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    # How long a verified credential is trusted without asking policy again (API.md: ≤ 60 s).
    credential_cache_s: float = Field(default=60.0, ge=0, le=60)
    log_level: str = "INFO"
    # Who may read `GET /metrics` without a token: loopback and the private ranges (a compose
    # network, a cluster's pod network), where Prometheus scrapes from.
    metrics_allow: str = "127.0.0.0/8,::1/128,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,fc00::/7"

    @field_validator("metrics_allow")
    @classmethod
    def _networks(cls, value: str) -> str:
        for network in value.split(","):
            if network.strip():
                ipaddress.ip_network(network.strip(), strict=False)  # ValueError names it
        return value

    @property
    def base_url(self) -> str:
        """Where users reach this installation (links in answers and pages)."""
        return (self.public_url or f"http://{self.http_host}:{self.http_port}").rstrip("/")
