"""`Failure` and its bodies: what a refused request answers, over RPC and then over HTTP."""

from datetime import UTC, datetime

import pytest

from versioner.common.errors import (
    Failure,
    forbidden,
    not_found,
    policy_unavailable,
    unauthenticated,
    unprocessable,
)


def test_plain_failures_have_versioners_bodies() -> None:
    assert unauthenticated().body.to_json() == {"detail": "Invalid authentication credentials"}
    assert forbidden().body.to_json() == {
        "detail": "You do not have permission to perform this action"
    }
    assert not_found().body.to_json() == {"detail": "Not found"}
    assert (unauthenticated().status_code, forbidden().status_code) == (401, 403)
    assert not_found().status_code == 404


def test_a_plain_failure_has_no_top_level_message() -> None:
    assert Failure.of(409, "taken").body.to_json() == {"detail": "taken"}


def test_a_structured_failure_nests_the_object_under_detail() -> None:
    failure = Failure.structured(
        428,
        error="deployment_blocked",
        code="FLOW_VIOLATION",
        message="deploy to staging first",
        details={"rule_name": "staging first"},
        retry_after=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
    )
    assert failure.body.to_json() == {
        "detail": {
            "error": "deployment_blocked",
            "code": "FLOW_VIOLATION",
            "message": "deploy to staging first",
            "retry_after": "2026-01-02T03:04:05Z",
            "details": {"rule_name": "staging first"},
        }
    }


def test_a_top_level_message_is_added_when_asked() -> None:
    failure = Failure.structured(
        409, error="version_conflict", code="VERSION_CONFLICT", message="m", top_level_message=True
    )
    body = failure.body.to_json()
    assert body["message"] == "m"
    assert body["detail"]["retry_after"] is None
    assert "details" not in body["detail"], "nothing to detail: no empty object"


def test_unprocessable_is_fastapis_list_naming_the_field() -> None:
    failure = unprocessable("status", "unknown status")
    assert failure.status_code == 422
    assert failure.body.to_json() == {
        "detail": [{"loc": ["body", "status"], "msg": "unknown status", "type": "value_error"}]
    }


def test_policy_unavailable_is_a_503_to_retry_in_five_seconds() -> None:
    failure = policy_unavailable()
    detail = failure.body.to_json()["detail"]
    assert failure.status_code == 503
    assert failure.retry_after_seconds == 5
    assert detail["error"] == "policy_unavailable"
    assert detail["code"] == "POLICY_UNAVAILABLE"
    assert detail["message"]
    assert detail["retry_after"] is None


def test_policy_unavailable_body_is_exactly_api_mds() -> None:
    body = policy_unavailable().body.to_json()
    assert set(body) == {"detail"}
    assert set(body["detail"]) == {"error", "code", "message", "retry_after"}


@pytest.mark.parametrize(
    "failure",
    [
        not_found(),
        policy_unavailable(),
        unprocessable("version", "too long"),
        Failure.structured(409, error="e", code="C", message="m", top_level_message=True),
    ],
)
def test_a_failure_survives_the_trip_over_the_broker(failure: Failure) -> None:
    again = Failure.model_validate_json(failure.model_dump_json())
    assert again.body.to_json() == failure.body.to_json()
    assert (again.status_code, again.retry_after_seconds) == (
        failure.status_code,
        failure.retry_after_seconds,
    )
