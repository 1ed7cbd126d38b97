"""Every management request has exactly one handler, which takes it and answers its reply."""

import inspect
import types
from typing import get_args, get_type_hints

import pytest

from versioner.common.messages.management import ManagementRequest, Ping
from versioner.policy import commands
from versioner.policy.registry import HANDLERS, handles

REQUESTS = get_args(get_args(ManagementRequest)[0])


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
    with pytest.raises(ValueError, match="Ping is already handled by ping"):
        handles(Ping)(commands.ping)
    assert HANDLERS.handler(Ping) is commands.ping
