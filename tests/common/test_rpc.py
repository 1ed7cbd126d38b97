"""Requests typed by their reply: the reply is read from the type parameter, the JSON is the
fields alone (ingest and policy of different versions still understand each other)."""

import json
from uuid import UUID

import pytest

from versioner.common.errors import Failure, not_found
from versioner.common.messages.actor import SYSTEM
from versioner.common.messages.management import (
    DeleteRule,
    GetUser,
    ListUsers,
    ManagementCall,
    Ping,
    Pong,
)
from versioner.common.messages.notifier import ListChannels
from versioner.common.messages.rpc import Handlers
from versioner.common.notifications import ChannelPublic
from versioner.common.resources import Done, Page, UserPublic

USER = UUID("00000000-0000-0000-0000-000000000001")


def test_the_reply_is_the_type_parameter() -> None:
    assert Ping.reply is Pong
    assert GetUser.reply is UserPublic
    assert ListUsers.reply is Page[UserPublic]
    assert DeleteRule.reply is Done
    assert ListChannels.reply is Page[ChannelPublic]


def test_a_request_travels_as_its_fields_only() -> None:
    body = json.loads(ListUsers(actor=SYSTEM, limit=5).model_dump_json())
    assert list(body) == ["actor", "limit", "before", "kind"]
    assert body["kind"] == "list_users"
    assert json.loads(GetUser(actor=SYSTEM, user_id=USER).model_dump_json()) == {
        "actor": SYSTEM.model_dump(mode="json"),
        "kind": "get_user",
        "user_id": str(USER),
    }


async def test_handlers_run_the_one_registered_for_the_request_type() -> None:
    handlers: Handlers[str] = Handlers()

    @handlers.handles(GetUser)
    async def get_user(ctx: str, request: GetUser) -> UserPublic | Failure:
        return not_found()

    assert GetUser in handlers
    assert Ping not in handlers
    assert handlers.missing([GetUser, Ping]) == ["Ping"]
    answer = await handlers.run("ctx", GetUser(actor=SYSTEM, user_id=USER))
    assert isinstance(answer, Failure)
    assert answer.status_code == 404
    with pytest.raises(ValueError, match="GetUser is already handled"):
        handlers.handles(GetUser)(get_user)


def test_a_generic_base_has_no_reply_until_parametrized() -> None:
    assert not hasattr(ManagementCall, "reply")
