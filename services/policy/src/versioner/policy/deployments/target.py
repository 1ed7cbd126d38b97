"""What a deployment event names, resolved and locked, and the records it makes or changes.

Every change to a (product, environment) pair happens with its state row locked
(`SELECT … FOR UPDATE` on PostgreSQL; SQLite's `BEGIN IMMEDIATE` already holds the database),
so two policy replicas never both let a deployment through. Each event is one transaction
on a bare connection (SQLAlchemy Core): the hot path costs only the statements it needs.
"""

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from sqlalchemy import Connection

from versioner.common.events import DeploymentEventIn
from versioner.common.resources import DeploymentPublic
from versioner.common.status import Status
from versioner.policy.context import PolicyContext
from versioner.policy.deployments.views import deployment_public, hours_since
from versioner.policy.store import hot_path
from versioner.policy.store.hot_path import DeploymentRecord, Ref, StateRef, VersionRef

# What an event may set on its deployment (those it sends).
EVENT_FIELDS = (
    "invoke_id",
    "scm_sha",
    "build_number",
    "source_system",
    "deployed_by",
    "deployed_by_email",
    "deployed_by_name",
    "deploy_url",
    "completed_at",
)


@dataclass
class Target:
    """What a deployment event names, resolved, with its state row locked."""

    product: Ref
    environment: Ref
    version: VersionRef
    state: StateRef

    @property
    def ids(self) -> dict[str, UUID]:
        """The ids an event record keeps."""
        return {
            "product_id": self.product.id,
            "version_id": self.version.id,
            "environment_id": self.environment.id,
        }

    def public(self, conn: Connection, d: DeploymentRecord, at: datetime) -> DeploymentPublic:
        """A deployment of this target as the API shows it, with its soak time at `at`."""
        return deployment_public(
            d, self.product.name, self.version.version, self.environment.name, soak(conn, self, at)
        )


def resolve(
    ctx: PolicyContext, conn: Connection, event: DeploymentEventIn, now: datetime
) -> Target:
    """Find or create what the event names, and lock its state row.

    A new version is created without a SHA: it takes the event's only once the event is let
    through (`take_sha`), so a blocked start cannot pin the wrong commit.
    """
    product = hot_path.product(conn, ctx.names, event.product_name, now)
    environment = hot_path.environment(conn, ctx.names, event.environment_name, now)
    version = hot_path.version(
        conn, product, event.version, now, values={"scm_repository": event.scm_repository}
    )
    state = hot_path.lock_state(conn, product, environment)
    return Target(product, environment, version, state)


def target_of(conn: Connection, d: DeploymentRecord) -> Target:
    """The target of a recorded deployment, its state row locked."""
    product_name, version, environment_name = hot_path.names_of(conn, d)
    product = Ref(d.product_id, product_name)
    environment = Ref(d.environment_id, environment_name)
    state = hot_path.lock_state(conn, product, environment)
    return Target(
        product,
        environment,
        VersionRef(d.version_id, d.product_id, version, d.scm_sha, registered=True),
        state,
    )


def take_sha(conn: Connection, target: Target, event: DeploymentEventIn) -> None:
    """A version with no SHA takes the first one sent (by an event that was let through)."""
    if target.version.scm_sha is None and event.scm_sha:
        hot_path.update_version(conn, target.version.id, scm_sha=event.scm_sha)
        target.version.scm_sha = event.scm_sha


def learn(ctx: PolicyContext, target: Target, event: DeploymentEventIn) -> None:
    """After commit: the names this event used now surely belong to these records."""
    ctx.names.products[event.product_name] = target.product.id
    ctx.names.environments[event.environment_name] = target.environment.id


def soak(conn: Connection, target: Target, now: datetime) -> float | None:
    """Hours since this version last completed in this environment."""
    if target.state.current_version_id == target.version.id:
        return hours_since(target.state.current_finished_at, now)
    if target.version.new:
        return None
    at = hot_path.last_completed_at(conn, target.version.id, target.environment.id)
    return hours_since(at, now)


def apply_event(d: DeploymentRecord, event: DeploymentEventIn) -> None:
    """What the event sends, onto its deployment."""
    for name in EVENT_FIELDS:
        if (value := getattr(event, name)) is not None:
            setattr(d, name, value)
    if event.extra_metadata:
        d.extra_metadata = {**d.extra_metadata, **event.extra_metadata}


def new_deployment(
    target: Target, event_id: UUID, event: DeploymentEventIn, status: Status, at: datetime
) -> DeploymentRecord:
    """A deployment record for an event that opens one (its id is the event's)."""
    d = DeploymentRecord(
        id=event_id,
        product_id=target.product.id,
        version_id=target.version.id,
        environment_id=target.environment.id,
        status=status,
        deployed_at=at,
        updated_at=at,
        sha_mismatch=False,
        extra_metadata={},
    )
    apply_event(d, event)
    return d


def same_run(d: DeploymentRecord, version_id: UUID, event: DeploymentEventIn) -> bool:
    """Whether an event belongs to this deployment: same version, and `invoke_id` if both set."""
    if d.version_id != version_id:
        return False
    return not (event.invoke_id and d.invoke_id and d.invoke_id != event.invoke_id)


def pending_of(
    conn: Connection, target: Target, event: DeploymentEventIn
) -> DeploymentRecord | None:
    """The pair's pending deployment, if the event belongs to it."""
    d = hot_path.deployment(conn, target.state.pending_deployment_id)
    if d is not None and d.status == Status.PENDING and same_run(d, target.version.id, event):
        return d
    return None
