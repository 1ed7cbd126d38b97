"""The notifier on the real RabbitMQ: its RPCs through ingest's client, events from the outbox."""

import aio_pika
from faststream.rabbit.subscriber.usecase import RabbitSubscriber

from tests.support.fake_slack import VALID_TOKEN, FakeSlack
from tests.support.flows import build_body
from tests.support.receiver import Receiver, Reply, verify_signature
from tests.support.slack_clicks import CHANNEL, buttons, click, post
from tests.support.stack import Stack
from versioner.common.messages.notifier import DeliveryFailed

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


async def test_ready_to_deploy_a_signed_click_fires_ci_and_reports_in_the_thread(
    notified_rabbit: Stack, fake_slack: FakeSlack, receiver: Receiver
) -> None:
    stack = notified_rabbit
    channel = await stack.http.post(
        "/notification-channels/",
        json={
            "name": "deploys",
            "kind": "slack",
            "config": {"bot_token": VALID_TOKEN, "channel": CHANNEL},
            "events": ["build.completed"],
        },
        headers=stack.admin,
    )
    assert channel.status_code == 201, channel.text
    await stack.user("sre", slack_user_id="U0SRE")
    ci = stack.auth(await stack.api_key())
    first = await stack.http.post("/build-events/", json=build_body(version="0.9.0"), headers=ci)
    assert first.status_code in (200, 201), first.text
    button = await stack.http.post(
        "/deployment-buttons/",
        json={
            "product": "api",
            "environments": ["production"],
            "kind": "webhook",
            "url_template": receiver.url("/ci/deploy"),
            "body_template": '{"version": "{vi_version}"}',
            "secret": SECRET,
        },
        headers=stack.admin,
    )
    assert button.status_code == 201, button.text
    await stack.http.post("/build-events/", json=build_body(version="2.1.0"), headers=ci)

    await fake_slack.wait_until(lambda: len(fake_slack.posted(CHANNEL)) == 2, timeout=10)
    ready = fake_slack.posted(CHANNEL)[-1]
    assert "2.1.0" in ready.args["text"]
    [(block_id, deploy)] = buttons(ready)
    assert await post(stack, click(ready, "U0SRE", deploy["value"], block_id, "9.1")) == 200

    await receiver.wait_for(1, timeout=10)
    [request] = receiver.requests_to("/ci/deploy")
    assert request.json() == {"version": "2.1.0"}
    assert verify_signature(SECRET, request.body, request.headers["X-Versioner-Signature"])
    await fake_slack.wait_until(lambda: len(fake_slack.posted(CHANNEL)) == 3, timeout=10)
    outcome = fake_slack.posted(CHANNEL)[-1]
    assert outcome.args["thread_ts"] == ready.response["ts"]
    assert "200" in outcome.args["text"]


async def test_a_delivery_that_fails_is_dead_lettered(
    notified_rabbit: Stack, receiver: Receiver, amqp_url: str
) -> None:
    stack = notified_rabbit
    receiver.script("/hook", Reply(status=404))
    created = await stack.http.post(
        "/notification-channels/",
        json={
            "name": "gone",
            "kind": "webhook",
            "config": {"url": receiver.url("/hook")},
            "events": ["build.completed"],
        },
        headers=stack.admin,
    )
    channel_id = created.json()["id"]
    ci = stack.auth(await stack.api_key())
    await stack.http.post("/build-events/", json=build_body(version="3.0.0"), headers=ci)
    await receiver.wait_for(1, timeout=10)

    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(
            stack.ingest_settings.names.dead_letter_queue, passive=True
        )

        async def dead() -> bool:
            message = await queue.get(fail=False, no_ack=True)
            if message is None:
                return False
            failed = DeliveryFailed.model_validate_json(message.body)
            return str(failed.channel_id) == channel_id and failed.status_code == 404

        await stack.wait_for(dead, timeout=10)


async def _routed(stack: Stack, routing_key: str) -> int:
    """Publish a probe to the events exchange; how many copies reached the notifier's queue
    (its consumer is stopped by the test, so the queue keeps what was routed to it)."""
    names = stack.policy.settings.names
    connection = await aio_pika.connect(str(stack.policy.settings.amqp_url))
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(names.events_exchange)
        await exchange.publish(aio_pika.Message(b"{}"), routing_key=routing_key)
        queue = await channel.declare_queue(names.notifier_queue, passive=True)
        await queue.purge()
        return queue.declaration_result.message_count or 0


async def _channel(stack: Stack, receiver: Receiver, events: list[str]) -> str:
    body = {
        "name": "hook",
        "kind": "webhook",
        "config": {"url": receiver.url("/hook"), "secret": SECRET},
        "events": events,
    }
    created = await stack.http.post("/notification-channels/", json=body, headers=stack.admin)
    assert created.status_code == 201, created.text
    channel_id: str = created.json()["id"]
    return channel_id


async def test_the_queue_hears_only_events_some_channel_wants(
    notified_rabbit: Stack, receiver: Receiver
) -> None:
    stack = notified_rabbit
    assert stack.notifier is not None
    queue = stack.policy.settings.names.notifier_queue
    [events] = [
        s
        for s in stack.notifier.broker.subscribers
        if isinstance(s, RabbitSubscriber) and s.queue.name == queue
    ]
    await events.stop()  # its RPCs still answer; routed events stay in the queue to be counted
    assert await _routed(stack, "deployment.completed") == 0
    assert await _routed(stack, "deployment.started") == 0
    assert await _routed(stack, "button.fire_requested") == 1
    assert await _routed(stack, "slack.action_handled") == 1

    channel_id = await _channel(stack, receiver, ["deployment.completed", "deployment.blocked"])
    assert await _routed(stack, "deployment.completed") == 1
    assert await _routed(stack, "deployment.preflight_failed") == 1
    assert await _routed(stack, "deployment.started") == 0

    disabled = await stack.http.patch(
        f"/notification-channels/{channel_id}", json={"enabled": False}, headers=stack.admin
    )
    assert disabled.status_code == 200, disabled.text
    assert await _routed(stack, "deployment.completed") == 0
    assert await _routed(stack, "button.fire_requested") == 1
