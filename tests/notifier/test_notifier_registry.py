"""Every notifier request has exactly one handler, which takes it and answers its reply."""

import inspect
import types
from typing import get_args, get_type_hints

import pytest

from versioner.common.messages.notifier import GetChannel, NotifierRequest
from versioner.notifier import commands
from versioner.notifier.registry import HANDLERS, handles

REQUESTS = get_args(get_args(NotifierRequest)[0])


def test_every_request_of_the_union_has_a_handler() -> None:
    assert HANDLERS.missing(REQUESTS) == []


def test_nothing_outside_the_union_is_handled() -> None:
    assert set(HANDLERS) == set(REQUESTS)


@pytest.mark.parametrize("request_type", REQUESTS, ids=lambda kind: kind.__name__)
def test_each_handler_takes_its_request_and_answers_its_reply(request_type: type) -> None:
    handler = HANDLERS.handler(request_type)
    hints = get_type_hints(handler)
    request_parameter = list(inspect.signature(handler).parameters)[1]
    assert hints[request_parameter] is request_type
    answers = hints["return"]
    assert request_type.reply in (
        get_args(answers) if isinstance(answers, types.UnionType) else (answers,)
    )


def test_a_second_handler_for_a_request_is_refused() -> None:
    with pytest.raises(ValueError, match="GetChannel is already handled by get_channel"):
        handles(GetChannel)(commands.get_channel)
    assert HANDLERS.handler(GetChannel) is commands.get_channel
