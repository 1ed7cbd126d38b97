"""Settings every service shares: where the broker is and how names are spelled."""

from pydantic import AmqpDsn, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from versioner.common.names import BrokerNames, LaneQueueType


class BrokerSettings(BaseSettings):
    """The broker part of a service's settings (environment variables `VERSIONER_*`)."""

    model_config = SettingsConfigDict(env_prefix="VERSIONER_", extra="ignore")

    amqp_url: AmqpDsn = AmqpDsn("amqp://guest:guest@127.0.0.1:5672/")
    broker_prefix: str = Field(default="versioner", pattern=r"^[A-Za-z0-9_.-]+$")
    policy_lanes: int = Field(default=8, ge=1, le=256)
    # `quorum` on a RabbitMQ cluster; an existing lane keeps the type it was created with.
    lane_queue_type: LaneQueueType = "classic"

    @property
    def names(self) -> BrokerNames:
        """Every exchange and queue name for this installation."""
        return BrokerNames(
            prefix=self.broker_prefix, lanes=self.policy_lanes, lane_type=self.lane_queue_type
        )
