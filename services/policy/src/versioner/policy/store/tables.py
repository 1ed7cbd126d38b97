"""Policy's tables: the domain database (docs/architecture.md, "Who owns which data").

Names are arbitrated by `product_names` and `environment_names`, which hold every name a
record has had: a first sight inserts there first, so two replicas meeting a new name at once
agree on one record, and an old name keeps resolving (and stays reserved) after a rename.
"""

from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import AutoString, Field, SQLModel

from versioner.common.governance import RequestStatus, SlotStatus, ViolationOutcome
from versioner.common.insights import IncidentStatus
from versioner.common.resources import EnvironmentType, EventKind, EventState
from versioner.common.rules import RuleMode, RuleType
from versioner.common.types import utcnow
from versioner.policy.store.db import UtcDateTime


def _json(factory: type[dict[str, Any]] | type[list[Any]]) -> Any:
    return Field(default_factory=factory, sa_column=Column(JSON, nullable=False))


def _json_nullable() -> Any:
    return Field(default=None, sa_column=Column(JSON, nullable=True))


def _choice(length: int, *, index: bool = False, default: str | None = None) -> Any:
    """A column holding one value of its annotation's `Literal`: typed in Python, stored as the
    plain VARCHAR(length) it always was (no database enum: a new value needs no migration)."""
    if default is None:
        return Field(sa_type=AutoString(length), index=index)
    return Field(default=default, sa_type=AutoString(length), index=index)


def _when(*, nullable: bool = False, index: bool = False, default_now: bool = True) -> Any:
    if default_now:
        return Field(default_factory=utcnow, sa_type=UtcDateTime, nullable=nullable, index=index)
    return Field(default=None, sa_type=UtcDateTime, nullable=nullable, index=index)


class Product(SQLModel, table=True):
    """A product; its current name here, every name it has had in `product_names`."""

    __tablename__ = "products"
    id: UUID = Field(default_factory=uuid4, primary_key=True)
    name: str = Field(max_length=255)
    description: str | None = None
    meta: dict[str, Any] = _json(dict)
    created_at: datetime = _when()
    updated_at: datetime = _when()


class ProductName(SQLModel, table=True):
    """A name a product has or had: unique for ever."""

    __tablename__ = "product_names"
    name: str = Field(primary_key=True, max_length=255)
    product_id: UUID = Field(index=True)
    created_at: datetime = _when()


class Environment(SQLModel, table=True):
    """An environment; every name it has had in `environment_names`."""

    __tablename__ = "environments"
    id: UUID = Field(default_factory=uuid4, primary_key=True)
    name: str = Field(max_length=255)
    type: EnvironmentType = _choice(16)
    description: str | None = None
    meta: dict[str, Any] = _json(dict)
    created_at: datetime = _when()
    updated_at: datetime = _when()


class EnvironmentName(SQLModel, table=True):
    """A name an environment has or had: unique for ever."""

    __tablename__ = "environment_names"
    name: str = Field(primary_key=True, max_length=255)
    environment_id: UUID = Field(index=True)
    created_at: datetime = _when()


class Version(SQLModel, table=True):
    """A version of a product; its SHA is pinned once a completed build registers it."""

    __tablename__ = "versions"
    __table_args__ = (UniqueConstraint("product_id", "version"),)
    id: UUID = Field(default_factory=uuid4, primary_key=True)
    product_id: UUID = Field(foreign_key="products.id")
    version: str = Field(max_length=255)
    scm_sha: str | None = Field(default=None, max_length=255, index=True)
    scm_repository: str | None = None
    scm_branch: str | None = None
    build_number: str | None = None
    build_url: str | None = None
    registered: bool = False
    registered_at: datetime | None = _when(nullable=True, default_now=False)
    created_at: datetime = _when(index=True)
    # Where its lead time starts, as its builds told (kept here so a report reads them with
    # the version): the earliest commit time (`extra_metadata.vi_commit_timestamp`), the
    # earliest build start, and when its first build event was received.
    committed_at: datetime | None = _when(nullable=True, default_now=False)
    build_started_at: datetime | None = _when(nullable=True, default_now=False)
    first_built_at: datetime | None = _when(nullable=True, default_now=False)
    # When it first completed a deployment anywhere (when that deployment ended).
    first_completed_at: datetime | None = _when(nullable=True, default_now=False)


