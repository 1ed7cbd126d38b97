"""Fixtures shared by the deployment tests."""

import pytest

# Copied from the "Configuration" table at the end of the API document: the services read
# no other VERSIONER_* variable, so no deployment file may set one.
KNOWN_VARIABLES = frozenset(
    {
        "VERSIONER_AMQP_URL",
        "VERSIONER_BROKER_PREFIX",
        "VERSIONER_POLICY_LANES",
        # Named by issue 8 (the queue type of the lanes), beside the API document's table.
        "VERSIONER_LANE_QUEUE_TYPE",
        "VERSIONER_DATABASE_URL",
        "VERSIONER_NOTIFIER_DATABASE_URL",
        "VERSIONER_HTTP_HOST",
        "VERSIONER_HTTP_PORT",
        "VERSIONER_PUBLIC_URL",
        "VERSIONER_ORG",
        "VERSIONER_BOOTSTRAP_TOKEN",
        "VERSIONER_SECRET_KEY",
        "VERSIONER_SESSION_SECRET",
        "VERSIONER_RPC_TIMEOUT_S",
        "VERSIONER_DEPLOYMENT_TIMEOUT_MIN",
        "VERSIONER_SLACK_API_URL",
        "VERSIONER_SLACK_SIGNING_SECRET",
        "VERSIONER_WEBHOOK_ALLOW_HOSTS",
        # API.md "Operating": policy's and the notifier's metrics, where they listen.
        "VERSIONER_METRICS_PORT",
        "VERSIONER_METRICS_HOST",
    }
)


@pytest.fixture(scope="session")
def known_variables() -> frozenset[str]:
    """The configuration variables the API document lists."""
    return KNOWN_VARIABLES
