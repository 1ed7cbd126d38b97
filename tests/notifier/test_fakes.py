"""The test doubles against real clients: slack-sdk for the fake Slack, httpx for the receiver."""

import hashlib
import hmac
import json
import re
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import builtin_async_handlers
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from tests.support.fake_slack import BOT_USER_ID, VALID_TOKEN, FakeSlack
from tests.support.receiver import SIGNATURE_HEADER, Receiver, Reply, verify_signature

BLOCKS: list[dict[str, Any]] = [
    {"type": "section", "text": {"type": "mrkdwn", "text": "*shop 1.2.3* → prod"}},
    {
        "type": "actions",
        "elements": [
            {"type": "button", "action_id": "approve", "text": {"type": "plain_text", "text": "OK"}}
        ],
    },
]
TS = re.compile(r"^\d{10}\.\d{6}$")


def web_client(fake: FakeSlack, token: str = VALID_TOKEN, **options: Any) -> AsyncWebClient:
    return AsyncWebClient(token=token, base_url=fake.url, timeout=5, **options)


async def test_post_message_answers_a_fresh_ts_and_is_recorded_with_its_blocks(
    fake_slack: FakeSlack,
) -> None:
    client = web_client(fake_slack)

    first = await client.chat_postMessage(channel="C1", text="shop 1.2.3", blocks=BLOCKS)
    second = await client.chat_postMessage(channel="C2", text="again")

    assert first["ok"] is True
    assert first["channel"] == "C1"
    assert TS.match(first["ts"])
    assert float(second["ts"]) > float(first["ts"])
    assert first["message"]["blocks"] == BLOCKS
    [call] = fake_slack.posted("C1")
    assert call.token == VALID_TOKEN
    assert call.args == {"channel": "C1", "text": "shop 1.2.3", "blocks": BLOCKS}
    assert len(fake_slack.posted()) == 2


async def test_blocks_sent_as_a_json_string_in_a_form_post_are_parsed(
    fake_slack: FakeSlack,
) -> None:
    client = web_client(fake_slack)

    await client.api_call(
        "chat.postMessage", data={"channel": "C1", "text": "t", "blocks": json.dumps(BLOCKS)}
    )

    [call] = fake_slack.posted()
    assert call.args["blocks"] == BLOCKS


async def test_an_unknown_token_is_invalid_auth(fake_slack: FakeSlack) -> None:
    client = web_client(fake_slack, token="xoxb-not-a-real-token")

    with pytest.raises(SlackApiError) as raised:
        await client.chat_postMessage(channel="C1", text="t")

    assert raised.value.response["error"] == "invalid_auth"
    assert fake_slack.posted() == []
    assert fake_slack.calls[0].token == "xoxb-not-a-real-token"


async def test_a_channel_outside_the_configured_ones_is_not_found(fake_slack: FakeSlack) -> None:
    fake_slack.channels = {"C1"}
    client = web_client(fake_slack)

    await client.chat_postMessage(channel="C1", text="t")
    with pytest.raises(SlackApiError) as raised:
        await client.chat_postMessage(channel="C404", text="t")

    assert raised.value.response["error"] == "channel_not_found"


async def test_update_ephemeral_auth_and_channel_info(fake_slack: FakeSlack) -> None:
    client = web_client(fake_slack)
    posted = await client.chat_postMessage(channel="C1", text="pending")

    updated = await client.chat_update(channel="C1", ts=posted["ts"], text="approved")
    ephemeral = await client.chat_postEphemeral(channel="C1", user="U1", text="only you")
    auth = await client.auth_test()
    info = await client.conversations_info(channel="C1")

    assert updated["ts"] == posted["ts"]
    assert fake_slack.messages["C1", posted["ts"]]["text"] == "approved"
    assert TS.match(ephemeral["message_ts"])
    assert auth["user_id"] == BOT_USER_ID
    assert info["channel"]["id"] == "C1"
    with pytest.raises(SlackApiError) as raised:
        await client.chat_update(channel="C1", ts="1.000000", text="x")
    assert raised.value.response["error"] == "message_not_found"


async def test_the_rate_limit_handler_retries_after_a_429(
    fake_slack: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The handler sleeps Retry-After plus up to one random second; no jitter keeps this fast.
    monkeypatch.setattr(builtin_async_handlers, "random", SimpleNamespace(random=lambda: 0.0))
    fake_slack.rate_limit(times=1, retry_after=0)
    client = web_client(
        fake_slack, retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=1)]
    )

    response = await client.chat_postMessage(channel="C1", text="t")

    assert response["ok"] is True
    assert [call.status for call in fake_slack.calls] == [429, 200]
    assert len(fake_slack.posted()) == 1


async def test_without_a_rate_limit_handler_a_429_is_an_error(fake_slack: FakeSlack) -> None:
    fake_slack.rate_limit(times=1, retry_after=7)
    client = web_client(fake_slack)

    with pytest.raises(SlackApiError) as raised:
        await client.chat_postMessage(channel="C1", text="t")

    assert raised.value.response.status_code == 429
    assert raised.value.response.headers["Retry-After"] == "7"
    assert raised.value.response["error"] == "ratelimited"


async def test_a_failure_answers_its_status_then_recovers(fake_slack: FakeSlack) -> None:
    fake_slack.fail(times=1, status=503)
    client = web_client(fake_slack)

    with pytest.raises(SlackApiError) as raised:
        await client.chat_postMessage(channel="C1", text="t")
    await client.chat_postMessage(channel="C1", text="t")

    assert raised.value.response.status_code == 503
    assert len(fake_slack.posted()) == 1


