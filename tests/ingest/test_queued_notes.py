"""Events answered 202: noted to policy in as few messages as the moment allows, and
remembered by the gateway until policy surely has them."""

import asyncio
from uuid import uuid4

import pytest

from tests.support.stack import Stack
from versioner.common.messages.actor import Actor
from versioner.common.messages.management import MAX_QUEUED_NOTES, NoteEventsQueued, QueuedEvent
from versioner.common.resources import EventStatus
from versioner.common.roles import Role
from versioner.common.types import utcnow
from versioner.ingest.notes import REMEMBERED_S, AcceptedEvents, QueuedNotes


def queued() -> QueuedEvent:
    return QueuedEvent(
        event_id=uuid4(), event_kind="build", sender_id=uuid4(), received_at=utcnow()
    )


class Policy:
    """Takes the notes; publishing each message waits for `open` while it is not set."""

    def __init__(self) -> None:
        self.messages: list[NoteEventsQueued] = []
        self.open = asyncio.Event()
        self.open.set()
        self.fail = False
        self.publishing = asyncio.Event()

    async def send(self, message: NoteEventsQueued) -> None:
        self.publishing.set()
        await self.open.wait()
        if self.fail:
            raise ConnectionError("the broker went away")
        self.messages.append(message)


async def test_notes_made_at_the_same_moment_go_in_one_message() -> None:
    policy = Policy()
    notes = QueuedNotes(policy.send)
    events = [queued() for _ in range(5)]

    await asyncio.gather(*(notes.note(event) for event in events))

    assert [message.events for message in policy.messages] == [events]


async def test_notes_made_while_a_batch_is_published_wait_for_the_next_message() -> None:
    policy = Policy()
    notes = QueuedNotes(policy.send)
    policy.open.clear()
    first = asyncio.create_task(notes.note(queued()))
    await policy.publishing.wait()
    later = [queued() for _ in range(3)]
    waiting = [asyncio.create_task(notes.note(event)) for event in later]
    for _ in range(3):
        await asyncio.sleep(0)  # every task has noted and waits
    assert not first.done()
    assert not any(task.done() for task in waiting)

    policy.open.set()
    await asyncio.gather(first, *waiting)

    assert [len(message.events) for message in policy.messages] == [1, 3]
    assert policy.messages[1].events == later


async def test_a_large_moment_is_split_at_the_message_bound() -> None:
    policy = Policy()
    notes = QueuedNotes(policy.send)

    await asyncio.gather(*(notes.note(queued()) for _ in range(MAX_QUEUED_NOTES + 1)))

    assert [len(message.events) for message in policy.messages] == [MAX_QUEUED_NOTES, 1]


async def test_a_note_that_cannot_be_published_does_not_hold_its_caller() -> None:
    policy = Policy()
    policy.fail = True
    notes = QueuedNotes(policy.send)

    await asyncio.wait_for(notes.note(queued()), timeout=5)

    policy.fail = False
    await notes.note(event := queued())
    assert [message.events for message in policy.messages] == [[event]]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


CI = Actor(kind="api_key", id=uuid4(), name="ci")
OTHER_CI = Actor(kind="api_key", id=uuid4(), name="other")
PERSON = Actor(kind="user", id=uuid4(), name="ada", role=Role.VIEWER)


def sent_by(actor: Actor) -> QueuedEvent:
    return QueuedEvent(
        event_id=uuid4(), event_kind="deployment", sender_id=actor.id, received_at=utcnow()
    )


def test_an_event_answered_202_here_is_queued_for_its_sender_and_for_people() -> None:
    accepted = AcceptedEvents(Clock())
    event = sent_by(CI)
    accepted.remember(event)

    status = accepted.queued(event.event_id, CI)

    assert status == EventStatus(event_id=event.event_id, status="queued", event_kind="deployment")
    assert accepted.queued(event.event_id, PERSON) == status
    assert accepted.queued(event.event_id, OTHER_CI) is None
    assert accepted.queued(uuid4(), CI) is None


def test_an_accepted_event_is_forgotten_once_policy_surely_has_its_note() -> None:
    clock = Clock()
    accepted = AcceptedEvents(clock)
    old, recent = sent_by(CI), sent_by(CI)
    accepted.remember(old)
    clock.now += REMEMBERED_S / 2
    accepted.remember(recent)
    clock.now += REMEMBERED_S / 2

    assert accepted.queued(old.event_id, CI) is None
    assert accepted.queued(recent.event_id, CI) is not None


@pytest.mark.databases("sqlite")
async def test_get_event_finds_an_event_answered_202_before_policy_has_its_note(
    stack: Stack,
) -> None:
    mine, theirs = await stack.api_key(), await stack.api_key("other")
    sender = await stack.app.state.authenticator.actor(mine)
    event = sent_by(sender)
    stack.gateway.accepted.remember(event)  # its note not written by policy (yet)

    seen = await stack.http.get(f"/events/{event.event_id}", headers=stack.auth(mine))
    hidden = await stack.http.get(f"/events/{event.event_id}", headers=stack.auth(theirs))

    assert seen.status_code == 200
    assert (seen.json()["status"], seen.json()["event_kind"]) == ("queued", "deployment")
    assert hidden.status_code == 404
