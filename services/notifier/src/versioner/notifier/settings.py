"""The notifier's settings, from `VERSIONER_*` environment variables."""

from pathlib import Path

from pydantic import Field

from versioner.common.settings import BrokerSettings


def default_database_url() -> str:
    """A second SQLite file under `./var/`."""
    return f"sqlite+aiosqlite:///{Path('var/notifier.db').resolve()}"


class NotifierSettings(BrokerSettings):
    """Everything the notifier needs to start."""

    notifier_database_url: str = Field(default_factory=default_database_url)
    public_url: str = "http://127.0.0.1:8000"
    slack_api_url: str = "https://slack.com/api/"
