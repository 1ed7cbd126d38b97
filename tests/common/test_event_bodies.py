"""`BuildEventIn` and `DeploymentEventIn`: the event bodies as Versioner's clients send them."""

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from versioner.common.events import BuildEventIn, DeploymentEventIn
from versioner.common.status import Status

LIMIT = 102_400
BUILD: dict[str, Any] = {"product_name": "api", "version": "1.2.3", "status": "success"}
DEPLOYMENT: dict[str, Any] = {**BUILD, "environment_name": "production", "status": "started"}


def metadata_of(size: int) -> dict[str, Any]:
    """Metadata whose compact UTF-8 JSON is exactly `size` bytes, mostly 3-byte characters."""
    pad = size - len('{"k":""}')
    value = {"k": "€" * (pad // 3) + "x" * (pad % 3)}
    assert len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()) == size
    return value


def error_locs(error: ValidationError) -> list[tuple[int | str, ...]]:
    return [tuple(e["loc"]) for e in error.errors()]


@pytest.mark.parametrize("field", ["product_name", "version", "status"])
def test_a_build_event_requires_its_fields(field: str) -> None:
    body = {k: v for k, v in BUILD.items() if k != field}
    with pytest.raises(ValidationError) as caught:
        BuildEventIn.model_validate(body)
    assert error_locs(caught.value) == [(field,)]
    assert caught.value.errors()[0]["type"] == "missing"


@pytest.mark.parametrize("field", ["product_name", "version", "environment_name", "status"])
def test_a_deployment_event_requires_its_fields(field: str) -> None:
    body = {k: v for k, v in DEPLOYMENT.items() if k != field}
    with pytest.raises(ValidationError) as caught:
        DeploymentEventIn.model_validate(body)
    assert error_locs(caught.value) == [(field,)]


@pytest.mark.parametrize("field", ["product_name", "version", "environment_name"])
def test_empty_names_are_refused(field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        DeploymentEventIn.model_validate({**DEPLOYMENT, field: ""})
    assert error_locs(caught.value) == [(field,)]
    if field != "environment_name":
        with pytest.raises(ValidationError):
            BuildEventIn.model_validate({**BUILD, field: ""})


def test_unknown_fields_are_ignored() -> None:
    extra = {"unknown": {"deep": [1]}, "skip_preflight_checks": True, "vi_gh_run": "7"}
    build = BuildEventIn.model_validate({**BUILD, **extra})
    deployment = DeploymentEventIn.model_validate({**DEPLOYMENT, **extra})
    for event in (build, deployment):
        dumped = event.model_dump()
        assert not set(extra) & set(dumped)
        assert event.model_extra in (None, {})


def test_status_is_read_through_the_vocabulary() -> None:
    assert BuildEventIn.model_validate({**BUILD, "status": " Built "}).status is Status.COMPLETED
    deployment = DeploymentEventIn.model_validate({**DEPLOYMENT, "status": "DEPLOYING"})
    assert deployment.status is Status.STARTED


@pytest.mark.parametrize("status", ["built", "bogus", "", 1, None, ["started"]])
def test_a_bad_deployment_status_names_the_field(status: object) -> None:
    with pytest.raises(ValidationError) as caught:
        DeploymentEventIn.model_validate({**DEPLOYMENT, "status": status})
    assert error_locs(caught.value) == [("status",)]


@pytest.mark.parametrize("status", ["deployed", "bogus", "", 1, None])
def test_a_bad_build_status_names_the_field(status: object) -> None:
    with pytest.raises(ValidationError) as caught:
        BuildEventIn.model_validate({**BUILD, "status": status})
    assert error_locs(caught.value) == [("status",)]


def test_build_number_may_be_a_json_number() -> None:
    build = BuildEventIn.model_validate_json(json.dumps({**BUILD, "build_number": 1234}))
    deployment = DeploymentEventIn.model_validate_json(
        json.dumps({**DEPLOYMENT, "build_number": 56})
    )
    assert build.build_number == "1234"
    assert deployment.build_number == "56"


def test_naive_timestamps_are_read_as_utc() -> None:
    build = BuildEventIn.model_validate(
        {**BUILD, "started_at": "2025-01-02T03:04:05", "completed_at": "2025-01-02T03:09:05.5"}
    )
    assert build.started_at == datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert build.completed_at == datetime(2025, 1, 2, 3, 9, 5, 500_000, tzinfo=UTC)
    dumped = json.loads(build.model_dump_json())
    assert dumped["started_at"] == "2025-01-02T03:04:05Z"


def test_aware_timestamps_are_converted_to_utc() -> None:
    deployment = DeploymentEventIn.model_validate(
        {**DEPLOYMENT, "completed_at": "2025-01-02T03:04:05+02:00"}
    )
    assert deployment.completed_at == datetime(2025, 1, 2, 1, 4, 5, tzinfo=UTC)
    assert json.loads(deployment.model_dump_json())["completed_at"] == "2025-01-02T01:04:05Z"


def test_metadata_of_exactly_the_limit_is_accepted() -> None:
    metadata = metadata_of(LIMIT)
    assert BuildEventIn.model_validate({**BUILD, "extra_metadata": metadata}).extra_metadata
    deployment = DeploymentEventIn.model_validate({**DEPLOYMENT, "extra_metadata": metadata})
    assert deployment.extra_metadata == metadata


def test_metadata_one_byte_over_the_limit_is_refused() -> None:
    metadata = metadata_of(LIMIT + 1)
    for model, body in ((BuildEventIn, BUILD), (DeploymentEventIn, DEPLOYMENT)):
        with pytest.raises(ValidationError) as caught:
            model.model_validate({**body, "extra_metadata": metadata})
        assert error_locs(caught.value) == [("extra_metadata",)]


def test_metadata_is_measured_compact_not_as_sent() -> None:
    metadata = metadata_of(LIMIT)
    sent = json.dumps({**BUILD, "extra_metadata": metadata}, indent=4, ensure_ascii=True)
    assert len(sent) > LIMIT * 2
    assert BuildEventIn.model_validate_json(sent).extra_metadata == metadata


def test_override_reason_is_read_from_the_body() -> None:
    event = DeploymentEventIn.model_validate({**DEPLOYMENT, "override_reason": "  sev1 fix  "})
    assert event.break_glass_reason == "sev1 fix"


def test_override_reason_is_read_from_extra_metadata() -> None:
    event = DeploymentEventIn.model_validate(
        {**DEPLOYMENT, "extra_metadata": {"override_reason": "sev1 fix", "vi_gh_run": "9"}}
    )
    assert event.break_glass_reason == "sev1 fix"


def test_the_body_override_reason_wins_over_metadata() -> None:
    event = DeploymentEventIn.model_validate(
        {
            **DEPLOYMENT,
            "override_reason": "from the body",
            "extra_metadata": {"override_reason": "from metadata"},
        }
    )
    assert event.break_glass_reason == "from the body"


@pytest.mark.parametrize(
    "metadata", [None, {}, {"override_reason": "   "}, {"override_reason": 1}, {"other": "x"}]
)
def test_no_usable_override_reason_means_none(metadata: dict[str, Any] | None) -> None:
    event = DeploymentEventIn.model_validate(
        {**DEPLOYMENT, "override_reason": " ", "extra_metadata": metadata}
    )
    assert event.break_glass_reason is None
