"""Webhook bodies: versioner-compat.md §6.3 and §6.4 field for field, plus `event_id`, plus
`violations` on blocked and overridden deployments; signed over the exact bytes sent."""

import hashlib
import hmac
import json
from datetime import datetime
from typing import Any
from uuid import UUID

from versioner.common.links import deployment_url, request_url, version_url
from versioner.common.messages.domain import (
    BuildEventOccurred,
    DeploymentBlocked,
    DeploymentChanged,
    DomainEvent,
    RequestEventOccurred,
    VersionApproved,
)
from versioner.common.webhooks import (
    ApprovalWebhook,
    BuildWebhook,
    DeploymentWebhook,
    RequestWebhook,
    TestWebhook,
    WebhookBody,
)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def _successful(event_type: str) -> bool | None:
    if event_type == "deployment.completed":
        return True
    if event_type == "deployment.failed":
        return False
    return None


def _deployment(event: DeploymentChanged, public_url: str) -> DeploymentWebhook:
    d = event.deployment
    preflight = d.extra_metadata.get("preflight_status")
    body = DeploymentWebhook(
        id=d.id,
        deployed_at=_iso(d.deployed_at),
        event_type=event.event_type,
        event_id=event.event_id,
        is_successful=_successful(event.event_type),
        environment=d.environment_name,
        deployer=d.deployed_by,
        product_name=d.product_name,
        version=d.version,
        repo_name=None,
        commit_sha=d.scm_sha,
        preflight_status=preflight.get("status") if isinstance(preflight, dict) else None,
        source_url=deployment_url(public_url, d.id),
    )
    if event.event_type == "deployment.overridden":
        body.violations = event.violations
    return body


def _blocked(event: DeploymentBlocked, public_url: str) -> DeploymentWebhook:
    """A refused start: what was asked for (no deployment was recorded) and why."""
    attempt = event.attempt
    return DeploymentWebhook(
        id=attempt.attempt_id,
        deployed_at=_iso(event.occurred_at),
        event_type=event.event_type,
        event_id=event.event_id,
        is_successful=False,
        environment=attempt.environment_name,
        deployer=attempt.deployed_by,
        product_name=attempt.product_name,
        version=attempt.version,
        repo_name=None,
        commit_sha=attempt.scm_sha,
        preflight_status="failed",
        source_url=version_url(public_url, attempt.version_id),
        violations=event.violations,
    )


def _build(event: BuildEventOccurred, public_url: str) -> BuildWebhook:
    b = event.build
    return BuildWebhook(
        id=b.id,
        deployed_at=_iso(b.completed_at or b.started_at or b.created_at),
        event_type=event.event_type,
        event_id=event.event_id,
        deployer=b.built_by,
        product_name=b.product_name,
        version=b.version,
        repo_name=b.scm_repository,
        commit_sha=b.scm_sha,
        source_url=version_url(public_url, b.version_id),
    )


def _request(event: RequestEventOccurred, public_url: str) -> RequestWebhook:
    r = event.request
    body = RequestWebhook(
        event_type=event.event_type,
        event_id=event.event_id,
        occurred_at=_iso(event.occurred_at),
        dr_id=r.id,
        dr_name=r.name,
        dr_url=request_url(public_url, r.id),
        status=r.status,
        environment_names=list(r.environments),
        actor=event.actor,
    )
    if event.event_type in ("dr.approved", "dr.rejected"):
        body.approval_type = event.approval_type
        body.approver_role = event.approver_role
        body.slot_status = event.slot_status
        body.comments = event.comments
    return body


def _approval(event: VersionApproved) -> ApprovalWebhook:
    a = event.approval
    return ApprovalWebhook(
        event_id=event.event_id,
        occurred_at=_iso(event.occurred_at),
        version_id=a.version_id,
        product_name=a.product_name,
        version=a.version,
        approval_type=str(a.approval_type),
        approver_role=a.approver_role,
        environment_name=a.environment,
        comments=a.comment,
        actor=event.actor,
    )


def payload(event: DomainEvent, public_url: str) -> WebhookBody | None:
    """The webhook body of an event; None for events channels cannot subscribe to."""
    match event:
        case DeploymentChanged():
            return _deployment(event, public_url)
        case DeploymentBlocked():
            return _blocked(event, public_url)
        case BuildEventOccurred():
            return _build(event, public_url)
        case RequestEventOccurred():
            return _request(event, public_url)
        case VersionApproved():
            return _approval(event)
    return None


def test_payload(channel_name: str, event_id: UUID, at: datetime) -> TestWebhook:
    """What `POST /notification-channels/{id}/test` sends to a webhook."""
    return TestWebhook(
        event_id=event_id,
        occurred_at=_iso(at),
        message=f"A test notification from Versioner to the channel '{channel_name}'.",
    )


def encode(body: dict[str, Any]) -> bytes:
    """The raw body: compact JSON, no spaces (the signature covers exactly these bytes)."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def signature(secret: str, raw: bytes) -> str:
    """`X-Versioner-Signature`: `sha256=` and the hex HMAC-SHA256 of the raw body."""
    return "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


def subject(event: DomainEvent) -> tuple[list[str], list[str]]:
    """The products and environments an event is about, for channel filters."""
    match event:
        case DeploymentChanged(deployment=d):
            return [d.product_name], [d.environment_name]
        case DeploymentBlocked(attempt=a):
            return [a.product_name], [a.environment_name]
        case BuildEventOccurred():
            return [event.build.product_name], []
        case VersionApproved():
            env = event.approval.environment
            return [event.approval.product_name], [env] if env else []
        case RequestEventOccurred():
            products = list(dict.fromkeys(item.product for item in event.request.items))
            return products, list(event.request.environments)
    return [], []
