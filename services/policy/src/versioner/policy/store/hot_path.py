"""The lanes' queries, in SQLAlchemy Core on a sync `Connection` (see `Database.run`).

Each function is one statement (or two on a first sight), built once and run as `Prepared`
(on SQLite, on the driver directly). Rows come back as plain records (`Ref`, `VersionRef`,
`StateRef`, `DeploymentRecord`); no ORM session is involved, so an event costs only the
round trips it needs.

First sights insert without `ON CONFLICT`: if another replica inserted the same name,
version or state row meanwhile, the transaction fails with an `IntegrityError` and is run
again, when the row is there to be found (`eventlog.once`).
"""

import logging
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import Connection, and_, bindparam, func, insert, or_, select, update

from versioner.policy.catalog.naming import infer_environment_type
from versioner.policy.store.sql import Prepared, is_postgres, table
from versioner.policy.store.tables import (
    Deployment,
    Environment,
    EnvironmentName,
    EnvironmentState,
    Product,
    ProductName,
    Version,
)

log = logging.getLogger(__name__)

PRODUCTS = table(Product)
PRODUCT_NAMES = table(ProductName)
ENVIRONMENTS = table(Environment)
ENVIRONMENT_NAMES = table(EnvironmentName)
VERSIONS = table(Version)
DEPLOYMENTS = table(Deployment)
STATES = table(EnvironmentState)


class NameCache:
    """Name → id of products and environments this process has seen committed.

    Safe for ever: a name belongs to one record from its first sight on, renames included.
    Entries are learnt only after the transaction that read them committed.
    """

    def __init__(self) -> None:
        self.products: dict[str, UUID] = {}
        self.environments: dict[str, UUID] = {}


@dataclass(slots=True)
class Ref:
    """A product or environment as an event resolved it."""

    id: UUID
    name: str
    new: bool = False
    # Found in the cache: `name` is the one the event sent, maybe no longer the current one.
    cached: bool = False


def _named_lookup(names: Any, records: Any, key: str) -> Prepared:
    return Prepared(
        select(records.c.id, records.c.name)
        .select_from(names.join(records, records.c.id == names.c[key]))
        .where(names.c.name == bindparam("name"))
    )


