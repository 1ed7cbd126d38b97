"""Management RPCs: the caller's permission is checked before anything is done."""

from uuid import uuid4

from tests.support.policy import CI, VIEWER, Policy, noted, refused, result, rows
from versioner.common.errors import FORBIDDEN
from versioner.common.messages.actor import ANONYMOUS, SYSTEM
from versioner.common.messages.management import (
    CreateApiKey,
    CreateUser,
    GetState,
    ListProducts,
    Ping,
    Pong,
)
from versioner.common.resources import Done, Page, ProductPublic, StateView
from versioner.common.roles import Role
from versioner.policy.store.tables import User


async def test_a_viewer_asking_to_create_a_user_is_403(policy: Policy) -> None:
    failure = refused(await policy.ask(CreateUser(actor=VIEWER, name="eve", role=Role.ADMIN)), 403)
    assert failure.body.to_json() == {"detail": FORBIDDEN}
    assert await rows(policy.ctx, User) == []


async def test_an_api_key_may_read_and_send_events_but_nothing_else(policy: Policy) -> None:
    result(await policy.ask(ListProducts(actor=CI)), Page[ProductPublic])
    result(await policy.ask(GetState(actor=CI)), StateView)
    result(
        await policy.ask(noted(CI, uuid4(), "build", policy.clock.now())),
        Done,
    )
    refused(await policy.ask(CreateApiKey(actor=CI, name="more")), 403)


async def test_a_viewer_may_read_but_not_send_events(policy: Policy) -> None:
    result(await policy.ask(ListProducts(actor=VIEWER)), Page[ProductPublic])
    refused(
        await policy.ask(noted(VIEWER, uuid4(), "build", policy.clock.now())),
        403,
    )


async def test_nobody_authenticated_may_not_even_read(policy: Policy) -> None:
    refused(await policy.ask(ListProducts(actor=ANONYMOUS)), 403)


async def test_ping_answers_with_the_time_when_the_database_answers(policy: Policy) -> None:
    pong = result(await policy.ask(Ping(actor=SYSTEM)), Pong)
    assert pong.at == policy.clock.now()
