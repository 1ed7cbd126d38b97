"""Every notifier request has exactly one handler, which takes it and answers its reply."""

import pytest

from tests.support.registry import registry_problems
from versioner.common.messages.notifier import GetChannel, NotifierRequest
from versioner.notifier import commands
from versioner.notifier.registry import HANDLERS, handles


def test_every_request_has_one_handler_taking_it_and_answering_its_reply() -> None:
    assert registry_problems(HANDLERS, NotifierRequest) == []


def test_a_second_handler_for_a_request_is_refused() -> None:
    with pytest.raises(ValueError, match="GetChannel is already handled by get_channel"):
        handles(GetChannel)(commands.get_channel)
    assert HANDLERS.handler(GetChannel) is commands.get_channel
