"""Helpers of policy's tests: actors, event builders, readers of replies and rows, and `Policy`,
policy's operations called directly (the fixtures are in tests/policy/conftest.py)."""

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar
from uuid import UUID, uuid4

import pytest
from pydantic import BaseModel, SecretStr
from sqlalchemy import func
from sqlmodel import SQLModel, col, select

from versioner.common.errors import ErrorDetail, Failure
from versioner.common.events import BuildEventIn, DeploymentEventIn
from versioner.common.messages.actor import Actor
from versioner.common.messages.lanes import (
    BuildEventReceived,
    BuildRecorded,
    BuildReply,
    DeploymentEventReceived,
    DeploymentRecorded,
    DeploymentReply,
    DeploymentStartAbandoned,
    EvaluateDeployment,
)
from versioner.common.messages.management import (
    ManagementRequest,
    NoteEventsQueued,
    QueuedEvent,
)
from versioner.common.resources import BuildPublic, DeploymentPublic
from versioner.common.roles import Role
from versioner.policy import commands
from versioner.policy.catalog import builds
from versioner.policy.context import PolicyContext
from versioner.policy.deployments.closing import handle_abandoned
from versioner.policy.deployments.outcomes import handle_deployment_event
from versioner.policy.deployments.start import handle_start
from versioner.policy.settings import PolicySettings
from versioner.policy.store.clock import FrozenClock
from versioner.policy.store.deadline import Deadline
from versioner.policy.store.tables import AuditEntry, OutboxMessage

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


BOOTSTRAP_TOKEN = "pat_bootstrap_" + "t" * 32


CI = Actor(kind="api_key", id=UUID("00000000-0000-4000-8000-0000000000c1"), name="ci")


OTHER_CI = Actor(kind="api_key", id=UUID("00000000-0000-4000-8000-0000000000c2"), name="other-ci")


ADMIN = Actor(
    kind="user", id=UUID("00000000-0000-4000-8000-0000000000a1"), name="alice", role=Role.ADMIN
)


VIEWER = Actor(
    kind="user", id=UUID("00000000-0000-4000-8000-0000000000b1"), name="victor", role=Role.VIEWER
)


M = TypeVar("M", bound=BaseModel)


S = TypeVar("S", bound=SQLModel)


def build_event(
    product: str,
    version: str,
    status: str = "completed",
    *,
    at: datetime = T0,
    actor: Actor = CI,
    event_id: UUID | None = None,
    **fields: Any,
) -> BuildEventReceived:
    """A build event as ingest hands it to policy."""
    return BuildEventReceived(
        event_id=event_id or uuid4(),
        received_at=at,
        actor=actor,
        event=BuildEventIn.model_validate(
            {"product_name": product, "version": version, "status": status, **fields}
        ),
    )


def _deployment_in(
    product: str, version: str, environment: str, status: str, fields: dict[str, Any]
) -> DeploymentEventIn:
    return DeploymentEventIn.model_validate(
        {
            "product_name": product,
            "version": version,
            "environment_name": environment,
            "status": status,
            **fields,
        }
    )


def started(
    product: str,
    version: str,
    environment: str,
    *,
    at: datetime = T0,
    actor: Actor = CI,
    event_id: UUID | None = None,
    **fields: Any,
) -> EvaluateDeployment:
    """A `deployment started`: a request for the verdict."""
    return EvaluateDeployment(
        event_id=event_id or uuid4(),
        received_at=at,
        actor=actor,
        event=_deployment_in(product, version, environment, "started", fields),
    )


def deployment_event(
    product: str,
    version: str,
    environment: str,
    status: str,
    *,
    at: datetime = T0,
    actor: Actor = CI,
    event_id: UUID | None = None,
    **fields: Any,
) -> DeploymentEventReceived:
    """A pending or terminal deployment event: a fact."""
    return DeploymentEventReceived(
        event_id=event_id or uuid4(),
        received_at=at,
        actor=actor,
        event=_deployment_in(product, version, environment, status, fields),
    )


def noted(
    actor: Actor, event_id: UUID, kind: Literal["build", "deployment"], at: datetime
) -> NoteEventsQueued:
    """Ingest's note that `actor`'s event was answered 202, as `actor` sends it."""
    return NoteEventsQueued(
        actor=actor,
        events=[
            QueuedEvent(event_id=event_id, event_kind=kind, sender_id=actor.id, received_at=at)
        ],
    )


def recorded_build(reply: BuildReply) -> BuildPublic:
    """The build a reply carries (fails the test on a refusal)."""
    assert isinstance(reply, BuildRecorded), reply
    return reply.build


def recorded(reply: DeploymentReply) -> DeploymentPublic:
    """The deployment a reply carries (fails the test on a refusal)."""
    assert isinstance(reply, DeploymentRecorded), reply
    return reply.deployment


