"""Webhook bodies: every field always there (null when empty) but the ones present only
when relevant, in the order versioner-compat.md §6.3 lists them."""

from uuid import uuid4

from versioner.common.errors import Violation
from versioner.common.webhooks import DeploymentWebhook, RequestWebhook

SECTION_6_3 = [
    "id",
    "deployed_at",
    "event_type",
    "event_id",
    "is_successful",
    "environment",
    "deployer",
    "product_name",
    "version",
    "repo_name",
    "commit_sha",
    "preflight_status",
    "source_url",
]


def a_deployment_body() -> DeploymentWebhook:
    return DeploymentWebhook(
        id=uuid4(),
        deployed_at="2026-12-04T09:00:00Z",
        event_type="deployment.completed",
        event_id=uuid4(),
        is_successful=True,
        environment="production",
        deployer=None,
        product_name="api",
        version="1.0.0",
        repo_name=None,
        commit_sha=None,
        preflight_status=None,
        source_url="http://versioner.test/ui/deployments/x",
    )


def test_a_deployment_body_has_every_field_in_order_and_no_violations_unless_given() -> None:
    body = a_deployment_body().body()
    assert list(body) == SECTION_6_3
    assert body["repo_name"] is None
    assert isinstance(body["id"], str)


def test_violations_are_in_the_body_once_given_even_when_none() -> None:
    violation = Violation(code="FREEZE", rule_name="f", rule_type="schedule", message="m")
    body = a_deployment_body()
    body.violations = [violation]
    assert body.body()["violations"] == [violation.model_dump(mode="json")]
    body.violations = []
    assert body.body()["violations"] == []


def test_a_slot_decision_adds_its_fields_even_when_empty() -> None:
    plain = RequestWebhook(
        event_type="dr.created",
        event_id=uuid4(),
        occurred_at="2026-12-04T09:00:00Z",
        dr_id=uuid4(),
        dr_name="release",
        dr_url="http://versioner.test/ui/requests/x",
        status="draft",
        environment_names=["production"],
        actor="user:sam",
    )
    assert "comments" not in plain.body()
    plain.comments = None
    plain.approval_type = "qa"
    decided = plain.body()
    assert decided["comments"] is None
    assert decided["approval_type"] == "qa"
    assert "slot_status" not in decided
