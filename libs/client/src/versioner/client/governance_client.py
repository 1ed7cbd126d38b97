"""The policy half of the client: Deployment Rules, Deployment Requests, approvals, audit."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast
from urllib.parse import quote

from versioner.client.models import (
    ApprovalType,
    AuditEntry,
    Decision,
    DeploymentRequest,
    Outcome,
    RequestAction,
    RequestItem,
    RequestStatus,
    Rule,
    RuleMode,
    RuleType,
    SlotSpec,
    VersionApproval,
    ViolationEntry,
    WindowsPreview,
)


def segment(value: str) -> str:
    """One path segment, percent-encoded (a `/` in a name stays inside its segment)."""
    encoded = quote(value, safe="")
    # httpx resolves `.` and `..` segments, which would send the request elsewhere.
    return encoded.replace(".", "%2E") if encoded in (".", "..") else encoded


class GovernanceCalls:
    """API.md "Policy configuration"; `VersionerClient` supplies the retrying transport."""

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        raise NotImplementedError

    # Deployment Rules (API.md, "Policy configuration").

    def list_rules(self, limit: int | None = None, before: str | None = None) -> list[Rule]:
        """Every rule, newest first."""
        params = {"limit": limit, "before": before}
        return cast("list[Rule]", self._json("GET", "deployment-rules/", params=params))

    def get_rule(self, rule_id: str) -> Rule:
        """One rule."""
        return cast("Rule", self._json("GET", f"deployment-rules/{segment(rule_id)}"))

    def create_rule(
        self,
        name: str,
        rule_type: RuleType,
        config: Mapping[str, object],
        *,
        mode: RuleMode = "enabled",
        products: Sequence[str] = (),
        environments: Sequence[str] = (),
    ) -> Rule:
        """Create a rule; an empty `products` or `environments` scope means all."""
        body = {
            "name": name,
            "rule_type": rule_type,
            "mode": mode,
            "products": list(products),
            "environments": list(environments),
            "config": dict(config),
        }
        return cast("Rule", self._json("POST", "deployment-rules/", body=body))

    def update_rule(
        self,
        rule_id: str,
        *,
        name: str | None = None,
        mode: RuleMode | None = None,
        products: Sequence[str] | None = None,
        environments: Sequence[str] | None = None,
        config: Mapping[str, object] | None = None,
    ) -> Rule:
        """Change only the given fields of a rule (an empty scope list means all)."""
        fields: dict[str, object] = {
            "name": name,
            "mode": mode,
            "products": None if products is None else list(products),
            "environments": None if environments is None else list(environments),
            "config": None if config is None else dict(config),
        }
        body = {k: v for k, v in fields.items() if v is not None}
        path = f"deployment-rules/{segment(rule_id)}"
        return cast("Rule", self._json("PATCH", path, body=body))

    def delete_rule(self, rule_id: str) -> None:
        """Delete a rule."""
        self._json("DELETE", f"deployment-rules/{segment(rule_id)}")

    def rule_windows(self, rule_id: str, count: int | None = None) -> WindowsPreview:
        """The next windows of a schedule rule."""
        path = f"deployment-rules/{segment(rule_id)}/windows"
        return cast("WindowsPreview", self._json("GET", path, params={"count": count}))

    def list_violations(
        self,
        *,
        rule: str | None = None,
        product: str | None = None,
        environment: str | None = None,
        since: str | None = None,
        outcome: Outcome | None = None,
        limit: int | None = None,
        before: int | None = None,
    ) -> list[ViolationEntry]:
        """What rules blocked, reported or saw overridden, newest first."""
        params: dict[str, str | int | None] = {
            "rule": rule,
            "product": product,
            "environment": environment,
            "since": since,
            "outcome": outcome,
            "limit": limit,
            "before": before,
        }
        path = "deployment-rules/violations"
        return cast("list[ViolationEntry]", self._json("GET", path, params=params))

    # Deployment Requests.

    def list_requests(
        self,
        *,
        status: RequestStatus | None = None,
        awaiting_me: bool = False,
        limit: int | None = None,
        before: str | None = None,
    ) -> list[DeploymentRequest]:
        """Requests, newest first; `awaiting_me`: those with a slot the caller may decide now."""
        params: dict[str, str | int | None] = {
            "status": status,
            "awaiting": "me" if awaiting_me else None,
            "limit": limit,
            "before": before,
        }
        path = "deployment-requests/"
        return cast("list[DeploymentRequest]", self._json("GET", path, params=params))

    def get_request(self, request_id: str) -> DeploymentRequest:
        """One request, with slot and step ids and its progress."""
        path = f"deployment-requests/{segment(request_id)}"
        return cast("DeploymentRequest", self._json("GET", path))

    def create_request(
        self,
        name: str,
        *,
        description: str | None = None,
        items: Sequence[RequestItem] = (),
        environments: Sequence[str] = (),
        approval_slots: Sequence[SlotSpec] = (),
        pre_steps: Sequence[str] = (),
        post_steps: Sequence[str] = (),
    ) -> DeploymentRequest:
        """Create a request in draft."""
        body = {
            "name": name,
            "description": description,
            "items": [dict(i) for i in items],
            "environments": list(environments),
            "approval_slots": [dict(s) for s in approval_slots],
            "pre_steps": list(pre_steps),
            "post_steps": list(post_steps),
        }
        return cast("DeploymentRequest", self._json("POST", "deployment-requests/", body=body))

    def update_request(
        self,
        request_id: str,
        *,
        name: str | None = None,
        description: str | None = None,
        items: Sequence[RequestItem] | None = None,
        environments: Sequence[str] | None = None,
        approval_slots: Sequence[SlotSpec] | None = None,
        pre_steps: Sequence[str] | None = None,
        post_steps: Sequence[str] | None = None,
    ) -> DeploymentRequest:
        """Change only the given fields of a draft request."""
        fields: dict[str, object] = {
            "name": name,
            "description": description,
            "items": None if items is None else [dict(i) for i in items],
            "environments": None if environments is None else list(environments),
            "approval_slots": None if approval_slots is None else [dict(s) for s in approval_slots],
            "pre_steps": None if pre_steps is None else list(pre_steps),
            "post_steps": None if post_steps is None else list(post_steps),
        }
        body = {k: v for k, v in fields.items() if v is not None}
        path = f"deployment-requests/{segment(request_id)}"
        return cast("DeploymentRequest", self._json("PATCH", path, body=body))

    def move_request(self, request_id: str, action: RequestAction) -> DeploymentRequest:
        """`submit`, `revert` (back to draft), `complete` or `cancel` a request."""
        path = f"deployment-requests/{segment(request_id)}/{action}"
        return cast("DeploymentRequest", self._json("POST", path, body={}))

    def decide_slot(
        self, request_id: str, slot_id: str, decision: Decision, comment: str | None = None
    ) -> DeploymentRequest:
        """Approve or reject one approval slot of a request."""
        path = f"deployment-requests/{segment(request_id)}/slots/{segment(slot_id)}/decision"
        body = {"decision": decision, "comment": comment}
        return cast("DeploymentRequest", self._json("POST", path, body=body))

    def complete_step(self, request_id: str, step_id: str) -> DeploymentRequest:
        """Tick a pre- or post-deploy step of a request."""
        path = f"deployment-requests/{segment(request_id)}/steps/{segment(step_id)}/complete"
        return cast("DeploymentRequest", self._json("POST", path, body={}))

    # Version approvals and the audit log.

    def approve_version(
        self,
        version_id: str,
        approval_type: ApprovalType,
        environment: str | None = None,
        comment: str | None = None,
    ) -> VersionApproval:
        """Sign a version off; `environment` None: it counts wherever a rule asks."""
        path = _approvals_path(version_id, None, None)
        return self._approve(path, approval_type, environment, comment)

    def approve_named_version(
        self,
        product: str,
        version: str,
        approval_type: ApprovalType,
        environment: str | None = None,
        comment: str | None = None,
    ) -> VersionApproval:
        """Sign a version off, naming it by product and version."""
        path = _approvals_path(None, product, version)
        return self._approve(path, approval_type, environment, comment)

    def _approve(
        self, path: str, approval_type: str, environment: str | None, comment: str | None
    ) -> VersionApproval:
        body = {"approval_type": approval_type, "environment": environment, "comment": comment}
        return cast("VersionApproval", self._json("POST", path, body=body))

    def list_version_approvals(
        self,
        version_id: str | None = None,
        *,
        product: str | None = None,
        version: str | None = None,
    ) -> list[VersionApproval]:
        """A version's sign-offs, newest first (revoked ones included); by id or by names."""
        path = _approvals_path(version_id, product, version)
        return cast("list[VersionApproval]", self._json("GET", path))

    def revoke_version_approval(
        self,
        version_id: str | None,
        approval_id: str,
        *,
        product: str | None = None,
        version: str | None = None,
    ) -> VersionApproval:
        """Withdraw a sign-off of the version named by id or by names; answers it, revoked."""
        path = f"{_approvals_path(version_id, product, version)}/{segment(approval_id)}"
        return cast("VersionApproval", self._json("DELETE", path))

    def list_audit(
        self,
        *,
        since: str | None = None,
        kind: str | None = None,
        actor: str | None = None,
        limit: int | None = None,
        before: int | None = None,
    ) -> list[AuditEntry]:
        """The audit log, newest first; `kind` is an action or a prefix ending in `.`."""
        params: dict[str, str | int | None] = {
            "since": since,
            "kind": kind,
            "actor": actor,
            "limit": limit,
            "before": before,
        }
        return cast("list[AuditEntry]", self._json("GET", "audit/", params=params))


def _approvals_path(version_id: str | None, product: str | None, version: str | None) -> str:
    """`versions/{id}/approvals`, or `versions/{product}/{version}/approvals` (encoded)."""
    if version_id is not None:
        return f"versions/{segment(version_id)}/approvals"
    if product is None or version is None:
        raise ValueError("name the version by id, or by product and version")
    return f"versions/{segment(product)}/{segment(version)}/approvals"
