"""The delivery log: once per (channel, event), re-sent only when unfinished; Slack threads."""

from typing import Any
from uuid import uuid4

from sqlmodel import col, select

from tests.support.fake_slack import VALID_TOKEN, FakeSlack
from tests.support.flows import build_body, deploy_body
from tests.support.receiver import Receiver
from tests.support.stack import Stack
from versioner.common.messages.domain import BuildEventOccurred
from versioner.common.resources import BuildPublic
from versioner.common.status import Status
from versioner.common.types import utcnow
from versioner.notifier.tables import Delivery


async def channel(stack: Stack, body: dict[str, Any]) -> str:
    response = await stack.http.post("/notification-channels/", json=body, headers=stack.admin)
    assert response.status_code == 201, response.text
    ident: str = response.json()["id"]
    return ident


def build_event(version: str = "1.0.0") -> BuildEventOccurred:
    at = utcnow()
    return BuildEventOccurred(
        event_type="build.completed",
        event_id=uuid4(),
        occurred_at=at,
        actor="api_key:ci",
        build=BuildPublic(
            id=uuid4(),
            version_id=uuid4(),
            product_id=uuid4(),
            product_name="api",
            version=version,
            status=Status.COMPLETED,
            created_at=at,
            updated_at=at,
        ),
    )


async def test_a_redelivered_event_is_not_sent_again(notified: Stack, receiver: Receiver) -> None:
    await channel(
        notified,
        {
            "name": "hook",
            "kind": "webhook",
            "config": {"url": receiver.url("/hook")},
            "events": ["build.completed"],
        },
    )
    assert notified.notifier is not None
    event = build_event()
    [first] = await notified.notifier.deliverer.handle(event)
    [again] = await notified.notifier.deliverer.handle(event)
    assert first.status == again.status == "sent"
    assert first.id == again.id
    assert len(receiver.requests_to("/hook")) == 1
    assert "X-Versioner-Signature" not in receiver.requests_to("/hook")[0].headers


async def test_an_unfinished_delivery_is_resent_under_the_same_id(
    notified: Stack, receiver: Receiver
) -> None:
    await channel(
        notified,
        {
            "name": "hook",
            "kind": "webhook",
            "config": {"url": receiver.url("/hook")},
            "events": ["build.completed"],
        },
    )
    assert notified.notifier is not None
    event = build_event()
    [first] = await notified.notifier.deliverer.handle(event)
    # As if the process died after recording `sending` and calling out.
    async with notified.notifier.db.session() as session:
        row = (
            await session.execute(select(Delivery).where(col(Delivery.id) == first.id))
        ).scalar_one()
        row.status = "sending"
    [again] = await notified.notifier.deliverer.handle(event)
    assert again.status == "sent"
    ids = [r.headers["X-Versioner-Delivery"] for r in receiver.requests_to("/hook")]
    assert ids == [str(first.id), str(first.id)]


async def test_filters_choose_the_channels(notified: Stack, receiver: Receiver) -> None:
    for name, products in (("api-only", ["api"]), ("web-only", ["web"]), ("all", [])):
        await channel(
            notified,
            {
                "name": name,
                "kind": "webhook",
                "config": {"url": receiver.url(f"/{name}")},
                "events": ["build.completed"],
                "filters": {"products": products},
            },
        )
    assert notified.notifier is not None
    await notified.notifier.deliverer.handle(build_event())
    assert {r.path for r in receiver.requests} == {"/api-only", "/all"}


async def test_follow_ups_go_in_the_versions_thread(notified: Stack, fake_slack: FakeSlack) -> None:
    await channel(
        notified,
        {
            "name": "deploys",
            "kind": "slack",
            "config": {"bot_token": VALID_TOKEN, "channel": "C0DEPLOYS"},
            "events": ["build.completed", "deployment.started", "deployment.completed"],
        },
    )
    ci = notified.auth(await notified.api_key())
    await notified.http.post("/build-events/", json=build_body(), headers=ci)
    started = await notified.http.post("/deployment-events/", json=deploy_body(), headers=ci)
    assert started.status_code in (200, 201), started.text
    done = await notified.http.post(
        "/deployment-events/", json=deploy_body(status="completed"), headers=ci
    )
    assert done.status_code in (200, 201), done.text
    await fake_slack.wait_for(3)
    first, *follow_ups = fake_slack.posted("C0DEPLOYS")
    assert first.args.get("thread_ts") is None
    assert "1.0.0" in first.args["text"]
    assert [p.args.get("thread_ts") for p in follow_ups] == [first.response["ts"]] * 2


async def test_slack_rate_limits_are_waited_out(notified: Stack, fake_slack: FakeSlack) -> None:
    ident = await channel(
        notified,
        {
            "name": "deploys",
            "kind": "slack",
            "config": {"bot_token": VALID_TOKEN, "channel": "C0DEPLOYS"},
            "events": ["build.completed"],
        },
    )
    fake_slack.rate_limit(times=1, retry_after=0)
    tested = await notified.http.post(
        f"/notification-channels/{ident}/test", headers=notified.admin
    )
    assert tested.json()["ok"] is True, tested.text
    assert [c.status for c in fake_slack.calls] == [429, 200]


async def test_a_slack_refusal_is_logged(notified: Stack, fake_slack: FakeSlack) -> None:
    ident = await channel(
        notified,
        {
            "name": "deploys",
            "kind": "slack",
            "config": {"bot_token": "xoxb-revoked-token", "channel": "C0DEPLOYS"},
            "events": ["build.completed"],
        },
    )
    tested = await notified.http.post(
        f"/notification-channels/{ident}/test", headers=notified.admin
    )
    delivery = tested.json()["delivery"]
    assert delivery["status"] == "failed"
    assert "invalid_auth" in delivery["error"]
    assert "xoxb" not in delivery["error"]


async def test_an_incoming_webhook_channel_gets_flat_messages(
    notified: Stack, fake_slack: FakeSlack
) -> None:
    await channel(
        notified,
        {
            "name": "hooked",
            "kind": "slack",
            "config": {"webhook_url": fake_slack.webhook_url("team")},
            "events": ["build.completed"],
        },
    )
    assert notified.notifier is not None
    [delivery] = await notified.notifier.deliverer.handle(build_event())
    assert delivery.status == "sent", delivery.error
    [post] = fake_slack.webhook_posts("team")
    elements = [
        element
        for block in post.body["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
    ]
    assert all("url" in element for element in elements)