class Build(SQLModel, table=True):
    """A build of a version; events with one `invoke_id` update one row."""

    __tablename__ = "builds"
    __table_args__ = (Index("ix_builds_version_invoke", "version_id", "invoke_id"),)
    id: UUID = Field(primary_key=True)
    product_id: UUID = Field(foreign_key="products.id")
    version_id: UUID = Field(foreign_key="versions.id")
    status: str = Field(max_length=16)
    invoke_id: str | None = None
    scm_sha: str | None = None
    scm_repository: str | None = None
    scm_branch: str | None = None
    build_number: str | None = None
    build_url: str | None = None
    source_system: str | None = None
    built_by: str | None = None
    built_by_email: str | None = None
    built_by_name: str | None = None
    error_message: str | None = None
    error_code: str | None = None
    started_at: datetime | None = _when(nullable=True, default_now=False)
    completed_at: datetime | None = _when(nullable=True, default_now=False)
    extra_metadata: dict[str, Any] = _json(dict)
    created_at: datetime = _when()
    updated_at: datetime = _when()


class Deployment(SQLModel, table=True):
    """A deployment; `deployed_at` and `finished_at` are the server's receipt times."""

    __tablename__ = "deployments"
    __table_args__ = (
        Index("ix_deployments_product_env", "product_id", "environment_id", "deployed_at"),
        # With `ended_at` last: "did this version complete there before?" (the lead time's
        # first arrival) is one index search.
        Index("ix_deployments_version_env", "version_id", "environment_id", "status", "ended_at"),
        Index("ix_deployments_deployed_at", "deployed_at"),
        Index("ix_deployments_env_ended", "environment_id", "ended_at"),
    )
    id: UUID = Field(primary_key=True)
    product_id: UUID = Field(foreign_key="products.id")
    version_id: UUID = Field(foreign_key="versions.id")
    environment_id: UUID = Field(foreign_key="environments.id")
    status: str = Field(max_length=16, index=True)
    invoke_id: str | None = None
    scm_sha: str | None = None
    build_number: str | None = None
    source_system: str | None = None
    deployed_by: str | None = None
    deployed_by_email: str | None = None
    deployed_by_name: str | None = None
    deploy_url: str | None = None
    deployed_at: datetime = _when()
    completed_at: datetime | None = _when(nullable=True, default_now=False)
    finished_at: datetime | None = _when(nullable=True, default_now=False)
    # When it ended as its events say (`completed_at`), else as received (`finished_at`):
    # the time insights count it at.
    ended_at: datetime | None = _when(nullable=True, default_now=False)
    sha_mismatch: bool = False
    abort_reason: str | None = None
    extra_metadata: dict[str, Any] = _json(dict)
    updated_at: datetime = _when()


class EnvironmentState(SQLModel, table=True):
    """What runs where, one row per (product, environment): the row a verdict locks."""

    __tablename__ = "environment_states"
    product_id: UUID = Field(primary_key=True, foreign_key="products.id")
    environment_id: UUID = Field(primary_key=True, foreign_key="environments.id")
    current_deployment_id: UUID | None = None
    in_progress_deployment_id: UUID | None = None
    pending_deployment_id: UUID | None = None
    latest_deployment_id: UUID | None = None
    updated_at: datetime = _when()


class BlockedAttempt(SQLModel, table=True):
    """A `deployment started` refused by policy: never a deployment, never moving state."""

    __tablename__ = "blocked_attempts"
    __table_args__ = (Index("ix_blocked_product_env", "product_id", "environment_id", "at"),)
    id: UUID = Field(primary_key=True)
    product_id: UUID = Field(foreign_key="products.id")
    version_id: UUID = Field(foreign_key="versions.id")
    environment_id: UUID = Field(foreign_key="environments.id")
    status_code: int
    actor: str
    violations: list[dict[str, Any]] = _json(list)
    at: datetime = _when(index=True)


class EventRecord(SQLModel, table=True):
    """Every event by id: what it became and the answer it got (replays answer the same)."""

    __tablename__ = "events"
    event_id: UUID = Field(primary_key=True)
    event_kind: EventKind = _choice(16)
    status: EventState = _choice(16)
    status_code: int | None = None
    reply: dict[str, Any] | None = _json_nullable()
    product_id: UUID | None = None
    version_id: UUID | None = None
    environment_id: UUID | None = None
    record_id: UUID | None = None
    sender_id: UUID | None = None
    created_at: datetime = _when()
    updated_at: datetime = _when()


class User(SQLModel, table=True):
    """A person with one of the ten roles."""

    __tablename__ = "users"
    id: UUID = Field(default_factory=uuid4, primary_key=True)
    name: str = Field(max_length=255)
    email: str | None = Field(default=None, max_length=320)
    role: str = Field(max_length=32, index=True)
    slack_user_id: str | None = Field(default=None, max_length=64, unique=True)
    active: bool = True
    created_at: datetime = _when(index=True)
    updated_at: datetime = _when()


