"""The notifier's RPCs: its configuration, asked by ingest on behalf of a caller.

Channels are answered here, buttons in `buttons.py`; each handler is registered with
`@handles(Request)` (`registry.py`), and importing `buttons` here registers its own.
"""

from uuid import UUID, uuid4

from pydantic import BaseModel
from sqlalchemy import func, select, tuple_
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from versioner.common.errors import Failure, conflict, forbidden, not_found
from versioner.common.messages.notifier import (
    CreateChannel,
    DeleteChannel,
    GetChannel,
    ListChannels,
    ListDeliveries,
    NotifierRequest,
    TestChannel,
    UpdateChannel,
)
from versioner.common.notifications import ChannelPublic, ChannelTested, DeliveryPublic
from versioner.common.resources import Done, Page
from versioner.notifier import buttons, channels, logs  # noqa: F401 (buttons registers)
from versioner.notifier.deliveries import Deliverer, delivery_public
from versioner.notifier.registry import HANDLERS, handles
from versioner.notifier.tables import Channel, Delivery


def _taken(name: str) -> Failure:
    return conflict(f"A notification channel named '{name}' already exists")


@handles(CreateChannel)
async def create_channel(deliverer: Deliverer, request: CreateChannel) -> ChannelPublic | Failure:
    """A new channel."""
    values = channels.check(request.channel_kind, request.config)
    if isinstance(values, Failure):
        return values
    at = deliverer.now()
    channel = Channel(
        name=request.name,
        kind=request.channel_kind,
        events=list(request.events),
        filter_products=list(request.filters.products),
        filter_environments=list(request.filters.environments),
        enabled=request.enabled,
        created_by=request.actor.label,
        created_at=at,
        updated_at=at,
    )
    channels.store(channel, values, deliverer.sealer)
    try:
        async with deliverer.db.session() as session:
            session.add(channel)
    except IntegrityError:
        return _taken(request.name)
    await deliverer.channels_changed()
    return channels.public(channel)


async def _channel(deliverer: Deliverer, channel_id: UUID) -> Channel | None:
    async with deliverer.db.session() as session:
        return await session.get(Channel, channel_id)


@handles(GetChannel)
async def get_channel(deliverer: Deliverer, request: GetChannel) -> ChannelPublic | Failure:
    """One channel."""
    channel = await _channel(deliverer, request.channel_id)
    return channels.public(channel) if channel else not_found()


@handles(ListChannels)
async def list_channels(
    deliverer: Deliverer, request: ListChannels
) -> Page[ChannelPublic] | Failure:
    """Channels, newest first, from the cursor on."""
    order = (col(Channel.created_at).desc(), col(Channel.id).desc())
    async with deliverer.db.session() as session:
        stmt = select(Channel)
        if request.before is not None:
            cursor = await session.get(Channel, request.before)
            if cursor is None:
                return not_found()
            stmt = stmt.where(
                tuple_(col(Channel.created_at), col(Channel.id))
                < tuple_(cursor.created_at, cursor.id)
            )
        rows = (await session.execute(stmt.order_by(*order).limit(request.limit))).scalars()
        total = (await session.execute(select(func.count()).select_from(Channel))).scalar_one()
        return Page[ChannelPublic](items=[channels.public(c) for c in rows], total=total)


@handles(UpdateChannel)
async def update_channel(deliverer: Deliverer, request: UpdateChannel) -> ChannelPublic | Failure:
    """Change a channel; config keys left out keep their value."""
    try:
        async with deliverer.db.session() as session:
            channel = await session.get(Channel, request.channel_id)
            if channel is None:
                return not_found()
            if request.config is not None:
                values = channels.check(
                    channel.kind, channels.merged(channel, request.config, deliverer.sealer)
                )
                if isinstance(values, Failure):
                    return values
                channels.store(channel, values, deliverer.sealer)
            if request.name is not None:
                channel.name = request.name
            if request.events is not None:
                channel.events = list(request.events)
            if request.filters is not None:
                channel.filter_products = list(request.filters.products)
                channel.filter_environments = list(request.filters.environments)
            if request.enabled is not None:
                channel.enabled = request.enabled
            channel.updated_at = deliverer.now()
    except IntegrityError:
        return _taken(request.name or "")
    await deliverer.channels_changed()
    return channels.public(channel)


@handles(DeleteChannel)
async def delete_channel(deliverer: Deliverer, request: DeleteChannel) -> Done | Failure:
    """Remove a channel and its delivery log."""
    async with deliverer.db.session() as session:
        channel = await session.get(Channel, request.channel_id)
        if channel is None:
            return not_found()
        await session.delete(channel)
    await deliverer.channels_changed()
    return Done()


@handles(TestChannel)
async def test_channel(deliverer: Deliverer, request: TestChannel) -> ChannelTested | Failure:
    """Send a test notification now."""
    channel = await _channel(deliverer, request.channel_id)
    if channel is None:
        return not_found()
    delivery = await deliverer.test(channel, uuid4())
    return ChannelTested(ok=delivery.status == "sent", delivery=delivery_public(delivery))


@handles(ListDeliveries)
async def list_deliveries(
    deliverer: Deliverer, request: ListDeliveries
) -> Page[DeliveryPublic] | Failure:
    """A channel's delivery log, newest first."""
    async with deliverer.db.session() as session:
        if await session.get(Channel, request.channel_id) is None:
            return not_found()
        where = [col(Delivery.channel_id) == request.channel_id]
        if request.status is not None:
            where.append(col(Delivery.status) == request.status)
        return await logs.page(
            session,
            Delivery,
            where,
            before=request.before,
            limit=request.limit,
            view=DeliveryPublic,
        )


async def handle(deliverer: Deliverer, request: NotifierRequest) -> BaseModel:
    """Run one request with its registered handler; its result or a `Failure`."""
    if not request.actor.may(request.permission):
        return forbidden()
    return await HANDLERS.run(deliverer, request)
