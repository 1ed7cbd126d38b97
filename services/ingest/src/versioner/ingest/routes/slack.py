"""`POST /slack/interactions`: Slack's interactivity endpoint.

Slack signs each request (`X-Slack-Signature` v0 over the timestamp and the raw body, with
the app's signing secret) and wants an answer within 3 s. The signature and its five-minute
window are checked here (slack-sdk's `SignatureVerifier`); the click is then acknowledged at
once with an empty 200 and handed to policy, which maps the Slack user, checks the role,
counts the click once and has the notifier answer in Slack (the message updated, or a
refusal only the clicker sees).
"""

import asyncio
import json
import logging
from typing import Any
from urllib.parse import parse_qs

from fastapi import Request, Response
from pydantic import ValidationError
from slack_sdk.signature import SignatureVerifier

from versioner.common.messages.actor import SYSTEM
from versioner.common.messages.domain import SlackOrigin
from versioner.common.messages.management import HandleSlackAction
from versioner.common.slack_actions import decode
from versioner.ingest.deps import GatewayDep, SettingsDep
from versioner.ingest.gateway import FailureError, PolicyGateway
from versioner.ingest.web import Router

log = logging.getLogger("versioner.ingest")

router = Router(tags=["slack"])

_NOT_CONFIGURED = (
    b'{"detail":"Slack interactivity is not configured: set VERSIONER_SLACK_SIGNING_SECRET"}'
)
_BAD_SIGNATURE = b'{"detail":"Invalid Slack signature"}'


def _verified(secret: str, body: bytes, request: Request) -> bool:
    try:
        return SignatureVerifier(secret).is_valid(
            body,
            request.headers.get("x-slack-request-timestamp"),
            request.headers.get("x-slack-signature"),
        )
    except ValueError:  # a timestamp that is not a number
        return False


def clicks(payload: dict[str, Any]) -> list[HandleSlackAction]:
    """The Versioner actions in a `block_actions` payload (link clicks and foreign buttons
    carry none)."""
    if payload.get("type") != "block_actions":
        return []
    container = payload.get("container") or {}
    message = payload.get("message") or {}
    channel = (payload.get("channel") or {}).get("id") or container.get("channel_id")
    user = (payload.get("user") or {}).get("id")
    message_ts = container.get("message_ts") or message.get("ts")
    if not (channel and user and message_ts):
        return []
    found = []
    for action in payload.get("actions") or []:
        try:
            decoded = decode(str(action.get("value", "")))
            origin = SlackOrigin(
                channel_id=channel,
                message_ts=message_ts,
                thread_ts=message.get("thread_ts"),
                slack_user_id=user,
                response_url=payload.get("response_url"),
                block_id=action.get("block_id"),
                blocks=message.get("blocks") or [],
            )
            found.append(
                HandleSlackAction(
                    actor=SYSTEM,
                    action=decoded,
                    action_ts=str(action.get("action_ts") or payload.get("trigger_id") or ""),
                    origin=origin,
                )
            )
        except (ValueError, ValidationError):
            continue
    return found


async def _hand_over(gateway: PolicyGateway, click: HandleSlackAction) -> None:
    try:
        await gateway.ask(click)
    except FailureError as exc:
        log.warning("a Slack click was not handled: %s", exc.failure.status_code)


@router.post("/slack/interactions", include_in_schema=True, status_code=200)
async def interactions(request: Request, gateway: GatewayDep, settings: SettingsDep) -> Response:
    """Verify, acknowledge at once, and let policy act on the click."""
    if settings.slack_signing_secret is None:
        return Response(_NOT_CONFIGURED, status_code=503, media_type="application/json")
    body = await request.body()
    if not _verified(settings.slack_signing_secret.get_secret_value(), body, request):
        return Response(_BAD_SIGNATURE, status_code=401, media_type="application/json")
    form = parse_qs(body.decode("utf-8", "replace"))
    try:
        payload = json.loads(form.get("payload", ["{}"])[0])
    except json.JSONDecodeError:
        return Response(status_code=200)
    tasks: set[asyncio.Task[None]] = request.app.state.slack_tasks
    for click in clicks(payload if isinstance(payload, dict) else {}):
        task = asyncio.create_task(_hand_over(gateway, click))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    return Response(status_code=200)