class Credential(SQLModel, table=True):
    """An invite, a personal token or an API key, stored only as a SHA-256 of the secret.

    Secrets are 32+ random base62 characters, so a plain hash is enough: nothing to brute
    force, and lookups stay one indexed equality.
    """

    __tablename__ = "credentials"
    id: UUID = Field(default_factory=uuid4, primary_key=True)
    kind: str = Field(max_length=16)
    secret_hash: str = Field(max_length=64, unique=True)
    prefix: str = Field(max_length=64)
    name: str | None = Field(default=None, max_length=255)
    user_id: UUID | None = Field(default=None, foreign_key="users.id", index=True)
    created_by: str | None = None
    created_at: datetime = _when(index=True)
    expires_at: datetime | None = _when(nullable=True, default_now=False)
    used_at: datetime | None = _when(nullable=True, default_now=False)
    last_used_at: datetime | None = _when(nullable=True, default_now=False)
    revoked_at: datetime | None = _when(nullable=True, default_now=False)


class AuditEntry(SQLModel, table=True):
    """One line of the append-only audit log."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_kind_at", "kind", "at"),)
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _when(index=True)
    actor: str = Field(max_length=300, index=True)
    kind: str = Field(max_length=64)
    subject_id: str | None = Field(default=None, max_length=64)
    summary: str
    data: dict[str, Any] = _json(dict)


class OutboxMessage(SQLModel, table=True):
    """A domain event committed with its state change, waiting for the relay to publish it."""

    __tablename__ = "outbox"
    id: int | None = Field(default=None, primary_key=True)
    exchange: str = Field(max_length=32)
    routing_key: str = Field(max_length=128)
    body: str
    # The AMQP headers it goes out with: the event and request it was written for (their
    # log lines carry those ids in every service), as JSON; None when there were none.
    headers: str | None = None
    created_at: datetime = _when()
    sent_at: datetime | None = _when(nullable=True, default_now=False, index=True)


class Lease(SQLModel, table=True):
    """A named lease, so one replica at a time runs a singleton job (the outbox relay)."""

    __tablename__ = "leases"
    name: str = Field(primary_key=True, max_length=64)
    holder: str = Field(max_length=64)
    expires_at: datetime = _when()


class Rule(SQLModel, table=True):
    """A Deployment Rule; scope by product and environment names (empty: all)."""

    __tablename__ = "deployment_rules"
    id: UUID = Field(default_factory=uuid4, primary_key=True)
    name: str = Field(max_length=255, unique=True)
    rule_type: RuleType = _choice(32)
    mode: RuleMode = _choice(16)
    products: list[str] = _json(list)
    environments: list[str] = _json(list)
    config: dict[str, Any] = _json(dict)
    created_by: str | None = Field(default=None, max_length=300)
    created_at: datetime = _when()
    updated_at: datetime = _when()


class PolicyRevision(SQLModel, table=True):
    """One row counting changes to what verdicts read: rules, requests, approvals, renames.

    A verdict reads it in its transaction (shared lock on PostgreSQL), a change increments it
    (exclusive), so no verdict decides on rules a committed change has replaced; and each
    process caches what it loaded per revision.
    """

    __tablename__ = "policy_revision"
    id: int = Field(default=1, primary_key=True)
    revision: int = 0
    updated_at: datetime = _when()


class DeploymentRequest(SQLModel, table=True):
    """A Deployment Request: items to ship, where, the approvals and the steps it needs."""

    __tablename__ = "deployment_requests"
    id: UUID = Field(default_factory=uuid4, primary_key=True)
    name: str = Field(max_length=255)
    description: str | None = None
    status: RequestStatus = _choice(16, index=True)
    created_by_id: UUID | None = None
    created_by: str = Field(max_length=300)
    created_at: datetime = _when(index=True)
    updated_at: datetime = _when()
    submitted_at: datetime | None = _when(nullable=True, default_now=False)
    closed_at: datetime | None = _when(nullable=True, default_now=False)


class RequestItem(SQLModel, table=True):
    """A product and version a Deployment Request ships."""

    __tablename__ = "dr_items"
    id: UUID = Field(default_factory=uuid4, primary_key=True)
    request_id: UUID = Field(foreign_key="deployment_requests.id", index=True)
    position: int
    product: str = Field(max_length=255)
    version: str = Field(max_length=255)


class RequestEnvironment(SQLModel, table=True):
    """An environment a Deployment Request targets."""

    __tablename__ = "dr_environments"
    request_id: UUID = Field(foreign_key="deployment_requests.id", primary_key=True)
    environment: str = Field(max_length=255, primary_key=True)
    position: int


class RequestSlot(SQLModel, table=True):
    """An approval slot: one approval of its type decides it."""

    __tablename__ = "dr_slots"
    id: UUID = Field(default_factory=uuid4, primary_key=True)
    request_id: UUID = Field(foreign_key="deployment_requests.id", index=True)
    position: int
    approval_type: str = Field(max_length=32)
    optional: bool = False
    status: SlotStatus = _choice(16, default="pending")
    decided_by_id: UUID | None = None
    decided_by: str | None = Field(default=None, max_length=300)
    decided_role: str | None = Field(default=None, max_length=32)
    decided_at: datetime | None = _when(nullable=True, default_now=False)
    comment: str | None = None


class RequestStep(SQLModel, table=True):
    """A pre- or post-deployment step, ticked by hand."""

    __tablename__ = "dr_steps"
    id: UUID = Field(default_factory=uuid4, primary_key=True)
    request_id: UUID = Field(foreign_key="deployment_requests.id", index=True)
    phase: str = Field(max_length=8)
    position: int
    text: str
    completed_by_id: UUID | None = None
    completed_by: str | None = Field(default=None, max_length=300)
    completed_at: datetime | None = _when(nullable=True, default_now=False)


class VersionApproval(SQLModel, table=True):
    """A sign-off on a version, optionally for one environment."""

    __tablename__ = "version_approvals"
    __table_args__ = (Index("ix_version_approvals_version", "version_id", "approval_type"),)
    id: UUID = Field(default_factory=uuid4, primary_key=True)
    version_id: UUID = Field(foreign_key="versions.id")
    approval_type: str = Field(max_length=32)
    environment: str | None = Field(default=None, max_length=255)
    environment_id: UUID | None = None
    comment: str | None = None
    approved_by_id: UUID | None = None
    approved_by: str = Field(max_length=300)
    approver_role: str = Field(max_length=32)
    created_at: datetime = _when()
    revoked_at: datetime | None = _when(nullable=True, default_now=False)
    revoked_by: str | None = Field(default=None, max_length=300)


class ViolationRecord(SQLModel, table=True):
    """A rule or request check a deployment failed: blocked, reported, or overridden."""

    __tablename__ = "violations"
    __table_args__ = (
        Index("ix_violations_at", "at"),
        Index("ix_violations_rule", "rule_name", "at"),
        Index("ix_violations_rule_id", "rule_id", "id"),
        Index("ix_violations_pair", "product_id", "environment_id", "at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    event_id: UUID
    deployment_id: UUID | None = None
    product_id: UUID
    version_id: UUID
    environment_id: UUID
    rule_id: UUID | None = None
    rule_name: str = Field(max_length=255)
    rule_type: str = Field(max_length=32)
    code: str = Field(max_length=64)
    message: str
    outcome: ViolationOutcome = _choice(16)
    actor: str = Field(max_length=300)
    at: datetime = _when()


class SlackClick(SQLModel, table=True):
    """A click in Slack, counted once per (message, `action_ts`): Slack retries its requests."""

    __tablename__ = "slack_clicks"
    __table_args__ = (
        UniqueConstraint("channel_id", "message_ts", "action_ts", name="uq_slack_click"),
    )
    id: int | None = Field(default=None, primary_key=True)
    channel_id: str = Field(max_length=64)
    message_ts: str = Field(max_length=64)
    action_ts: str = Field(max_length=64)
    slack_user_id: str = Field(max_length=64)
    at: datetime = _when()


class Incident(SQLModel, table=True):
    """An incident, one row per `incident_id`, with the deployment running where it opened."""

    __tablename__ = "incidents"
    __table_args__ = (
        Index("ix_incidents_env_opened", "environment_id", "opened_at"),
        Index("ix_incidents_deployment", "deployment_id"),
    )
    id: UUID = Field(default_factory=uuid4, primary_key=True)
    incident_id: str = Field(max_length=255, unique=True)
    product_id: UUID = Field(foreign_key="products.id")
    environment_id: UUID = Field(foreign_key="environments.id")
    deployment_id: UUID | None = None
    status: IncidentStatus = _choice(16)
    title: str | None = None
    url: str | None = None
    opened_at: datetime = _when()
    resolved_at: datetime | None = _when(nullable=True, default_now=False)
    created_by: str = Field(max_length=300)
    created_at: datetime = _when()
    updated_at: datetime = _when()
