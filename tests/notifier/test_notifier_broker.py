"""The notifier on the real RabbitMQ: its RPCs through ingest's client, events from the outbox."""

from tests.ingest.flows import build_body
from tests.support.fake_slack import VALID_TOKEN, FakeSlack
from tests.support.receiver import Receiver, verify_signature
from tests.support.stack import Stack

SECRET = "whsec-broker-0123456789"


async def test_a_completed_build_reaches_slack_and_a_signed_webhook(
    notified_rabbit: Stack, fake_slack: FakeSlack, receiver: Receiver
) -> None:
    stack = notified_rabbit
    for body in (
        {
            "name": "deploys",
            "kind": "slack",
            "config": {"bot_token": VALID_TOKEN, "channel": "C0DEPLOYS"},
            "events": ["build.completed"],
        },
        {
            "name": "ci",
            "kind": "webhook",
            "config": {"url": receiver.url("/hook"), "secret": SECRET},
            "events": ["build.completed"],
        },
    ):
        created = await stack.http.post("/notification-channels/", json=body, headers=stack.admin)
        assert created.status_code == 201, created.text
    ci = stack.auth(await stack.api_key())
    sent = await stack.http.post("/build-events/", json=build_body(version="2.0.0"), headers=ci)
    assert sent.status_code in (200, 201), sent.text

    await receiver.wait_for(1, timeout=10)
    [request] = receiver.requests_to("/hook")
    assert verify_signature(SECRET, request.body, request.headers["X-Versioner-Signature"])
    assert request.json()["version"] == "2.0.0"
    await fake_slack.wait_for(1, timeout=10)
    [posted] = fake_slack.posted("C0DEPLOYS")
    assert "2.0.0" in posted.args["text"]
    assert "ready" in posted.args["text"].lower()


async def test_without_the_notifier_channel_requests_are_503(
    notified_rabbit: Stack, receiver: Receiver
) -> None:
    stack = notified_rabbit
    assert stack.notifier is not None
    await stack.notifier.broker.stop()
    response = await stack.http.get("/notification-channels/", headers=stack.admin, timeout=30)
    assert response.status_code == 503
    assert response.json()["detail"]["code"] == "NOTIFIER_UNAVAILABLE"
