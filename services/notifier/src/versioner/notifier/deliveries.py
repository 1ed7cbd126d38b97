"""From a domain event to the channels that want it: recorded, sent, recorded again.

Each (channel, event) is one delivery row: `sending` is committed before the call and `sent`
or `failed` after it. A redelivered event (the broker's at-least-once) finds the row: a
finished delivery is skipped, an unfinished one is sent again under the same id (the
`X-Versioner-Delivery` receivers drop duplicates by). The event is acked only after every
row is final, and a failed delivery is also handed to the dead-letter queue for an operator.
"""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from versioner.common import rows, tracing
from versioner.common.messages.domain import BuildEventOccurred, DomainEvent
from versioner.common.notifications import ChannelFilters, DeliveryPublic
from versioner.common.slack_actions import FireAction
from versioner.common.webhooks import WebhookBody
from versioner.notifier import channels, payloads, slack, slack_blocks, templates
from versioner.notifier.crypto import Sealer, SecretUnreadable
from versioner.notifier.db import Database
from versioner.notifier.egress import Egress
from versioner.notifier.metrics import DELIVERIES, DELIVERY_SECONDS
from versioner.notifier.tables import Button, ButtonEnvironment, Channel, Delivery, SlackThread
from versioner.notifier.transport import Outcome, Sleep, post, signed_headers

log = logging.getLogger("versioner.notifier")

DeadLetter = Callable[[Delivery, str], Awaitable[None]]


async def _nothing() -> object:
    return None


