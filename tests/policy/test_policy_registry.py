"""Every management request has exactly one handler, which takes it and answers its reply."""

import pytest

from tests.support.registry import registry_problems
from versioner.common.messages.management import ManagementRequest, Ping
from versioner.policy import commands
from versioner.policy.registry import HANDLERS, handles


def test_every_request_has_one_handler_taking_it_and_answering_its_reply() -> None:
    assert registry_problems(HANDLERS, ManagementRequest) == []


def test_a_second_handler_for_a_request_is_refused() -> None:
    with pytest.raises(ValueError, match="Ping is already handled by ping"):
        handles(Ping)(commands.ping)
    assert HANDLERS.handler(Ping) is commands.ping
