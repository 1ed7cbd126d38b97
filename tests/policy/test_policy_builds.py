"""Build events: every one finds or creates the version; a completed one registers it."""

from datetime import UTC, datetime
from uuid import uuid4

import pytest
from pydantic import ValidationError

from tests.support.policy import (
    CI,
    Policy,
    audit_entries,
    build_event,
    count,
    detail_of,
    noted,
    outbox,
    recorded_build,
    refused,
    result,
    rows,
)
from versioner.common.messages.domain import BuildEventOccurred, EventRejected
from versioner.common.messages.management import GetVersion
from versioner.common.resources import VersionPublic
from versioner.policy.catalog import builds
from versioner.policy.store.tables import Build, EventRecord, Version


async def _version(policy: Policy, reply_version_id: object) -> VersionPublic:
    [version] = await rows(policy.ctx, Version)
    assert version.id == reply_version_id
    return result(await policy.ask(GetVersion(actor=CI, version_id=version.id)), VersionPublic)


async def test_the_reply_carries_every_field_of_the_200_body(policy: Policy) -> None:
    build = recorded_build(
        await policy.build(
            "api",
            "1.2.3",
            "completed",
            scm_sha="abc1234",
            build_number=42,
            build_url="https://ci.example/42",
            started_at="2026-03-02T08:50:00",
            completed_at="2026-03-02T08:59:00Z",
        )
    )
    body = build.model_dump(mode="json")
    for field in (
        "id",
        "version_id",
        "product_id",
        "product_name",
        "version",
        "status",
        "scm_sha",
        "build_number",
        "build_url",
        "started_at",
        "completed_at",
        "created_at",
    ):
        assert field in body, field
    assert body["product_name"] == "api"
    assert body["version"] == "1.2.3"
    assert body["status"] == "completed"
    assert body["scm_sha"] == "abc1234"
    assert body["build_number"] == "42"
    assert body["build_url"] == "https://ci.example/42"
    # A naive time is read as UTC; every time serialises with `Z`.
    assert body["started_at"] == "2026-03-02T08:50:00Z"
    assert body["completed_at"] == "2026-03-02T08:59:00Z"
    assert body["created_at"] == "2026-03-02T09:00:00Z"


async def test_status_aliases_are_answered_in_canonical_form(policy: Policy) -> None:
    success = recorded_build(await policy.build("api", "1.0.0", "success"))
    built = recorded_build(await policy.build("api", "1.0.1", " Built "))
    building = recorded_build(await policy.build("api", "1.0.2", "BUILDING"))
    assert success.status == "completed"
    assert built.status == "completed"
    assert building.status == "started"
    assert success.model_dump(mode="json")["status"] == "completed"


async def test_a_completed_build_registers_the_version_and_pins_its_sha(policy: Policy) -> None:
    build = recorded_build(await policy.build("api", "1.0.0", "completed", scm_sha="abc"))
    version = await _version(policy, build.version_id)
    assert version.registered
    assert version.scm_sha == "abc"
    assert version.registered_at == policy.clock.now()


async def test_a_started_build_does_not_register_the_version(policy: Policy) -> None:
    build = recorded_build(await policy.build("api", "1.0.0", "started", scm_sha="abc"))
    version = await _version(policy, build.version_id)
    assert not version.registered
    assert version.registered_at is None


async def test_a_registered_version_without_sha_takes_the_first_one_sent(policy: Policy) -> None:
    recorded_build(await policy.build("api", "1.0.0", "completed"))
    build = recorded_build(await policy.build("api", "1.0.0", "completed", scm_sha="abc"))
    version = await _version(policy, build.version_id)
    assert version.registered
    assert version.scm_sha == "abc"