# Statements are built once: SQLAlchemy then reuses their compiled form and cache key, which
# matters on a path that runs every statement for every event.
_FIND_PRODUCT = _named_lookup(PRODUCT_NAMES, PRODUCTS, "product_id")
_FIND_ENVIRONMENT = _named_lookup(ENVIRONMENT_NAMES, ENVIRONMENTS, "environment_id")
_INSERT = {
    model: Prepared(insert(model))
    for model in (
        PRODUCT_NAMES,
        PRODUCTS,
        ENVIRONMENT_NAMES,
        ENVIRONMENTS,
        VERSIONS,
        DEPLOYMENTS,
        STATES,
    )
}
_FIND_VERSION = Prepared(
    select(VERSIONS.c.id, VERSIONS.c.scm_sha, VERSIONS.c.registered, PRODUCTS.c.name)
    .select_from(VERSIONS.join(PRODUCTS, PRODUCTS.c.id == VERSIONS.c.product_id))
    .where(
        VERSIONS.c.product_id == bindparam("product_id"), VERSIONS.c.version == bindparam("version")
    )
)
_CURRENT = DEPLOYMENTS.alias("current")
_LOCK_STATE = (
    select(
        STATES.c.current_deployment_id,
        STATES.c.in_progress_deployment_id,
        STATES.c.pending_deployment_id,
        STATES.c.latest_deployment_id,
        ENVIRONMENTS.c.name,
        _CURRENT.c.version_id,
        _CURRENT.c.finished_at,
    )
    .select_from(
        STATES.join(ENVIRONMENTS, ENVIRONMENTS.c.id == STATES.c.environment_id).outerjoin(
            _CURRENT, _CURRENT.c.id == STATES.c.current_deployment_id
        )
    )
    .where(
        STATES.c.product_id == bindparam("product_id"),
        STATES.c.environment_id == bindparam("environment_id"),
    )
)
_LOCK_STATE_FOR_UPDATE = Prepared(_LOCK_STATE.with_for_update(of=STATES))
_LOCK_STATE_SQLITE = Prepared(_LOCK_STATE)
_UPDATE_STATE = Prepared(
    update(STATES)
    .where(
        STATES.c.product_id == bindparam("pk_product_id"),
        STATES.c.environment_id == bindparam("pk_environment_id"),
    )
    .values(
        current_deployment_id=bindparam("current_deployment_id"),
        in_progress_deployment_id=bindparam("in_progress_deployment_id"),
        pending_deployment_id=bindparam("pending_deployment_id"),
        latest_deployment_id=bindparam("latest_deployment_id"),
        updated_at=bindparam("updated_at"),
    )
)
_PRODUCT_NAME = Prepared(select(PRODUCTS.c.name).where(PRODUCTS.c.id == bindparam("id")))
_ENVIRONMENT_NAME = Prepared(
    select(ENVIRONMENTS.c.name).where(ENVIRONMENTS.c.id == bindparam("id"))
)
_NAMES_OF = select(
    select(PRODUCTS.c.name).where(PRODUCTS.c.id == bindparam("product")).scalar_subquery(),
    select(VERSIONS.c.version).where(VERSIONS.c.id == bindparam("version")).scalar_subquery(),
    select(ENVIRONMENTS.c.name)
    .where(ENVIRONMENTS.c.id == bindparam("environment"))
    .scalar_subquery(),
)
_GET_DEPLOYMENT = Prepared(select(DEPLOYMENTS).where(DEPLOYMENTS.c.id == bindparam("id")))
# The columns to change are the parameters besides `pk_id` (compiled once per set).
_UPDATE_DEPLOYMENT = Prepared(update(DEPLOYMENTS).where(DEPLOYMENTS.c.id == bindparam("pk_id")))
_UPDATE_VERSION = Prepared(update(VERSIONS).where(VERSIONS.c.id == bindparam("pk_id")))
_LAST_COMPLETED = Prepared(
    select(func.max(DEPLOYMENTS.c.finished_at)).where(
        and_(
            DEPLOYMENTS.c.version_id == bindparam("version_id"),
            DEPLOYMENTS.c.environment_id == bindparam("environment_id"),
            DEPLOYMENTS.c.status == "completed",
        )
    )
)
_STALE = (
    select(DEPLOYMENTS.c.id)
    .where(DEPLOYMENTS.c.status == "started", DEPLOYMENTS.c.deployed_at < bindparam("cutoff"))
    .order_by(DEPLOYMENTS.c.deployed_at)
    .limit(100)
)


def _find_named(conn: Connection, stmt: Prepared, name: str) -> Ref | None:
    row = stmt.first(conn, {"name": name})
    return Ref(row[0], row[1]) if row else None


def product(conn: Connection, cache: NameCache, name: str, now: datetime) -> Ref:
    """The product with this name, created on first sight."""
    if (known := cache.products.get(name)) is not None:
        return Ref(known, name, cached=True)
    if found := _find_named(conn, _FIND_PRODUCT, name):
        return found
    ident = uuid4()
    _INSERT[PRODUCT_NAMES].run(conn, {"name": name, "product_id": ident, "created_at": now})
    _INSERT[PRODUCTS].run(
        conn,
        {
            "id": ident,
            "name": name,
            "description": None,
            "meta": {},
            "created_at": now,
            "updated_at": now,
        },
    )
    return Ref(ident, name, new=True)


def environment(conn: Connection, cache: NameCache, name: str, now: datetime) -> Ref:
    """The environment with this name, created (type inferred) on first sight."""
    if (known := cache.environments.get(name)) is not None:
        return Ref(known, name, cached=True)
    if found := _find_named(conn, _FIND_ENVIRONMENT, name):
        return found
    ident = uuid4()
    _INSERT[ENVIRONMENT_NAMES].run(conn, {"name": name, "environment_id": ident, "created_at": now})
    _INSERT[ENVIRONMENTS].run(
        conn,
        {
            "id": ident,
            "name": name,
            "type": infer_environment_type(name),
            "description": None,
            "meta": {},
            "created_at": now,
            "updated_at": now,
        },
    )
    return Ref(ident, name, new=True)


