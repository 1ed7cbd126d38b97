"""Every event by id: queued until its lane records it, then what it became (`GET /events/{id}`)."""

from uuid import uuid4

from tests.support.policy import (
    ADMIN,
    CI,
    OTHER_CI,
    Policy,
    build_event,
    noted,
    recorded_build,
    refused,
    result,
)
from versioner.common.messages.actor import SYSTEM
from versioner.common.messages.management import GetEvent, NoteEventsQueued, QueuedEvent
from versioner.common.resources import Done, EventStatus
from versioner.policy.catalog import builds


async def _status(policy: Policy, event_id: object, actor: object = CI) -> EventStatus:
    return result(
        await policy.ask(GetEvent.model_validate({"actor": actor, "event_id": event_id})),
        EventStatus,
    )


async def test_an_event_answered_202_is_queued_until_its_lane_records_it(policy: Policy) -> None:
    msg = build_event("api", "1.0.0", "completed", at=policy.clock.now())
    done = await policy.ask(noted(CI, msg.event_id, "build", policy.clock.now()))
    assert isinstance(done, Done)
    queued = await _status(policy, msg.event_id)
    assert (queued.status, queued.event_kind, queued.record_id) == ("queued", "build", None)
    build = recorded_build(await builds.handle_build_event(policy.ctx, msg))
    status = await _status(policy, msg.event_id)
    assert status.status == "recorded"
    assert (status.product_id, status.version_id, status.record_id) == (
        build.product_id,
        build.version_id,
        build.id,
    )
    assert status.detail is None


async def test_an_event_recorded_before_its_202_was_noted_stays_recorded(policy: Policy) -> None:
    msg = build_event("api", "1.0.0", "completed", at=policy.clock.now())
    recorded_build(await builds.handle_build_event(policy.ctx, msg))
    await policy.ask(noted(CI, msg.event_id, "build", policy.clock.now()))
    assert (await _status(policy, msg.event_id)).status == "recorded"


async def test_a_refused_event_is_rejected_with_its_error(policy: Policy) -> None:
    recorded_build(await policy.build("api", "1.0.0", "completed", scm_sha="abc"))
    msg = build_event("api", "1.0.0", "completed", scm_sha="def", at=policy.clock.now())
    refused(await builds.handle_build_event(policy.ctx, msg), 409)
    status = await _status(policy, msg.event_id)
    assert status.status == "rejected"
    assert status.detail["code"] == "VERSION_CONFLICT"


async def test_an_unknown_event_is_404(policy: Policy) -> None:
    refused(await policy.ask(GetEvent(actor=CI, event_id=uuid4())), 404)


async def test_an_api_key_sees_only_its_own_events(policy: Policy) -> None:
    msg = build_event("api", "1.0.0", "completed", at=policy.clock.now(), actor=CI)
    recorded_build(await builds.handle_build_event(policy.ctx, msg))
    assert (await _status(policy, msg.event_id, CI)).status == "recorded"
    refused(await policy.ask(GetEvent(actor=OTHER_CI, event_id=msg.event_id)), 404)


async def test_a_queued_event_is_shown_only_to_the_api_key_that_sent_it(policy: Policy) -> None:
    event_id = uuid4()
    await policy.ask(noted(CI, event_id, "deployment", policy.clock.now()))
    refused(await policy.ask(GetEvent(actor=OTHER_CI, event_id=event_id)), 404)
    assert (await _status(policy, event_id, CI)).status == "queued"


async def test_a_user_sees_any_event(policy: Policy) -> None:
    msg = build_event("api", "1.0.0", "completed", at=policy.clock.now(), actor=CI)
    recorded_build(await builds.handle_build_event(policy.ctx, msg))
    assert (await _status(policy, msg.event_id, ADMIN)).status == "recorded"


async def test_events_answered_202_at_one_moment_are_noted_in_one_message(policy: Policy) -> None:
    recorded = build_event("api", "1.0.0", "completed", at=policy.clock.now())
    recorded_build(await builds.handle_build_event(policy.ctx, recorded))
    waiting = [uuid4(), uuid4()]
    notes = [
        QueuedEvent(
            event_id=event_id,
            event_kind="deployment",
            sender_id=CI.id,
            received_at=policy.clock.now(),
        )
        for event_id in [*waiting, recorded.event_id]
    ]

    done = await policy.ask(NoteEventsQueued(actor=SYSTEM, events=notes))

    assert isinstance(done, Done)
    assert [(await _status(policy, event_id)).status for event_id in waiting] == ["queued"] * 2
    assert (await _status(policy, recorded.event_id)).status == "recorded"
    refused(await policy.ask(GetEvent(actor=OTHER_CI, event_id=waiting[0])), 404)
