"""Answers in Slack: a clicked message updated with who did what, a refusal only the clicker
sees, a fired button's outcome in its version's thread.

Through the bot token of a channel posting to that Slack channel when there is one; else
through the click's `response_url` (checked like any outbound URL).
"""

import logging
from typing import Any
from uuid import UUID

from sqlalchemy import select
from sqlmodel import col

from versioner.common.messages.domain import ButtonFireRequested, SlackActionHandled, SlackOrigin
from versioner.notifier import channels, slack, slack_blocks
from versioner.notifier.crypto import SecretUnreadable
from versioner.notifier.deliveries import Deliverer
from versioner.notifier.payloads import encode
from versioner.notifier.tables import Channel, Firing, SlackThread
from versioner.notifier.transport import post

log = logging.getLogger("versioner.notifier")


async def _bots(deliverer: Deliverer) -> list[tuple[Channel, dict[str, str]]]:
    """Every enabled Slack channel with a bot token, its configuration opened."""
    async with deliverer.db.session() as session:
        rows = list(
            (
                await session.execute(
                    select(Channel).where(col(Channel.enabled), col(Channel.kind) == "slack")
                )
            ).scalars()
        )
    found = []
    for row in rows:
        try:
            config = channels.opened(row, deliverer.sealer)
        except SecretUnreadable:
            continue
        if config.is_bot:
            found.append((row, config.values))
    return found


async def _bot_for(deliverer: Deliverer, slack_channel: str) -> dict[str, str] | None:
    """The configuration of a bot channel posting to this Slack channel (by id or name)."""
    bots = await _bots(deliverer)
    for _row, config in bots:
        if config["channel"] == slack_channel:
            return config
    async with deliverer.db.session() as session:
        anchored = set(
            (
                await session.execute(
                    select(col(SlackThread.channel_id)).where(
                        col(SlackThread.slack_channel) == slack_channel
                    )
                )
            ).scalars()
        )
    return next((config for row, config in bots if row.id in anchored), None)


async def _respond(deliverer: Deliverer, url: str, body: dict[str, Any]) -> None:
    headers = {"Content-Type": "application/json"}
    outcome = await post(deliverer.egress, url, headers, encode(body), sleep=deliverer.sleep)
    if not outcome.ok:
        log.warning("answering through Slack's response_url failed: %s", outcome.error)


async def answer(deliverer: Deliverer, event: SlackActionHandled) -> None:
    """Update the clicked message (done) or tell the clicker alone (refused)."""
    origin = event.origin
    bot = await _bot_for(deliverer, origin.channel_id)
    try:
        if bot is not None:
            client = slack.web_client(deliverer.slack_api_url, bot["bot_token"])
            if event.ok:
                blocks = slack_blocks.acted(origin.blocks, event.note, block_id=origin.block_id)
                await slack.update_message(
                    client,
                    origin.channel_id,
                    origin.message_ts,
                    slack_blocks.SlackMessage(text=event.note, blocks=blocks),
                )
            else:
                await slack.post_ephemeral(
                    client, origin.channel_id, origin.slack_user_id, event.note, origin.thread_ts
                )
            return
    except slack.SlackError as exc:
        log.warning("answering a click in Slack failed: %s", exc)
    if origin.response_url is None:
        return
    if event.ok:
        blocks = slack_blocks.acted(origin.blocks, event.note, block_id=origin.block_id)
        await _respond(
            deliverer,
            origin.response_url,
            {"replace_original": True, "text": event.note, "blocks": blocks},
        )
    else:
        await _respond(
            deliverer,
            origin.response_url,
            {"response_type": "ephemeral", "replace_original": False, "text": event.note},
        )


async def _threads(
    deliverer: Deliverer, product_id: UUID, version: str
) -> list[tuple[dict[str, str], str, str]]:
    """Every bot channel's thread about this version: (config, Slack channel, ts)."""
    async with deliverer.db.session() as session:
        anchors = list(
            (
                await session.execute(
                    select(SlackThread).where(
                        col(SlackThread.product_id) == product_id,
                        col(SlackThread.version) == version,
                    )
                )
            ).scalars()
        )
    bots = {row.id: config for row, config in await _bots(deliverer)}
    return [(bots[a.channel_id], a.slack_channel, a.ts) for a in anchors if a.channel_id in bots]


def _who(event: ButtonFireRequested, origin: SlackOrigin | None) -> str:
    if origin is not None:
        return origin.slack_user_id
    return event.actor.partition(":")[2] or event.actor


async def report_firing(
    deliverer: Deliverer, event: ButtonFireRequested, firing: Firing, label: str
) -> None:
    """Post a firing's outcome where people look: the clicked message's thread, or the
    version's threads when it was fired from the API or the dashboard."""
    message = slack_blocks.fired(
        label=label,
        environment=firing.environment,
        version=firing.version,
        status_code=firing.status_code,
        error=firing.error if firing.status_code is None else None,
        by=_who(event, event.origin),
    )
    origin = event.origin
    places: list[tuple[dict[str, str], str, str]] = []
    if origin is None:
        places = await _threads(deliverer, event.variables.product_id, event.variables.version)
    elif bot := await _bot_for(deliverer, origin.channel_id):
        places = [(bot, origin.channel_id, origin.thread_ts or origin.message_ts)]
    elif origin.response_url:
        await _respond(
            deliverer,
            origin.response_url,
            {"response_type": "in_channel", "replace_original": False, "text": message.text},
        )
    for config, slack_channel, thread_ts in places:
        client = slack.web_client(deliverer.slack_api_url, config["bot_token"])
        try:
            await slack.post_message(client, slack_channel, message, thread_ts)
        except slack.SlackError as exc:
            log.warning("posting a firing's outcome failed: %s", exc)
