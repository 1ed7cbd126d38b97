"""What a deployment event leaves behind besides its records: the failed checks in the
violations log, the audit entries and the announcement (through the outbox), all in the
event's transaction. Every branch of every verdict writes through one `Recorder`."""

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, insert

from versioner.common.errors import Violation
from versioner.common.messages.actor import Actor
from versioner.common.messages.domain import (
    DeploymentAttempt,
    DeploymentBlocked,
    DeploymentChanged,
    DeploymentChangeName,
)
from versioner.common.resources import DeploymentPublic
from versioner.policy.deployments.target import Target
from versioner.policy.logs.audit import audit_in
from versioner.policy.store.outbox import enqueue_in
from versioner.policy.store.sql import table
from versioner.policy.store.tables import ViolationRecord

_VIOLATIONS = table(ViolationRecord)

# A failed check as the violations log keeps it: the violation, its rule (None for the
# gate's own checks: concurrency, SHA) and what came of it.
Finding = tuple[Violation, UUID | None, str]


class Recorder:
    """Writes for one event on one target, by one actor, at one moment."""

    def __init__(
        self, conn: Connection, target: Target, *, event_id: UUID, actor: Actor | str, at: datetime
    ) -> None:
        self.conn = conn
        self.target = target
        self.event_id = event_id
        self.actor = actor
        self.label = actor if isinstance(actor, str) else actor.label
        self.at = at

    @property
    def subject(self) -> str:
        """`product version` as summaries name it."""
        return f"{self.target.product.name} {self.target.version.version}"

    def violations(self, findings: list[Finding], *, deployment_id: UUID | None) -> None:
        """Keep each failed check in the violations log: blocked, reported or overridden."""
        if not findings:
            return
        target = self.target
        self.conn.execute(
            insert(_VIOLATIONS),
            [
                {
                    "event_id": self.event_id,
                    "deployment_id": deployment_id,
                    "product_id": target.product.id,
                    "version_id": target.version.id,
                    "environment_id": target.environment.id,
                    "rule_id": rule_id,
                    "rule_name": violation.rule_name,
                    "rule_type": violation.rule_type,
                    "code": violation.code,
                    "message": violation.message,
                    "outcome": outcome,
                    "actor": self.label,
                    "at": self.at,
                }
                for violation, rule_id, outcome in findings
            ],
        )

    def audit(
        self, kind: str, summary: str, *, subject_id: UUID, data: dict[str, Any] | None = None
    ) -> None:
        """An audit entry."""
        audit_in(
            self.conn,
            actor=self.actor,
            kind=kind,
            summary=summary,
            at=self.at,
            subject_id=subject_id,
            data=data,
        )

    def announce(
        self,
        event_type: DeploymentChangeName,
        deployment: DeploymentPublic,
        violations: list[Violation] | None = None,
    ) -> None:
        """The deployment changed, as the notifier delivers it, under this event's id."""
        event = DeploymentChanged(
            event_type=event_type,
            event_id=self.event_id,
            occurred_at=self.at,
            actor=self.label,
            deployment=deployment,
            violations=violations or [],
        )
        enqueue_in(self.conn, event, event_type, at=self.at)

    def announce_blocked(self, attempt: DeploymentAttempt, violations: list[Violation]) -> None:
        """The start refused, with every violation, under this event's id."""
        event = DeploymentBlocked(
            event_id=self.event_id,
            occurred_at=self.at,
            actor=self.label,
            attempt=attempt,
            violations=violations,
        )
        enqueue_in(self.conn, event, event.event_type, at=self.at)