async def test_another_sha_for_a_pinned_version_is_a_409_version_conflict(policy: Policy) -> None:
    recorded_build(await policy.build("api", "1.2.3", "completed", scm_sha="abc1234"))
    failure = refused(await policy.build("api", "1.2.3", "completed", scm_sha="def5678"), 409)
    body = failure.body.to_json()
    assert body["message"] == "Version 1.2.3 of api already exists with SHA abc1234"
    detail = detail_of(failure)
    assert detail.error == "version_conflict"
    assert detail.code == "VERSION_CONFLICT"
    assert detail.message == body["message"]
    assert detail.details == {"existing_sha": "abc1234", "sent_sha": "def5678"}


async def test_a_refused_build_changes_nothing(policy: Policy) -> None:
    first = recorded_build(
        await policy.build("api", "1.2.3", "completed", scm_sha="abc", invoke_id="run-1")
    )
    before = len(await outbox(policy.ctx))
    refused(
        await policy.build(
            "api", "1.2.3", "failed", scm_sha="def", invoke_id="run-1", error_message="boom"
        ),
        409,
    )
    [build] = await rows(policy.ctx, Build)
    assert (build.id, build.status, build.scm_sha, build.error_message) == (
        first.id,
        "completed",
        "abc",
        None,
    )
    [version] = await rows(policy.ctx, Version)
    assert version.scm_sha == "abc"
    assert len(await outbox(policy.ctx)) == before


async def test_a_refused_build_is_audited(policy: Policy) -> None:
    recorded_build(await policy.build("api", "1.2.3", "completed", scm_sha="abc"))
    msg = build_event("api", "1.2.3", "completed", scm_sha="def", at=policy.clock.now())
    refused(await builds.handle_build_event(policy.ctx, msg), 409)
    [entry] = await audit_entries(policy.ctx, "event.rejected")
    assert entry.subject_id == str(msg.event_id)
    assert entry.actor == "api_key:ci"
    assert entry.data["status_code"] == 409
    assert entry.data["detail"]["code"] == "VERSION_CONFLICT"


async def test_events_with_one_invoke_id_update_one_build_row(policy: Policy) -> None:
    first = recorded_build(await policy.build("api", "1.0.0", "started", invoke_id="run-7"))
    policy.clock.advance(minutes=5)
    done = recorded_build(
        await policy.build("api", "1.0.0", "success", invoke_id="run-7", scm_sha="abc")
    )
    assert done.id == first.id
    assert done.status == "completed"
    assert done.created_at == first.created_at
    assert done.updated_at == policy.clock.now()
    [build] = await rows(policy.ctx, Build)
    assert (build.status, build.scm_sha) == ("completed", "abc")


async def test_another_invoke_id_is_another_build_row(policy: Policy) -> None:
    one = recorded_build(await policy.build("api", "1.0.0", "failed", invoke_id="run-1"))
    two = recorded_build(await policy.build("api", "1.0.0", "completed", invoke_id="run-2"))
    assert one.id != two.id
    assert one.version_id == two.version_id
    assert await count(policy.ctx, Build) == 2


async def test_an_exact_replay_returns_the_build_unchanged_and_announces_nothing(
    policy: Policy,
) -> None:
    first = recorded_build(
        await policy.build("api", "1.0.0", "completed", invoke_id="run-1", scm_sha="abc")
    )
    announced = len(await outbox(policy.ctx))
    policy.clock.advance(minutes=1)
    again = recorded_build(
        await policy.build("api", "1.0.0", "completed", invoke_id="run-1", scm_sha="abc")
    )
    assert again == first
    assert len(await outbox(policy.ctx)) == announced
    assert await count(policy.ctx, Build) == 1


async def test_a_redelivered_event_answers_as_the_first_time_and_writes_nothing(
    policy: Policy,
) -> None:
    msg = build_event("api", "1.0.0", "started", invoke_id="run-1", at=policy.clock.now())
    first = await builds.handle_build_event(policy.ctx, msg)
    recorded_build(await policy.build("api", "1.0.0", "completed", invoke_id="run-1"))
    announced = len(await outbox(policy.ctx))
    again = await builds.handle_build_event(policy.ctx, msg)
    assert again == first
    assert recorded_build(again).status == "started"
    [build] = await rows(policy.ctx, Build)
    assert build.status == "completed"
    assert len(await outbox(policy.ctx)) == announced
    assert await count(policy.ctx, EventRecord) == 2


