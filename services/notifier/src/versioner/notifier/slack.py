"""Posting to Slack through slack-sdk: the Web API with a bot token, or an incoming webhook.

The Web API's base URL is operator configuration (`VERSIONER_SLACK_API_URL`) and not checked;
an incoming-webhook URL is a channel's configuration, so it goes through the egress guard
like any outbound URL. Rate limits: slack-sdk's retry handler waits out a 429's
`Retry-After` (twice at most), and a connection error is tried once more.
"""

import time
from dataclasses import dataclass
from typing import Any

from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry import HttpRequest, HttpResponse, RetryState
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from versioner.notifier.egress import Egress
from versioner.notifier.metrics import SLACK_RATE_LIMIT_WAIT_SECONDS, SLACK_RATE_LIMIT_WAITS
from versioner.notifier.payloads import encode
from versioner.notifier.slack_blocks import SlackMessage
from versioner.notifier.transport import Outcome, Sleep, post

_TIMEOUT_S = 10


@dataclass(frozen=True)
class Posted:
    """A message Slack accepted: where, and its `ts` (for threads and updates)."""

    channel: str
    ts: str


class SlackError(Exception):
    """Slack refused or could not be reached; the message says why, without secrets."""


class _RateLimitWaits(AsyncRateLimitErrorRetryHandler):
    """slack-sdk's wait on a 429, counted and timed for the metrics."""

    async def prepare_for_next_attempt_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        """Wait as slack-sdk does, and count it."""
        started = time.monotonic()
        try:
            await super().prepare_for_next_attempt_async(
                state=state, request=request, response=response, error=error
            )
        finally:
            SLACK_RATE_LIMIT_WAITS.inc()
            SLACK_RATE_LIMIT_WAIT_SECONDS.inc(time.monotonic() - started)


def web_client(api_url: str, token: str) -> AsyncWebClient:
    """A Web API client for one bot token."""
    base = api_url if api_url.endswith("/") else api_url + "/"
    return AsyncWebClient(
        token=token,
        base_url=base,
        timeout=_TIMEOUT_S,
        retry_handlers=[
            _RateLimitWaits(max_retry_count=2),
            AsyncConnectionErrorRetryHandler(max_retry_count=1),
        ],
    )


async def post_message(
    client: AsyncWebClient, channel: str, message: SlackMessage, thread_ts: str | None = None
) -> Posted:
    """`chat.postMessage`, in a thread when given one."""
    try:
        response = await client.chat_postMessage(
            channel=channel,
            text=message.text,
            blocks=message.blocks,
            thread_ts=thread_ts,
            unfurl_links=False,
            unfurl_media=False,
        )
    except SlackApiError as exc:
        raise SlackError(
            f"Slack refused the message: {exc.response.get('error', 'error')}"
        ) from exc
    except (SlackClientError, OSError, TimeoutError) as exc:
        raise SlackError(f"Slack could not be reached: {type(exc).__name__}") from exc
    return Posted(channel=str(response.get("channel") or channel), ts=str(response["ts"]))


async def update_message(
    client: AsyncWebClient, channel: str, ts: str, message: SlackMessage
) -> None:
    """`chat.update`: the message at `ts` now says this."""
    try:
        await client.chat_update(channel=channel, ts=ts, text=message.text, blocks=message.blocks)
    except SlackApiError as exc:
        raise SlackError(f"Slack refused the update: {exc.response.get('error', 'error')}") from exc
    except (SlackClientError, OSError, TimeoutError) as exc:
        raise SlackError(f"Slack could not be reached: {type(exc).__name__}") from exc


async def post_ephemeral(
    client: AsyncWebClient, channel: str, user: str, text: str, thread_ts: str | None = None
) -> None:
    """`chat.postEphemeral`: only `user` sees it."""
    try:
        await client.chat_postEphemeral(channel=channel, user=user, text=text, thread_ts=thread_ts)
    except SlackApiError as exc:
        raise SlackError(
            f"Slack refused the message: {exc.response.get('error', 'error')}"
        ) from exc
    except (SlackClientError, OSError, TimeoutError) as exc:
        raise SlackError(f"Slack could not be reached: {type(exc).__name__}") from exc


async def post_incoming_webhook(
    egress: Egress, url: str, message: SlackMessage, *, sleep: Sleep
) -> Outcome:
    """Post to an incoming-webhook URL (flat messages, link buttons only), checked like any
    outbound URL and retried like a webhook."""
    body: dict[str, Any] = {"text": message.text, "blocks": message.blocks}
    headers = {"Content-Type": "application/json"}
    return await post(egress, url, headers, encode(body), sleep=sleep)
