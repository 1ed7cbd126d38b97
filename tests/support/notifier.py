"""Helpers of the notifier's tests: the webhook signing secret and `Waits` (fixtures in
tests/notifier/conftest.py)."""

from pathlib import Path

from tests.support.fake_slack import FakeSlack
from tests.support.stack import NotifierSetup

SIGNING_SECRET = "slack-signing-secret-for-tests"


class Waits(list[float]):
    """Backoff and `Retry-After` in tests: noted, not waited."""

    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


def notifier_setup(
    tmp_path: Path, fake_slack: FakeSlack, waits: Waits, policy_database_url: str = ""
) -> NotifierSetup:
    """How a test's notifier runs: the fake Slack, webhooks to 127.0.0.1, recorded waits."""
    # On PostgreSQL the notifier shares policy's database (its own tables and version table);
    # on SQLite it has a file of its own, as `make run` gives it.
    shared = policy_database_url.startswith("postgresql")
    return NotifierSetup(
        database_url=(
            policy_database_url if shared else f"sqlite+aiosqlite:///{tmp_path / 'notifier.db'}"
        ),
        slack_api_url=fake_slack.url,
        sleep=waits,
    )
