"""Settings every service shares: where the broker is and how names are spelled."""

from pydantic import AmqpDsn, Field, TypeAdapter, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from versioner.common.broker import broker_addresses
from versioner.common.names import BrokerNames, LaneQueueType

_AMQP_DSN = TypeAdapter(AmqpDsn)


class BrokerSettings(BaseSettings):
    """The broker part of a service's settings (environment variables `VERSIONER_*`)."""

    model_config = SettingsConfigDict(env_prefix="VERSIONER_", extra="ignore")

    # One broker, or the nodes of a cluster separated by commas (`broker_addresses`).
    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    broker_prefix: str = Field(default="versioner", pattern=r"^[A-Za-z0-9_.-]+$")
    policy_lanes: int = Field(default=8, ge=1, le=256)
    # Unset: `quorum` when `amqp_url` lists several nodes (a cluster), `classic` otherwise;
    # an existing lane keeps the type it was created with.
    lane_queue_type: LaneQueueType | None = None

    @field_validator("amqp_url")
    @classmethod
    def _amqp_addresses(cls, value: str) -> str:
        """Every address a valid AMQP URL."""
        for address in broker_addresses(value):
            _AMQP_DSN.validate_python(address)
        return value

    @property
    def amqp_addresses(self) -> tuple[str, ...]:
        """The broker's addresses, one per node."""
        return broker_addresses(self.amqp_url)

    @property
    def names(self) -> BrokerNames:
        """Every exchange and queue name for this installation."""
        lane_type = self.lane_queue_type or (
            "quorum" if len(self.amqp_addresses) > 1 else "classic"
        )
        return BrokerNames(prefix=self.broker_prefix, lanes=self.policy_lanes, lane_type=lane_type)
