"""`/notification-channels/`: ingest asks the notifier; secrets write-only; the delivery log."""

from typing import Any

from sqlalchemy import text

from tests.support.fake_slack import VALID_TOKEN, FakeSlack
from tests.support.flows import build_body
from tests.support.notifier import Waits
from tests.support.receiver import Receiver, Reply, verify_signature
from tests.support.stack import Stack

SECRET = "whsec-0123456789abcdef"


def webhook(receiver: Receiver, **fields: Any) -> dict[str, Any]:
    """A webhook channel posting to the local receiver."""
    return {
        "name": "ci-hook",
        "kind": "webhook",
        "config": {"url": receiver.url("/hook"), "secret": SECRET},
        "events": ["build.completed", "deployment.blocked"],
        **fields,
    }


async def created(stack: Stack, body: dict[str, Any]) -> dict[str, Any]:
    response = await stack.http.post("/notification-channels/", json=body, headers=stack.admin)
    assert response.status_code == 201, response.text
    channel: dict[str, Any] = response.json()
    return channel


async def test_a_webhook_channel_shows_its_secret_masked(
    notified: Stack, receiver: Receiver
) -> None:
    channel = await created(notified, webhook(receiver))
    assert channel["kind"] == "webhook"
    assert channel["config"] == {"secret": "••••cdef", "url": receiver.url("/hook")}
    assert channel["events"] == ["build.completed", "deployment.preflight_failed"]
    assert channel["filters"] == {"products": [], "environments": []}
    again = await notified.http.get(
        f"/notification-channels/{channel['id']}", headers=notified.admin
    )
    assert again.json() == channel
    listed = await notified.http.get("/notification-channels/", headers=notified.admin)
    assert listed.headers["x-total-count"] == "1"
    assert listed.json() == [channel]


async def test_bad_channels_are_refused_naming_the_field(
    notified: Stack, receiver: Receiver
) -> None:
    cases: list[tuple[dict[str, Any], list[str] | None]] = [
        ({"config": {"url": "ftp://example.com/x"}}, ["body", "config", "url"]),
        ({"config": {"url": "http://[::1"}}, ["body", "config", "url"]),
        (
            {"kind": "slack", "config": {"webhook_url": "https://]x"}},
            ["body", "config", "webhook_url"],
        ),
        ({"config": {"url": receiver.url("/a\r\nX-Injected: 1")}}, ["body", "config", "url"]),
        ({"config": {"url": receiver.url("/a b")}}, ["body", "config", "url"]),
        ({"config": {"url": receiver.url("/"), "extra": "x"}}, ["body", "config", "extra"]),
        ({"kind": "slack", "config": {"bot_token": VALID_TOKEN}}, ["body", "config", "channel"]),
        ({"kind": "slack", "config": {"bot_token": "nope", "channel": "C1"}}, None),
        ({"events": []}, None),
        ({"events": ["deployment.exploded"]}, None),
    ]
    for change, loc in cases:
        response = await notified.http.post(
            "/notification-channels/", json=webhook(receiver, **change), headers=notified.admin
        )
        assert response.status_code == 422, (change, response.text)
        if loc is not None:
            assert response.json()["detail"][0]["loc"] == loc
    listed = await notified.http.get("/notification-channels/", headers=notified.admin)
    assert listed.json() == []


async def test_names_are_unique(notified: Stack, receiver: Receiver) -> None:
    await created(notified, webhook(receiver))
    again = await notified.http.post(
        "/notification-channels/", json=webhook(receiver), headers=notified.admin
    )
    assert again.status_code == 409


async def test_only_admins_and_sres_manage_channels(notified: Stack, receiver: Receiver) -> None:
    developer = notified.auth(await notified.user("developer"))
    sre = notified.auth(await notified.user("sre"))
    refused = await notified.http.post(
        "/notification-channels/", json=webhook(receiver), headers=developer
    )
    assert refused.status_code == 403
    assert (
        await notified.http.get("/notification-channels/", headers=developer)
    ).status_code == 403
    ok = await notified.http.post("/notification-channels/", json=webhook(receiver), headers=sre)
    assert ok.status_code == 201, ok.text