_VERSION_DEFAULTS: dict[str, Any] = {
    "scm_repository": None,
    "scm_branch": None,
    "build_number": None,
    "build_url": None,
    "registered": False,
    "registered_at": None,
}


@dataclass(slots=True)
class VersionRef:
    """A version as an event needs it."""

    id: UUID
    product_id: UUID
    version: str
    scm_sha: str | None
    registered: bool
    new: bool = False


def version(
    conn: Connection,
    product: Ref,
    name: str,
    now: datetime,
    *,
    sha: str | None = None,
    values: dict[str, Any] | None = None,
) -> VersionRef:
    """The version row, created on first sight (with the first SHA sent, if any).

    Also refreshes `product.name` to the product's current name (it may have been renamed).
    """
    if not product.new:
        row = _FIND_VERSION.first(conn, {"product_id": product.id, "version": name})
        if row is not None:
            product.name = row[3]
            return VersionRef(row[0], product.id, name, row[1], row[2])
    if product.cached:
        product.name = _PRODUCT_NAME.scalar(conn, {"id": product.id})
    ident = uuid4()
    values = {
        **_VERSION_DEFAULTS,
        "id": ident,
        "product_id": product.id,
        "version": name,
        "scm_sha": sha,
        "created_at": now,
        **(values or {}),
    }
    _INSERT[VERSIONS].run(conn, values)
    return VersionRef(ident, product.id, name, sha, registered=bool(values["registered"]), new=True)


def update_version(conn: Connection, version_id: UUID, **values: Any) -> None:
    """Change a version's columns."""
    _UPDATE_VERSION.run(conn, {"pk_id": version_id, **values})


_FIRST_COMPLETED = Prepared(
    update(VERSIONS)
    .where(
        VERSIONS.c.id == bindparam("version_id"),
        or_(
            VERSIONS.c.first_completed_at.is_(None),
            VERSIONS.c.first_completed_at > bindparam("at"),
        ),
    )
    .values(first_completed_at=bindparam("at"))
)


def version_completed(conn: Connection, version_id: UUID, at: datetime) -> None:
    """Keep when a version first completed a deployment anywhere (insights read it to skip
    looking for earlier arrivals of versions that had none)."""
    _FIRST_COMPLETED.run(conn, {"version_id": version_id, "at": at})


@dataclass(slots=True)
class StateRef:
    """A (product, environment) state row, its deployments in brief, and pending changes."""

    product_id: UUID
    environment_id: UUID
    environment_name: str
    current_deployment_id: UUID | None = None
    in_progress_deployment_id: UUID | None = None
    # The newest pending deployment: a `started` of the same run promotes it. Queued runs
    # are one per pair in practice; an older one left pending closes by its own outcome.
    pending_deployment_id: UUID | None = None
    latest_deployment_id: UUID | None = None
    current_version_id: UUID | None = None
    current_finished_at: datetime | None = None
    new: bool = False
    changes: dict[str, Any] = field(default_factory=dict)

    def set(self, **values: Any) -> None:
        """Change columns (written by `save_state`)."""
        for name, value in values.items():
            setattr(self, name, value)
        self.changes.update(values)


def lock_state(conn: Connection, product: Ref, environment: Ref) -> StateRef:
    """The pair's state row, locked for this transaction (FOR UPDATE on PostgreSQL; SQLite's
    BEGIN IMMEDIATE already holds the database). A missing row is created by `save_state`."""
    product_id = product.id
    if product.new or environment.new:
        return _new_state(conn, product_id, environment)
    stmt = _LOCK_STATE_FOR_UPDATE if is_postgres(conn) else _LOCK_STATE_SQLITE
    row = stmt.first(conn, {"product_id": product_id, "environment_id": environment.id})
    if row is None:
        return _new_state(conn, product_id, environment)
    environment.name = row[4]
    return StateRef(
        product_id,
        environment.id,
        row[4],
        current_deployment_id=row[0],
        in_progress_deployment_id=row[1],
        pending_deployment_id=row[2],
        latest_deployment_id=row[3],
        current_version_id=row[5],
        current_finished_at=row[6],
    )


