"""Clicks on Slack messages as Slack sends them: signed `block_actions` payloads posted to
`/slack/interactions`."""

import hashlib
import hmac
import json
import time
from typing import Any
from urllib.parse import urlencode

from tests.support.fake_slack import Call
from tests.support.notifier import SIGNING_SECRET
from tests.support.stack import Stack

CHANNEL = "C0DEPLOYS"


def signed(
    payload: dict[str, Any], *, at: float | None = None, secret: str = SIGNING_SECRET
) -> tuple[bytes, dict[str, str]]:
    """A request body and headers as Slack sends them."""
    body = urlencode({"payload": json.dumps(payload)}).encode()
    timestamp = str(int(at if at is not None else time.time()))
    digest = hmac.new(secret.encode(), f"v0:{timestamp}:".encode() + body, hashlib.sha256)
    return body, {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": "v0=" + digest.hexdigest(),
    }


def click(
    message: Call, slack_user: str, value: str, block_id: str, action_ts: str
) -> dict[str, Any]:
    """A `block_actions` payload for a click on a button of a posted message."""
    return {
        "type": "block_actions",
        "user": {"id": slack_user},
        "channel": {"id": CHANNEL},
        "container": {
            "type": "message",
            "channel_id": CHANNEL,
            "message_ts": message.response["ts"],
        },
        "message": {"ts": message.response["ts"], "blocks": message.args["blocks"]},
        "response_url": "",
        "actions": [
            {
                "action_id": "versioner.x:0",
                "block_id": block_id,
                "value": value,
                "action_ts": action_ts,
            }
        ],
    }


def buttons(message: Call) -> list[tuple[str, dict[str, Any]]]:
    """(block_id, element) of every interactive button of a message."""
    return [
        (block.get("block_id", ""), element)
        for block in message.args["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
        if "value" in element
    ]


async def post(stack: Stack, payload: dict[str, Any], **options: Any) -> int:
    body, headers = signed(payload, **options)
    response = await stack.http.post("/slack/interactions", content=body, headers=headers)
    return response.status_code