async def test_a_patch_keeps_the_secret_it_does_not_name(
    notified: Stack, receiver: Receiver
) -> None:
    channel = await created(notified, webhook(receiver))
    patched = await notified.http.patch(
        f"/notification-channels/{channel['id']}",
        json={"config": {"url": receiver.url("/other")}, "filters": {"products": ["api"]}},
        headers=notified.admin,
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["config"] == {"secret": "••••cdef", "url": receiver.url("/other")}
    tested = await notified.http.post(
        f"/notification-channels/{channel['id']}/test", headers=notified.admin
    )
    assert tested.status_code == 200, tested.text
    [request] = receiver.requests_to("/other")
    assert verify_signature(SECRET, request.body, request.headers["X-Versioner-Signature"])


async def test_the_test_button_sends_a_signed_ping_and_logs_it(
    notified: Stack, receiver: Receiver
) -> None:
    channel = await created(notified, webhook(receiver))
    tested = await notified.http.post(
        f"/notification-channels/{channel['id']}/test", headers=notified.admin
    )
    assert tested.status_code == 200, tested.text
    result = tested.json()
    assert result["ok"] is True
    [request] = receiver.requests_to("/hook")
    assert request.headers["X-Versioner-Event"] == "test"
    assert request.headers["X-Versioner-Delivery"] == result["delivery"]["id"]
    assert request.json()["event_type"] == "test"
    log = await notified.http.get(
        f"/notification-channels/{channel['id']}/deliveries", headers=notified.admin
    )
    assert [d["status"] for d in log.json()] == ["sent"]


async def test_a_build_reaches_a_subscribed_webhook_signed(
    notified: Stack, receiver: Receiver
) -> None:
    channel = await created(notified, webhook(receiver))
    ci = notified.auth(await notified.api_key())
    sent = await notified.http.post("/build-events/", json=build_body(), headers=ci)
    assert sent.status_code in (200, 201), sent.text
    await receiver.wait_for(1)
    [request] = receiver.requests_to("/hook")
    assert request.headers["X-Versioner-Event"] == "build.completed"
    assert verify_signature(SECRET, request.body, request.headers["X-Versioner-Signature"])
    body = request.json()
    assert (body["event_type"], body["product_name"], body["version"]) == (
        "build.completed",
        "api",
        "1.0.0",
    )
    assert body["is_successful"] is None
    assert b" " not in request.body.replace(b"Versioner", b"")  # compact JSON

    async def logged() -> bool:
        log = await notified.http.get(
            f"/notification-channels/{channel['id']}/deliveries", headers=notified.admin
        )
        return [d["status"] for d in log.json()] == ["sent"]

    await notified.wait_for(logged)


async def test_a_failing_receiver_is_retried_then_logged_failed(
    notified: Stack, receiver: Receiver, waits: Waits
) -> None:
    receiver.script(
        "/hook", Reply(status=503, headers={"Retry-After": "7"}), Reply(status=500), Reply(500)
    )
    channel = await created(notified, webhook(receiver))
    tested = await notified.http.post(
        f"/notification-channels/{channel['id']}/test", headers=notified.admin
    )
    result = tested.json()
    assert result["ok"] is False
    assert result["delivery"]["attempts"] == 3
    assert result["delivery"]["status"] == "failed"
    assert result["delivery"]["status_code"] == 500
    assert waits == [7.0, 2.0]
    ids = {r.headers["X-Versioner-Delivery"] for r in receiver.requests_to("/hook")}
    assert ids == {result["delivery"]["id"]}


async def test_a_4xx_is_final(notified: Stack, receiver: Receiver) -> None:
    receiver.script("/hook", Reply(status=410))
    channel = await created(notified, webhook(receiver))
    tested = await notified.http.post(
        f"/notification-channels/{channel['id']}/test", headers=notified.admin
    )
    assert tested.json()["delivery"]["attempts"] == 1
    assert len(receiver.requests_to("/hook")) == 1


async def test_a_slack_bot_channel_posts_the_test_message(
    notified: Stack, fake_slack: FakeSlack
) -> None:
    channel = await created(
        notified,
        {
            "name": "deploys",
            "kind": "slack",
            "config": {"bot_token": VALID_TOKEN, "channel": "C0DEPLOYS"},
            "events": ["build.completed"],
        },
    )
    assert channel["config"]["bot_token"] == "••••" + VALID_TOKEN[-4:]
    tested = await notified.http.post(
        f"/notification-channels/{channel['id']}/test", headers=notified.admin
    )
    assert tested.json()["ok"] is True, tested.text
    [posted] = fake_slack.posted("C0DEPLOYS")
    assert "deploys" in posted.args["text"]


async def test_a_refused_address_is_never_called(notified: Stack) -> None:
    channel = await created(
        notified,
        {
            "name": "inside",
            "kind": "webhook",
            "config": {"url": "http://10.1.2.3/hook"},
            "events": ["build.completed"],
        },
    )
    tested = await notified.http.post(
        f"/notification-channels/{channel['id']}/test", headers=notified.admin
    )
    delivery = tested.json()["delivery"]
    assert delivery["status"] == "failed"
    assert delivery["attempts"] == 0
    assert delivery["error"].startswith("refused")


async def test_a_deleted_channel_is_gone(notified: Stack, receiver: Receiver) -> None:
    channel = await created(notified, webhook(receiver))
    deleted = await notified.http.delete(
        f"/notification-channels/{channel['id']}", headers=notified.admin
    )
    assert deleted.status_code == 200
    gone = await notified.http.get(
        f"/notification-channels/{channel['id']}", headers=notified.admin
    )
    assert gone.status_code == 404


async def test_secrets_are_sealed_at_rest(notified: Stack, receiver: Receiver) -> None:
    await created(notified, webhook(receiver))
    await created(
        notified,
        {
            "name": "deploys",
            "kind": "slack",
            "config": {"bot_token": VALID_TOKEN, "channel": "C0DEPLOYS"},
            "events": ["build.completed"],
        },
    )
    assert notified.notifier is not None
    async with notified.notifier.db.session() as session:
        rows = (await session.execute(text("SELECT * FROM notification_channels"))).all()
    stored = repr(rows).encode()
    assert b"C0DEPLOYS" in stored  # what is not secret is kept in the clear