def _new_state(conn: Connection, product_id: UUID, environment: Ref) -> StateRef:
    if environment.cached:
        environment.name = _ENVIRONMENT_NAME.scalar(conn, {"id": environment.id})
    return StateRef(product_id, environment.id, environment.name, new=True)


def save_state(conn: Connection, state: StateRef, now: datetime) -> None:
    """Write the state row's changes (a new row is inserted with them)."""
    if not state.changes and not state.new:
        return
    columns = {
        "current_deployment_id": state.current_deployment_id,
        "in_progress_deployment_id": state.in_progress_deployment_id,
        "pending_deployment_id": state.pending_deployment_id,
        "latest_deployment_id": state.latest_deployment_id,
        "updated_at": now,
    }
    if state.new:
        _INSERT[STATES].run(
            conn,
            {"product_id": state.product_id, "environment_id": state.environment_id, **columns},
        )
        state.new = False
    else:
        _UPDATE_STATE.run(
            conn,
            {
                "pk_product_id": state.product_id,
                "pk_environment_id": state.environment_id,
                **columns,
            },
        )
    state.changes.clear()


@dataclass(slots=True)
class DeploymentRecord:
    """A `deployments` row on the lanes: a plain record with the table's columns.

    Not the SQLModel class: building one of those (SQLAlchemy's instrumentation included) cost
    0.13 ms, twice per deployment (issue 8).
    """

    id: UUID
    product_id: UUID
    version_id: UUID
    environment_id: UUID
    status: str
    deployed_at: datetime
    updated_at: datetime
    invoke_id: str | None = None
    scm_sha: str | None = None
    build_number: str | None = None
    source_system: str | None = None
    deployed_by: str | None = None
    deployed_by_email: str | None = None
    deployed_by_name: str | None = None
    deploy_url: str | None = None
    completed_at: datetime | None = None
    finished_at: datetime | None = None
    ended_at: datetime | None = None
    sha_mismatch: bool = False
    abort_reason: str | None = None
    extra_metadata: dict[str, Any] = field(default_factory=dict)

    def values(self) -> dict[str, Any]:
        """The row's columns, for an INSERT."""
        return {name: getattr(self, name) for name in _DEPLOYMENT_FIELDS}


_DEPLOYMENT_FIELDS = tuple(f.name for f in fields(DeploymentRecord))
assert set(_DEPLOYMENT_FIELDS) == set(DEPLOYMENTS.columns.keys()), "DeploymentRecord drifted"


def deployment(conn: Connection, deployment_id: UUID | None) -> DeploymentRecord | None:
    """A deployment row, as a data holder."""
    if deployment_id is None:
        return None
    row = _GET_DEPLOYMENT.record(conn, {"id": deployment_id})
    return DeploymentRecord(**row) if row else None


def insert_deployment(conn: Connection, record: DeploymentRecord) -> None:
    """Insert a new deployment."""
    _INSERT[DEPLOYMENTS].run(conn, record.values())


def update_deployment(conn: Connection, record: DeploymentRecord, *names: str) -> None:
    """Write some columns of a deployment."""
    _UPDATE_DEPLOYMENT.run(
        conn, {"pk_id": record.id, **{name: getattr(record, name) for name in names}}
    )


def last_completed_at(conn: Connection, version_id: UUID, environment_id: UUID) -> datetime | None:
    """When this version last completed a deployment to this environment."""
    at: datetime | None = _LAST_COMPLETED.scalar(
        conn, {"version_id": version_id, "environment_id": environment_id}
    )
    return at


def names_of(conn: Connection, record: DeploymentRecord) -> tuple[str, str, str]:
    """A deployment's product name, version string and environment name, as they are now."""
    row: Any = conn.execute(
        _NAMES_OF,
        {
            "product": record.product_id,
            "version": record.version_id,
            "environment": record.environment_id,
        },
    ).one()
    return row[0], row[1], row[2]


def stale_deployments(conn: Connection, *, cutoff: datetime) -> list[UUID]:
    """Started deployments that began before `cutoff` (at most a hundred, oldest first)."""
    return [row[0] for row in conn.execute(_STALE, {"cutoff": cutoff})]
