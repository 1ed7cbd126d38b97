"""Webhook bodies, one model per kind: versioner-compat.md §6.3 and §6.4 field for field,
plus `event_id`, plus `violations` on blocked and overridden deployments.

The notifier fills them and sends `body()` as compact JSON, signed over the exact bytes; a
receiver (or a test) reads one back with `model_validate`. Times are RFC 3339 strings ending
in `Z`, as Versioner writes them. A field listed in `present_when_set` is in the body only
when it was given (the slot decision of a Deployment Request event, the violations of a
deployment event); every other field is always there, `null` when empty.
"""

from typing import Any, ClassVar, Literal
from uuid import UUID

from pydantic import BaseModel

from versioner.common.errors import Violation


class WebhookBody(BaseModel):
    """A webhook's JSON body."""

    present_when_set: ClassVar[frozenset[str]] = frozenset()

    def body(self) -> dict[str, Any]:
        """The JSON object sent, in field order."""
        unset = self.present_when_set - self.model_fields_set
        return self.model_dump(mode="json", exclude=set(unset) or None)


class DeploymentWebhook(WebhookBody):
    """A deployment event (§6.3); a refused start's `id` is its attempt's, its `source_url`
    the version's page (no deployment was recorded)."""

    present_when_set: ClassVar[frozenset[str]] = frozenset({"violations"})

    id: UUID
    deployed_at: str | None
    event_type: str
    event_id: UUID
    is_successful: bool | None
    environment: str
    deployer: str | None
    product_name: str
    version: str
    repo_name: str | None
    commit_sha: str | None
    preflight_status: str | None
    source_url: str
    violations: list[Violation] = []


class BuildWebhook(WebhookBody):
    """A build event (§6.3): the deployment body's fields, with no environment."""

    id: UUID
    deployed_at: str | None
    event_type: str
    event_id: UUID
    environment: None = None
    is_successful: None = None
    deployer: str | None
    product_name: str
    version: str
    repo_name: str | None
    commit_sha: str | None
    preflight_status: None = None
    source_url: str


class RequestWebhook(WebhookBody):
    """A Deployment Request event (§6.4); a slot decision adds who decided what."""

    present_when_set: ClassVar[frozenset[str]] = frozenset(
        {"approval_type", "approver_role", "slot_status", "comments"}
    )

    event_type: str
    event_id: UUID
    occurred_at: str | None
    dr_id: UUID
    dr_name: str
    dr_url: str
    status: str
    environment_names: list[str]
    actor: str
    approval_type: str | None = None
    approver_role: str | None = None
    slot_status: str | None = None
    comments: str | None = None


class ApprovalWebhook(WebhookBody):
    """A version sign-off (§6.4)."""

    event_type: Literal["version.approved"] = "version.approved"
    event_id: UUID
    occurred_at: str | None
    version_id: UUID
    product_name: str
    version: str
    approval_type: str
    approver_role: str | None
    environment_name: str | None
    comments: str | None
    actor: str


class TestWebhook(WebhookBody):
    """What `POST /notification-channels/{id}/test` sends."""

    __test__ = False  # not a pytest test class, despite its name

    event_type: Literal["test"] = "test"
    event_id: UUID
    occurred_at: str | None
    message: str