def refused(reply: object, status_code: int) -> Failure:
    """The failure a reply is, with this status code."""
    assert isinstance(reply, Failure), reply
    assert reply.status_code == status_code, reply
    return reply


def detail_of(failure: Failure) -> ErrorDetail:
    """The structured `detail` of a 409, 428 or 503."""
    assert isinstance(failure.body.detail, ErrorDetail), failure.body
    return failure.body.detail


def result(value: object, kind: type[M]) -> M:
    """A management result of the expected model (fails the test on anything else)."""
    assert isinstance(value, kind), value
    return value


def policy_settings(database_url: str, **overrides: Any) -> PolicySettings:
    """Settings for a test installation."""
    values: dict[str, Any] = {
        "database_url": database_url,
        "bootstrap_token": SecretStr(BOOTSTRAP_TOKEN),
        **overrides,
    }
    return PolicySettings(**values)


async def rows(ctx: PolicyContext, model: type[S]) -> list[S]:
    """Every row of a table."""
    async with ctx.db.read() as session:
        return list((await session.execute(select(model))).scalars())


async def outbox(ctx: PolicyContext, routing_key: str | None = None) -> list[OutboxMessage]:
    """Outbox rows in id order, optionally of one routing key."""
    stmt = select(OutboxMessage).order_by(col(OutboxMessage.id))
    if routing_key is not None:
        stmt = stmt.where(col(OutboxMessage.routing_key) == routing_key)
    async with ctx.db.read() as session:
        return list((await session.execute(stmt)).scalars())


async def audit_entries(ctx: PolicyContext, kind: str) -> list[AuditEntry]:
    """Audit log lines of one kind, oldest first."""
    async with ctx.db.read() as session:
        return list(
            (
                await session.execute(
                    select(AuditEntry)
                    .where(col(AuditEntry.kind) == kind)
                    .order_by(col(AuditEntry.id))
                )
            ).scalars()
        )


async def count(ctx: PolicyContext, model: type[SQLModel]) -> int:
    """How many rows a table has."""
    async with ctx.db.read() as session:
        return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


def is_postgres(database_url: str) -> bool:
    """Whether a database URL names PostgreSQL."""
    return database_url.startswith("postgresql")


def race(monkeypatch: pytest.MonkeyPatch, module: object, name: str) -> None:
    """Make the first two calls of `module.name` wait for each other before returning.

    Two transactions then both pass a check before either writes: the race, made certain.
    If the second call never comes (the code makes the second transaction wait for the
    first, so there is no race to force), the first goes on after a few seconds.
    PostgreSQL only: SQLite has one writer, so the second transaction could not even begin.
    """
    original: Callable[..., Awaitable[Any]] = getattr(module, name)
    both_arrived = asyncio.Event()
    arrivals: list[None] = []

    async def waits_for_the_other(*args: Any, **kwargs: Any) -> Any:
        value = await original(*args, **kwargs)
        if len(arrivals) < 2:
            arrivals.append(None)
            if len(arrivals) == 2:
                both_arrived.set()
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(both_arrived.wait(), timeout=5)
        return value

    monkeypatch.setattr(module, name, waits_for_the_other)


@dataclass
class Policy:
    """Policy's operations, with every message received at the clock's current time."""

    ctx: PolicyContext
    clock: FrozenClock

    async def build(
        self, product: str, version: str, status: str = "completed", **fields: Any
    ) -> BuildReply:
        """Send a build event."""
        msg = build_event(product, version, status, at=self.clock.now(), **fields)
        return await builds.handle_build_event(self.ctx, msg)

    async def start(
        self, product: str, version: str, environment: str, **fields: Any
    ) -> DeploymentReply:
        """Ask for a deployment to start (no deadline)."""
        msg = started(product, version, environment, at=self.clock.now(), **fields)
        return await handle_start(self.ctx, msg, Deadline())

    async def report(
        self, product: str, version: str, environment: str, status: str, **fields: Any
    ) -> DeploymentReply:
        """Report a pending or terminal deployment event."""
        msg = deployment_event(product, version, environment, status, at=self.clock.now(), **fields)
        return await handle_deployment_event(self.ctx, msg)

    async def deploy(
        self, product: str, version: str, environment: str, **fields: Any
    ) -> DeploymentPublic:
        """Start and complete a deployment; the completed one."""
        recorded(await self.start(product, version, environment, **fields))
        return recorded(await self.report(product, version, environment, "completed", **fields))

    async def abandon(self, event_id: UUID, product: str) -> None:
        """The gateway gave up on a start request."""
        await handle_abandoned(
            self.ctx,
            DeploymentStartAbandoned(
                event_id=event_id, product_name=product, abandoned_at=self.clock.now()
            ),
        )

    async def ask(self, request: ManagementRequest) -> BaseModel:
        """Run a management request."""
        return await commands.handle(self.ctx, request)