async def test_an_incoming_webhook_answers_ok_and_records_the_post(fake_slack: FakeSlack) -> None:
    webhook = AsyncWebhookClient(fake_slack.webhook_url("deploys"), timeout=5)

    response = await webhook.send(text="shop 1.2.3", blocks=BLOCKS)

    assert (response.status_code, response.body) == (200, "ok")
    [post] = fake_slack.webhook_posts("deploys")
    assert post.body == {"text": "shop 1.2.3", "blocks": BLOCKS}
    assert fake_slack.webhook_posts("other") == []


async def test_a_rate_limited_webhook_is_retried_by_the_handler(
    fake_slack: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(builtin_async_handlers, "random", SimpleNamespace(random=lambda: 0.0))
    fake_slack.rate_limit(times=1, retry_after=0)
    webhook = AsyncWebhookClient(
        fake_slack.webhook_url("deploys"),
        timeout=5,
        retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=1)],
    )

    response = await webhook.send(text="t")

    assert (response.status_code, response.body) == (200, "ok")
    assert [post.status for post in fake_slack.webhook_posts("deploys")] == [429, 200]


async def test_an_incoming_webhook_without_text_is_refused(fake_slack: FakeSlack) -> None:
    webhook = AsyncWebhookClient(fake_slack.webhook_url("deploys"), timeout=5)

    response = await webhook.send_dict({"unfurl_links": False})

    assert (response.status_code, response.body) == (400, "no_text")


async def test_a_response_url_records_the_reply(fake_slack: FakeSlack) -> None:
    responder = AsyncWebhookClient(fake_slack.response_url("action-1"), timeout=5)

    response = await responder.send(
        text="approved", replace_original=True, response_type="in_channel"
    )

    assert response.status_code == 200
    [post] = fake_slack.responses("action-1")
    assert post.body == {
        "text": "approved",
        "replace_original": True,
        "response_type": "in_channel",
    }


async def test_the_receiver_records_method_path_query_headers_and_raw_body(
    receiver: Receiver,
) -> None:
    body = b'{"event": "deployment.completed"}'
    async with httpx.AsyncClient(timeout=5) as client:
        response = await client.post(
            receiver.url("/hooks/a?attempt=1"),
            content=body,
            headers={"Content-Type": "application/json", "X-Custom": "yes"},
        )

    assert response.status_code == 200
    [request] = await receiver.wait_for(1)
    assert (request.method, request.path, request.query["attempt"]) == ("POST", "/hooks/a", "1")
    assert request.headers["x-custom"] == "yes"
    assert request.body == body
    assert request.json() == {"event": "deployment.completed"}


async def test_the_receiver_answers_its_script_then_the_default(receiver: Receiver) -> None:
    receiver.script("/hook", Reply(503, headers={"Retry-After": "2"}, body="busy"))
    async with httpx.AsyncClient(timeout=5) as client:
        first = await client.post(receiver.url("/hook"), content=b"1")
        second = await client.post(receiver.url("/hook"), content=b"2")

    assert (first.status_code, first.headers["Retry-After"], first.text) == (503, "2", "busy")
    assert second.status_code == 200
    assert [r.body for r in receiver.requests_to("/hook")] == [b"1", b"2"]


async def test_the_receiver_redirects(receiver: Receiver) -> None:
    receiver.script("/old", Reply.redirect(receiver.url("/new")))
    async with httpx.AsyncClient(timeout=5) as client:
        unfollowed = await client.post(receiver.url("/old"), content=b"x")
        receiver.script("/old", Reply.redirect(receiver.url("/new")))
        followed = await client.get(receiver.url("/old"), follow_redirects=True)

    assert unfollowed.status_code == 302
    assert unfollowed.headers["Location"] == receiver.url("/new")
    assert followed.status_code == 200
    assert [r.path for r in receiver.requests] == ["/old", "/old", "/new"]


async def test_a_delayed_reply_trips_the_senders_timeout(receiver: Receiver) -> None:
    receiver.script("/slow", Reply(delay=5))
    async with httpx.AsyncClient(timeout=0.2) as client:
        with pytest.raises(httpx.ReadTimeout):
            await client.post(receiver.url("/slow"), content=b"x")

    assert len(receiver.requests_to("/slow")) == 1


async def test_a_dropped_connection_gets_no_answer(receiver: Receiver) -> None:
    receiver.script("/drop", Reply(drop=True))
    async with httpx.AsyncClient(timeout=5) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            await client.post(receiver.url("/drop"), content=b"x")
        after = await client.post(receiver.url("/drop"), content=b"y")

    assert after.status_code == 200


async def test_wait_for_gives_up_after_its_timeout(receiver: Receiver) -> None:
    with pytest.raises(TimeoutError):
        await receiver.wait_for(1, timeout=0.05)


def test_verify_signature_accepts_the_hmac_of_the_raw_body_only() -> None:
    body = b'{"event": "deployment.completed"}'
    header = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()

    assert verify_signature("s3cret", body, header)
    assert verify_signature(b"s3cret", body, header)
    assert not verify_signature("other", body, header)
    assert not verify_signature("s3cret", body + b" ", header)
    assert not verify_signature("s3cret", body, header.removeprefix("sha256="))
    assert not verify_signature("s3cret", body, None)
    assert SIGNATURE_HEADER == "X-Versioner-Signature"