async def test_a_redelivered_completed_build_without_invoke_id_answers_as_the_first_time(
    policy: Policy,
) -> None:
    msg = build_event("api", "1.0.0", "completed", scm_sha="abc", at=policy.clock.now())
    first = recorded_build(await builds.handle_build_event(policy.ctx, msg))
    again = recorded_build(await builds.handle_build_event(policy.ctx, msg))
    assert again == first
    assert await count(policy.ctx, Build) == 1


async def test_a_redelivered_refusal_is_refused_again(policy: Policy) -> None:
    recorded_build(await policy.build("api", "1.0.0", "completed", scm_sha="abc"))
    msg = build_event("api", "1.0.0", "completed", scm_sha="def", at=policy.clock.now())
    first = refused(await builds.handle_build_event(policy.ctx, msg), 409)
    again = refused(await builds.handle_build_event(policy.ctx, msg), 409)
    assert again == first
    assert len(await audit_entries(policy.ctx, "event.rejected")) == 1


async def test_a_completed_build_is_announced_in_the_same_transaction(policy: Policy) -> None:
    msg = build_event("api", "1.0.0", "completed", scm_sha="abc", at=policy.clock.now())
    build = recorded_build(await builds.handle_build_event(policy.ctx, msg))
    [row] = await outbox(policy.ctx, "build.completed")
    assert row.exchange == "events"
    assert row.sent_at is None
    event = BuildEventOccurred.model_validate_json(row.body)
    assert event.event_type == "build.completed"
    assert event.event_id == msg.event_id
    assert event.actor == "api_key:ci"
    assert event.build == build


async def test_each_build_status_is_announced_under_its_own_name(policy: Policy) -> None:
    recorded_build(await policy.build("api", "1.0.0", "queued", invoke_id="r"))
    recorded_build(await policy.build("api", "1.0.0", "init", invoke_id="r"))
    recorded_build(await policy.build("api", "1.0.0", "error", invoke_id="r"))
    keys = [row.routing_key for row in await outbox(policy.ctx)]
    assert keys == ["build.pending", "build.started", "build.failed"]


async def test_build_times_are_stored_in_utc(policy: Policy) -> None:
    build = recorded_build(
        await policy.build("api", "1.0.0", "started", started_at="2026-03-02T10:00:00+01:00")
    )
    assert build.started_at == datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    [row] = await rows(policy.ctx, Build)
    assert row.started_at == datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_a_deployment_alias_is_no_build_status() -> None:
    with pytest.raises(ValidationError, match="status"):
        build_event("api", "1.0.0", "deployed")


async def test_a_refusal_after_a_202_is_kept_as_rejected(policy: Policy) -> None:
    recorded_build(await policy.build("api", "1.0.0", "completed", scm_sha="abc"))
    event_id = uuid4()
    await policy.ask(noted(CI, event_id, "build", policy.clock.now()))
    msg = build_event(
        "api", "1.0.0", "completed", scm_sha="def", at=policy.clock.now(), event_id=event_id
    )
    refused(await builds.handle_build_event(policy.ctx, msg), 409)
    [record] = [r for r in await rows(policy.ctx, EventRecord) if r.event_id == event_id]
    assert record.status == "rejected"
    assert record.status_code == 409


async def test_a_refusal_after_a_202_is_announced(policy: Policy) -> None:
    recorded_build(await policy.build("api", "1.0.0", "completed", scm_sha="abc"))
    event_id = uuid4()
    await policy.ask(noted(CI, event_id, "build", policy.clock.now()))
    msg = build_event(
        "api", "1.0.0", "completed", scm_sha="def", at=policy.clock.now(), event_id=event_id
    )
    refused(await builds.handle_build_event(policy.ctx, msg), 409)
    [row] = await outbox(policy.ctx, "event.rejected")
    event = EventRejected.model_validate_json(row.body)
    assert (event.event_id, event.event_kind, event.status_code) == (event_id, "build", 409)
