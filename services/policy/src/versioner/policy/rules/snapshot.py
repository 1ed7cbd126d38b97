"""What verdicts read, loaded once per policy revision: active rules, open requests, names.

A verdict reads the revision in its transaction; while it is unchanged, this process reuses
what it loaded. Any change to rules, requests, approvals or names bumps it.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, bindparam, select

from versioner.common.governance import OPEN_STATUSES
from versioner.common.rules import RuleConfig, parse_config
from versioner.policy.rules.schedule import ScheduleVerdict
from versioner.policy.store import revision
from versioner.policy.store.sql import table
from versioner.policy.store.tables import (
    DeploymentRequest,
    EnvironmentName,
    ProductName,
    RequestEnvironment,
    RequestItem,
    RequestSlot,
    RequestStep,
    Rule,
)

RULES = table(Rule)
REQUESTS = table(DeploymentRequest)
ITEMS = table(RequestItem)
REQUEST_ENVIRONMENTS = table(RequestEnvironment)
SLOTS = table(RequestSlot)
STEPS = table(RequestStep)
PRODUCT_NAMES = table(ProductName)
ENVIRONMENT_NAMES = table(EnvironmentName)

_ACTIVE_RULES = select(RULES).where(RULES.c.mode != "disabled").order_by(RULES.c.name)
_OPEN_REQUESTS = select(REQUESTS).where(REQUESTS.c.status.in_(OPEN_STATUSES))
_PRODUCT_NAMES = select(PRODUCT_NAMES.c.name).where(PRODUCT_NAMES.c.product_id == bindparam("id"))
_ENVIRONMENT_NAMES = select(ENVIRONMENT_NAMES.c.name).where(
    ENVIRONMENT_NAMES.c.environment_id == bindparam("id")
)
_ENVIRONMENT_ID = select(ENVIRONMENT_NAMES.c.environment_id).where(
    ENVIRONMENT_NAMES.c.name == bindparam("name")
)


@dataclass(frozen=True)
class ActiveRule:
    """A rule that is enabled or report-only, its configuration parsed."""

    id: UUID
    name: str
    rule_type: str
    mode: str
    products: frozenset[str]
    environments: frozenset[str]
    config: RuleConfig
    created_at: datetime

    def scopes(self, product_names: frozenset[str], environment_names: frozenset[str]) -> bool:
        """Whether the rule applies to a deployment with these product and environment names."""
        return (not self.products or bool(self.products & product_names)) and (
            not self.environments or bool(self.environments & environment_names)
        )


@dataclass(frozen=True)
class OpenSlot:
    """An approval slot of an open request."""

    id: UUID
    approval_type: str
    optional: bool
    status: str


@dataclass(frozen=True)
class OpenRequest:
    """A request that is in progress, approved or rejected."""

    id: UUID
    name: str
    status: str
    items: frozenset[tuple[str, str]]
    environments: frozenset[str]
    slots: tuple[OpenSlot, ...]
    pending_pre_steps: tuple[str, ...]

    def covers(
        self, product_names: frozenset[str], version: str, environment_names: frozenset[str]
    ) -> bool:
        """An item names the product and version, and the environment is a target."""
        return bool(self.environments & environment_names) and any(
            product in product_names and item_version == version
            for product, item_version in self.items
        )


@dataclass
class Snapshot:
    """Everything loaded at one revision; names are filled in as verdicts ask for them."""

    revision: int
    rules: tuple[ActiveRule, ...]
    requests: tuple[OpenRequest, ...]
    product_names: dict[UUID, frozenset[str]] = field(default_factory=dict)
    environment_names: dict[UUID, frozenset[str]] = field(default_factory=dict)
    environment_ids: dict[str, UUID] = field(default_factory=dict)
    # Schedule verdicts by rule: (computed at, valid until, verdict).
    schedule_verdicts: dict[UUID, tuple[datetime, datetime, ScheduleVerdict]] = field(
        default_factory=dict
    )

    def names_of_product(self, conn: Connection, product_id: UUID) -> frozenset[str]:
        """Every name a product has had."""
        if product_id not in self.product_names:
            rows = conn.execute(_PRODUCT_NAMES, {"id": product_id})
            self.product_names[product_id] = frozenset(row[0] for row in rows)
        return self.product_names[product_id]

    def names_of_environment(self, conn: Connection, environment_id: UUID) -> frozenset[str]:
        """Every name an environment has had."""
        if environment_id not in self.environment_names:
            rows = conn.execute(_ENVIRONMENT_NAMES, {"id": environment_id})
            self.environment_names[environment_id] = frozenset(row[0] for row in rows)
        return self.environment_names[environment_id]

    def environment_id(self, conn: Connection, name: str) -> UUID | None:
        """The environment that has or had this name (None: not seen yet)."""
        if (known := self.environment_ids.get(name)) is not None:
            return known
        # Only a name that resolves is kept: a first sight does not move the revision.
        found: UUID | None = conn.execute(_ENVIRONMENT_ID, {"name": name}).scalar()
        if found is not None:
            self.environment_ids[name] = found
        return found


def _rule(row: Any) -> ActiveRule:
    return ActiveRule(
        id=row.id,
        name=row.name,
        rule_type=row.rule_type,
        mode=row.mode,
        products=frozenset(row.products),
        environments=frozenset(row.environments),
        config=parse_config(row.rule_type, row.config),
        created_at=row.created_at,
    )


def _requests(conn: Connection) -> tuple[OpenRequest, ...]:
    heads = list(conn.execute(_OPEN_REQUESTS))
    if not heads:
        return ()
    ids = [row.id for row in heads]
    items: dict[UUID, set[tuple[str, str]]] = defaultdict(set)
    for row in conn.execute(select(ITEMS).where(ITEMS.c.request_id.in_(ids))):
        items[row.request_id].add((row.product, row.version))
    environments: dict[UUID, set[str]] = defaultdict(set)
    for row in conn.execute(
        select(REQUEST_ENVIRONMENTS).where(REQUEST_ENVIRONMENTS.c.request_id.in_(ids))
    ):
        environments[row.request_id].add(row.environment)
    slots: dict[UUID, list[OpenSlot]] = defaultdict(list)
    for row in conn.execute(
        select(SLOTS).where(SLOTS.c.request_id.in_(ids)).order_by(SLOTS.c.position)
    ):
        slots[row.request_id].append(OpenSlot(row.id, row.approval_type, row.optional, row.status))
    pending: dict[UUID, list[str]] = defaultdict(list)
    for row in conn.execute(
        select(STEPS)
        .where(STEPS.c.request_id.in_(ids), STEPS.c.phase == "pre", STEPS.c.completed_at.is_(None))
        .order_by(STEPS.c.position)
    ):
        pending[row.request_id].append(row.text)
    return tuple(
        OpenRequest(
            id=head.id,
            name=head.name,
            status=head.status,
            items=frozenset(items[head.id]),
            environments=frozenset(environments[head.id]),
            slots=tuple(slots[head.id]),
            pending_pre_steps=tuple(pending[head.id]),
        )
        for head in heads
    )


class SnapshotCache:
    """This process's snapshot, reloaded when the revision moves."""

    def __init__(self) -> None:
        self._snapshot: Snapshot | None = None

    def current(self, conn: Connection) -> Snapshot:
        """The snapshot for the revision this transaction reads."""
        now = revision.read(conn)
        snapshot = self._snapshot
        if snapshot is None or snapshot.revision != now:
            snapshot = Snapshot(
                revision=now,
                rules=tuple(_rule(row) for row in conn.execute(_ACTIVE_RULES)),
                requests=_requests(conn),
            )
            self._snapshot = snapshot
        return snapshot
