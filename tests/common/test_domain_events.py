"""Domain events: one type per meaning, and messages written before the deployment event
was split read as the type they now are (an outbox or a queue may hold them mid-upgrade)."""

from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import pytest
from pydantic import TypeAdapter, ValidationError

from versioner.common.errors import Violation
from versioner.common.messages.domain import (
    DeploymentAttempt,
    DeploymentBlocked,
    DeploymentChanged,
    DomainEvent,
)
from versioner.common.resources import DeploymentPublic
from versioner.common.status import Status

EVENTS: TypeAdapter[DomainEvent] = TypeAdapter(DomainEvent)
AT = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)


def a_deployment() -> DeploymentPublic:
    return DeploymentPublic(
        id=uuid4(),
        product_id=uuid4(),
        version_id=uuid4(),
        environment_id=uuid4(),
        product_name="api",
        version="1.0.0",
        environment_name="production",
        status=Status.COMPLETED,
        deployed_at=AT,
    )


def an_attempt() -> DeploymentAttempt:
    return DeploymentAttempt(
        attempt_id=uuid4(),
        product_id=uuid4(),
        product_name="api",
        version_id=uuid4(),
        version="1.0.1",
        environment_id=uuid4(),
        environment_name="production",
    )


def a_violation() -> Violation:
    return Violation(code="FREEZE", message="frozen", rule_name="freeze", rule_type="schedule")


def written_before_the_split(**fields: Any) -> bytes:
    """A deployment event as policy wrote it before the split: one kind, optional parts."""
    legacy = {
        "kind": "deployment_event",
        "event_id": str(uuid4()),
        "occurred_at": AT.isoformat(),
        "actor": "api_key:ci",
        "deployment": None,
        "attempt": None,
        "violations": [],
        "sha_mismatch": False,
        **fields,
    }
    return TypeAdapter(dict[str, Any]).dump_json(legacy)


def test_a_change_and_a_block_are_two_types() -> None:
    changed = DeploymentChanged(
        event_type="deployment.completed",
        event_id=uuid4(),
        occurred_at=AT,
        actor="api_key:ci",
        deployment=a_deployment(),
    )
    blocked = DeploymentBlocked(
        event_id=uuid4(),
        occurred_at=AT,
        actor="api_key:ci",
        attempt=an_attempt(),
        violations=[a_violation()],
    )
    assert EVENTS.validate_json(changed.model_dump_json()) == changed
    assert EVENTS.validate_json(blocked.model_dump_json()) == blocked
    assert blocked.event_type == "deployment.preflight_failed"


def test_a_block_names_what_refused_it() -> None:
    with pytest.raises(ValidationError):
        DeploymentBlocked(
            event_id=uuid4(),
            occurred_at=AT,
            actor="api_key:ci",
            attempt=an_attempt(),
            violations=[],
        )


def test_a_change_written_before_the_split_reads_as_a_change() -> None:
    deployment = a_deployment()
    raw = written_before_the_split(
        event_type="deployment.completed", deployment=deployment.model_dump(mode="json")
    )
    event = EVENTS.validate_json(raw)
    assert isinstance(event, DeploymentChanged)
    assert event.deployment == deployment


def test_a_block_written_before_the_split_reads_as_a_block() -> None:
    attempt, violation = an_attempt(), a_violation()
    raw = written_before_the_split(
        event_type="deployment.preflight_failed",
        attempt=attempt.model_dump(mode="json"),
        violations=[violation.model_dump(mode="json")],
    )
    event = EVENTS.validate_json(raw)
    assert isinstance(event, DeploymentBlocked)
    assert (event.attempt, event.violations) == (attempt, [violation])