@dataclass
class Deliverer:
    """Everything a delivery needs: the database, the keys, the ways out."""

    db: Database
    sealer: Sealer
    egress: Egress
    public_url: str
    slack_api_url: str
    now: Callable[[], datetime]
    sleep: Sleep = asyncio.sleep
    dead_letter: DeadLetter | None = None
    concurrency: int = 8
    # Called after a channel change commits (the service binds the events it now wants).
    channels_changed: Callable[[], Awaitable[object]] = _nothing
    _limit: asyncio.Semaphore = field(init=False)
    # One first message per thread: later ones wait for its anchor (in this process; across
    # replicas the unique anchor row decides, and a loser posts outside the thread).
    _threads: dict[tuple[UUID, UUID, str], tuple[asyncio.Lock, list[int]]] = field(init=False)

    def __post_init__(self) -> None:
        self._limit = asyncio.Semaphore(self.concurrency)
        self._threads = {}

    async def handle(self, event: DomainEvent) -> list[Delivery]:
        """Deliver one event to every channel that wants it; the final rows."""
        wanted = await self._channels_for(event)
        if not wanted:
            return []
        return list(await asyncio.gather(*(self._deliver(c, event) for c in wanted)))

    async def _channels_for(self, event: DomainEvent) -> list[Channel]:
        products, environments = payloads.subject(event)
        async with self.db.session() as session:
            rows = (await session.execute(select(Channel).where(col(Channel.enabled)))).scalars()
            found = list(rows)
        return [
            c
            for c in found
            if event.event_type in c.events
            and ChannelFilters(
                products=c.filter_products, environments=c.filter_environments
            ).match(products, environments)
        ]

    async def _begin(self, channel: Channel, event_id: UUID, event_type: str) -> Delivery | None:
        """The delivery row, now `sending`; None when it already finished."""
        at = self.now()
        async with self.db.session() as session:
            found = (
                await session.execute(
                    select(Delivery).where(
                        col(Delivery.channel_id) == channel.id,
                        col(Delivery.event_id) == event_id,
                        col(Delivery.event_type) == event_type,
                    )
                )
            ).scalar_one_or_none()
            if found is not None and found.status != "sending":
                return None
            if found is None:
                found = Delivery(
                    channel_id=channel.id,
                    event_id=event_id,
                    event_type=event_type,
                    status="sending",
                    created_at=at,
                    updated_at=at,
                )
                session.add(found)
            else:
                found.updated_at = at
        return found

    async def _finish(self, delivery: Delivery, outcome: Outcome) -> Delivery:
        at = self.now()
        async with self.db.session() as session:
            row = await session.get(Delivery, delivery.seq)
            assert row is not None
            row.status = "sent" if outcome.ok else "failed"
            row.attempts += outcome.attempts
            row.status_code = outcome.status_code
            row.error = outcome.error[:2000] if outcome.error else None
            row.updated_at = at
            row.sent_at = at if outcome.ok else None
        if not outcome.ok:
            log.warning(
                "delivery %s of %s to channel %s failed: %s",
                row.id,
                row.event_type,
                row.channel_id,
                row.error,
                extra={"channel_id": str(row.channel_id)},
            )
            if self.dead_letter is not None:
                await self.dead_letter(row, row.error or "failed")
        return row

    async def _deliver(self, channel: Channel, event: DomainEvent) -> Delivery:
        try:
            delivery = await self._begin(channel, event.event_id, event.event_type)
        except IntegrityError:  # another replica began it at the same moment
            delivery = await self._begin(channel, event.event_id, event.event_type)
        if delivery is None:
            return await self._final(channel.id, event.event_id, event.event_type)
        started = time.perf_counter()
        async with self._limit:
            with tracing.span(
                f"deliver {event.event_type} to {channel.kind}",
                "client",
                {"versioner.channel": channel.name},
            ):
                outcome = await self._send(channel, event, delivery)
        DELIVERY_SECONDS.labels(channel_kind=channel.kind).observe(time.perf_counter() - started)
        DELIVERIES.labels(
            channel_kind=channel.kind, outcome="delivered" if outcome.ok else "failed"
        ).inc()
        if outcome.ok:
            log.info(
                "%s delivered to channel %s (%s)",
                event.event_type,
                channel.name,
                channel.kind,
                extra={"channel": channel.name, "channel_kind": channel.kind},
            )
        return await self._finish(delivery, outcome)

    async def _final(self, channel_id: UUID, event_id: UUID, event_type: str) -> Delivery:
        async with self.db.session() as session:
            return (
                await session.execute(
                    select(Delivery).where(
                        col(Delivery.channel_id) == channel_id,
                        col(Delivery.event_id) == event_id,
                        col(Delivery.event_type) == event_type,
                    )
                )
            ).scalar_one()

    async def _send(self, channel: Channel, event: DomainEvent, delivery: Delivery) -> Outcome:
        try:
            config = channels.opened(channel, self.sealer)
        except SecretUnreadable as exc:
            return Outcome(ok=False, attempts=0, error=str(exc))
        if channel.kind == "webhook":
            body = payloads.payload(event, self.public_url)
            if body is None:
                return Outcome(
                    ok=False, attempts=0, error=f"{event.event_type} has no webhook body"
                )
            return await self._webhook(config.values, event.event_type, delivery, body)
        message = slack_blocks.render(
            event,
            public_url=self.public_url,
            interactive=config.is_bot,
            buttons=await self.deploy_buttons(event),
        )
        if message is None:
            return Outcome(ok=True, attempts=0, error="nothing to post for this event")
        if not config.is_bot:
            return await slack.post_incoming_webhook(
                self.egress, config.values["webhook_url"], message, sleep=self.sleep
            )
        return await self._slack_bot(channel, config.values, event, message)

    async def deploy_buttons(self, event: DomainEvent) -> list[slack_blocks.DeployButton]:
        """The deployment buttons of a completed build's product, one per environment."""
        if not isinstance(event, BuildEventOccurred) or event.event_type != "build.completed":
            return []
        build = event.build
        async with self.db.session() as session:
            rows = (
                await session.execute(
                    select(Button, col(ButtonEnvironment.environment))
                    .join(ButtonEnvironment, col(ButtonEnvironment.button_id) == col(Button.id))
                    .where(col(Button.product_id) == build.product_id)
                    .order_by(col(Button.created_at), col(ButtonEnvironment.position))
                )
            ).all()
        found = []
        for button, environment in rows:
            if button.kind == "link":
                variables = templates.Variables(
                    version=build.version,
                    product_name=build.product_name,
                    product_id=build.product_id,
                    environment_name=environment,
                    environment_id=None,
                    sha=build.scm_sha,
                    build_number=build.build_number,
                )
                url = templates.render_url(button.url_template, variables)
                found.append(slack_blocks.DeployButton(button.label, environment, url=url))
            else:
                action = FireAction(
                    button_id=button.id,
                    product_id=build.product_id,
                    version=build.version,
                    environment=environment,
                )
                found.append(slack_blocks.DeployButton(button.label, environment, action=action))
        return found

    async def _webhook(
        self, config: dict[str, str], event_type: str, delivery: Delivery, body: WebhookBody
    ) -> Outcome:
        raw = payloads.encode(body.body())
        headers = signed_headers(event_type, delivery.id, raw, config.get("secret"), self.now())
        return await post(self.egress, config["url"], headers, raw, sleep=self.sleep)

    async def _slack_bot(
        self,
        channel: Channel,
        config: dict[str, str],
        event: DomainEvent,
        message: slack_blocks.SlackMessage,
    ) -> Outcome:
        client = slack.web_client(self.slack_api_url, config["bot_token"])
        key = slack_blocks.thread_key(event)
        if key is None:
            return await self._post(client, config["channel"], message, None)
        lock_key = (channel.id, *key)
        lock, users = self._threads.setdefault(lock_key, (asyncio.Lock(), [0]))
        users[0] += 1
        try:
            async with lock:
                anchor = await self._thread(channel.id, key)
                if anchor is not None:
                    return await self._post(client, config["channel"], message, anchor.ts)
                try:
                    posted = await slack.post_message(client, config["channel"], message)
                except slack.SlackError as exc:
                    return Outcome(ok=False, attempts=1, error=str(exc))
                await self._remember_thread(channel.id, key, posted)
                return Outcome(ok=True, attempts=1, status_code=200)
        finally:
            users[0] -= 1
            if not users[0]:
                del self._threads[lock_key]

    async def _post(
        self,
        client: AsyncWebClient,
        channel: str,
        message: slack_blocks.SlackMessage,
        thread_ts: str | None,
    ) -> Outcome:
        try:
            await slack.post_message(client, channel, message, thread_ts)
        except slack.SlackError as exc:
            return Outcome(ok=False, attempts=1, error=str(exc))
        return Outcome(ok=True, attempts=1, status_code=200)

    async def _thread(self, channel_id: UUID, key: tuple[UUID, str]) -> SlackThread | None:
        product_id, version = key
        async with self.db.session() as session:
            return (
                await session.execute(
                    select(SlackThread).where(
                        col(SlackThread.channel_id) == channel_id,
                        col(SlackThread.product_id) == product_id,
                        col(SlackThread.version) == version,
                    )
                )
            ).scalar_one_or_none()

    async def _remember_thread(
        self, channel_id: UUID, key: tuple[UUID, str], posted: slack.Posted
    ) -> None:
        product_id, version = key
        try:
            async with self.db.session() as session:
                session.add(
                    SlackThread(
                        channel_id=channel_id,
                        product_id=product_id,
                        version=version,
                        slack_channel=posted.channel,
                        ts=posted.ts,
                        created_at=self.now(),
                    )
                )
        except IntegrityError:  # a concurrent first message won: threads follow that one
            return

    async def test(self, channel: Channel, event_id: UUID) -> Delivery:
        """Send a test notification to one channel now, recorded like any delivery."""
        delivery = await self._begin(channel, event_id, "test")
        assert delivery is not None
        async with self._limit:
            outcome = await self._send_test(channel, delivery)
        return await self._finish(delivery, outcome)

    async def _send_test(self, channel: Channel, delivery: Delivery) -> Outcome:
        try:
            config = channels.opened(channel, self.sealer)
        except SecretUnreadable as exc:
            return Outcome(ok=False, attempts=0, error=str(exc))
        if channel.kind == "webhook":
            body = payloads.test_payload(channel.name, delivery.event_id, self.now())
            return await self._webhook(config.values, "test", delivery, body)
        message = slack_blocks.test_message(channel.name, self.public_url)
        if not config.is_bot:
            return await slack.post_incoming_webhook(
                self.egress, config.values["webhook_url"], message, sleep=self.sleep
            )
        client = slack.web_client(self.slack_api_url, config.values["bot_token"])
        return await self._post(client, config.values["channel"], message, None)


def delivery_public(row: Delivery) -> DeliveryPublic:
    """The API's view of a delivery."""
    return rows.public(DeliveryPublic, row)
