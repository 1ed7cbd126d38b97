"""Events answered 202 are noted to policy in as few messages as the moment allows."""

import asyncio
from uuid import uuid4

from versioner.common.messages.management import MAX_QUEUED_NOTES, NoteEventsQueued, QueuedEvent
from versioner.common.types import utcnow
from versioner.ingest.notes import QueuedNotes


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
