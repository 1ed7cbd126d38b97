"""`POST /slack/interactions`: signed by Slack, acknowledged at once, authorized by policy,
counted once per (message, action_ts), answered in Slack."""

import json
import time
from typing import Any

from tests.support.fake_slack import VALID_TOKEN, FakeSlack
from tests.support.flows import build_body, deploy_body
from tests.support.receiver import Receiver
from tests.support.slack_clicks import CHANNEL, buttons, click, post
from tests.support.stack import Stack


async def slack_channel(stack: Stack, events: list[str]) -> None:
    response = await stack.http.post(
        "/notification-channels/",
        json={
            "name": "deploys",
            "kind": "slack",
            "config": {"bot_token": VALID_TOKEN, "channel": CHANNEL},
            "events": events,
        },
        headers=stack.admin,
    )
    assert response.status_code == 201, response.text


async def submitted_request(stack: Stack, creator: dict[str, str]) -> dict[str, Any]:
    created = await stack.http.post(
        "/deployment-requests/",
        json={
            "name": "release 1.4",
            "items": [{"product": "api", "version": "1.4.0"}],
            "environments": ["production"],
            "approval_slots": [{"approval_type": "security"}],
        },
        headers=creator,
    )
    assert created.status_code == 201, created.text
    moved = await stack.http.post(
        f"/deployment-requests/{created.json()['id']}/submit", headers=creator
    )
    assert moved.status_code == 200, moved.text
    request: dict[str, Any] = moved.json()
    return request


async def test_unsigned_stale_or_forged_requests_are_401(notified: Stack) -> None:
    payload = {"type": "block_actions", "actions": []}
    assert await post(notified, payload) == 200
    assert await post(notified, payload, at=time.time() - 301) == 401
    assert await post(notified, payload, secret="not-the-secret") == 401
    unsigned = await notified.http.post(
        "/slack/interactions",
        content=b"payload=%7B%7D",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert unsigned.status_code == 401


async def test_a_slot_is_approved_from_slack_once_and_the_message_updated(
    notified: Stack, fake_slack: FakeSlack
) -> None:
    await slack_channel(notified, ["dr.activated"])
    developer = notified.auth(await notified.user("developer"))
    security = await notified.user("security", slack_user_id="U0SECURITY")
    request = await submitted_request(notified, developer)
    await fake_slack.wait_for(1)
    [message] = fake_slack.posted(CHANNEL)
    [(block_id, approve), _reject] = buttons(message)
    payload = click(message, "U0SECURITY", approve["value"], block_id, "1700000001.000001")

    assert await post(notified, payload) == 200
    assert await post(notified, payload) == 200  # Slack retried: counted once

    async def updated() -> bool:
        return any(c.method == "chat.update" for c in fake_slack.calls)

    await notified.wait_for(updated)
    decided = await notified.http.get(
        f"/deployment-requests/{request['id']}", headers=notified.auth(security)
    )
    assert decided.json()["status"] == "approved"
    [update] = [c for c in fake_slack.calls if c.method == "chat.update"]
    assert update.args["ts"] == message.response["ts"]
    assert "U0SECURITY" in json.dumps(update.args["blocks"])
    assert not any(c.method == "chat.postEphemeral" for c in fake_slack.calls)


async def test_the_creator_and_strangers_are_refused_only_to_themselves(
    notified: Stack, fake_slack: FakeSlack
) -> None:
    await slack_channel(notified, ["dr.activated"])
    creator = notified.auth(await notified.user("release_manager", slack_user_id="U0CREATOR"))
    request = await submitted_request(notified, creator)
    await fake_slack.wait_for(1)
    [message] = fake_slack.posted(CHANNEL)
    [(block_id, approve), _reject] = buttons(message)
    await post(notified, click(message, "U0CREATOR", approve["value"], block_id, "1.1"))
    await post(notified, click(message, "U0NOBODY", approve["value"], block_id, "1.2"))

    async def answered() -> bool:
        return sum(c.method == "chat.postEphemeral" for c in fake_slack.calls) == 2

    await notified.wait_for(answered)
    ephemeral = {
        c.args["user"]: c.args["text"] for c in fake_slack.calls if c.method == "chat.postEphemeral"
    }
    assert "may not" in ephemeral["U0CREATOR"]
    assert "not linked" in ephemeral["U0NOBODY"]
    still = await notified.http.get(f"/deployment-requests/{request['id']}", headers=creator)
    assert still.json()["status"] == "in_progress"
    assert not any(c.method == "chat.update" for c in fake_slack.calls)


async def test_a_deploy_button_fired_from_slack_reports_in_the_thread(
    notified: Stack, fake_slack: FakeSlack, receiver: Receiver
) -> None:
    await slack_channel(notified, ["build.completed"])
    await notified.user("developer", slack_user_id="U0DEV")
    ci = notified.auth(await notified.api_key())
    await notified.http.post("/build-events/", json=build_body(version="1.0.0"), headers=ci)
    made = await notified.http.post(
        "/deployment-buttons/",
        json={
            "product": "api",
            "environments": ["production"],
            "kind": "webhook",
            "url_template": receiver.url("/deploy?v={vi_version}"),
        },
        headers=notified.admin,
    )
    assert made.status_code == 201, made.text
    await notified.http.post("/build-events/", json=build_body(version="1.4.2"), headers=ci)
    await fake_slack.wait_for(2)
    ready = fake_slack.posted(CHANNEL)[-1]
    [(block_id, deploy)] = buttons(ready)
    await post(notified, click(ready, "U0DEV", deploy["value"], block_id, "2.1"))

    await receiver.wait_for(1)
    assert dict(receiver.requests[0].query) == {"v": "1.4.2"}
    await fake_slack.wait_until(lambda: len(fake_slack.posted(CHANNEL)) == 3)
    outcome = fake_slack.posted(CHANNEL)[-1]
    assert outcome.args["thread_ts"] == ready.response["ts"]
    assert "U0DEV" in outcome.args["text"] or "U0DEV" in json.dumps(outcome.args["blocks"])


async def test_without_a_signing_secret_the_endpoint_is_503(notified: Stack) -> None:
    notified.ingest_settings.slack_signing_secret = None
    assert await post(notified, {"type": "block_actions"}) == 503


async def test_a_blocked_deployment_asks_for_the_sign_off_and_slack_gives_it(
    notified: Stack, fake_slack: FakeSlack
) -> None:
    await slack_channel(notified, ["deployment.preflight_failed"])
    rule = await notified.http.post(
        "/deployment-rules/",
        json={
            "name": "qa signs production",
            "rule_type": "version_approval",
            "environments": ["production"],
            "config": {"approval_types": ["qa"]},
        },
        headers=notified.admin,
    )
    assert rule.status_code == 201, rule.text
    await notified.user("qa", slack_user_id="U0QA")
    ci = notified.auth(await notified.api_key())
    await notified.http.post("/build-events/", json=build_body(version="1.0.0"), headers=ci)
    start = deploy_body(version="1.0.0")
    assert (
        await notified.http.post("/deployment-events/", json=start, headers=ci)
    ).status_code == 428
    await fake_slack.wait_until(lambda: len(fake_slack.posted(CHANNEL)) == 1)
    [blocked] = fake_slack.posted(CHANNEL)
    [(block_id, approve)] = buttons(blocked)
    assert await post(notified, click(blocked, "U0QA", approve["value"], block_id, "3.1")) == 200

    await fake_slack.wait_until(lambda: any(c.method == "chat.update" for c in fake_slack.calls))
    assert (
        await notified.http.post("/deployment-events/", json=start, headers=ci)
    ).status_code == 200
