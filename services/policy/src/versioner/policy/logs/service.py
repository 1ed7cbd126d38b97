"""The violations log and the audit log: newest first, filtered, with an id cursor."""

from uuid import UUID

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from versioner.common.errors import Failure
from versioner.common.governance import AuditEntryPublic, ViolationPublic
from versioner.common.messages.management import ListAudit, ListViolations
from versioner.common.resources import Page
from versioner.policy.catalog.lookup import find_environment, find_product
from versioner.policy.context import PolicyContext
from versioner.policy.registry import handles
from versioner.policy.store.tables import (
    AuditEntry,
    Environment,
    Product,
    Rule,
    Version,
    ViolationRecord,
)


@handles(ListViolations)
async def list_violations(
    ctx: PolicyContext, request: ListViolations
) -> Page[ViolationPublic] | Failure:
    """Blocked, reported and overridden checks, newest first."""
    empty = Page[ViolationPublic](items=[], total=0)
    stmt = select(ViolationRecord)
    async with ctx.db.read() as session:
        if request.rule is not None:
            stmt = stmt.where(await _rule_filter(session, request.rule))
        if request.product is not None:
            product = await find_product(session, request.product)
            if product is None:
                return empty
            stmt = stmt.where(col(ViolationRecord.product_id) == product.id)
        if request.environment is not None:
            environment = await find_environment(session, request.environment)
            if environment is None:
                return empty
            stmt = stmt.where(col(ViolationRecord.environment_id) == environment.id)
        if request.since is not None:
            stmt = stmt.where(col(ViolationRecord.at) >= request.since)
        if request.outcome is not None:
            stmt = stmt.where(col(ViolationRecord.outcome) == request.outcome)
        total = (
            await session.execute(select(func.count()).select_from(stmt.subquery()))
        ).scalar_one()
        if request.before is not None:
            stmt = stmt.where(col(ViolationRecord.id) < request.before)
        records = list(
            (
                await session.execute(
                    stmt.order_by(col(ViolationRecord.id).desc()).limit(request.limit)
                )
            ).scalars()
        )
        names = await _names(session, records)
    return Page[ViolationPublic](
        items=[
            ViolationPublic(
                id=r.id or 0,
                event_id=r.event_id,
                deployment_id=r.deployment_id,
                product=names[r.product_id],
                version=names[r.version_id],
                environment=names[r.environment_id],
                rule_id=r.rule_id,
                rule_name=r.rule_name,
                rule_type=r.rule_type,
                code=r.code,
                message=r.message,
                outcome=r.outcome,
                actor=r.actor,
                at=r.at,
            )
            for r in records
        ],
        total=total,
    )


async def _rule_filter(session: AsyncSession, rule: str) -> ColumnElement[bool]:
    """Violations of a rule named by id or by name (its current name or one it had then)."""
    try:
        return col(ViolationRecord.rule_id) == UUID(rule)
    except ValueError:
        pass
    found = (await session.execute(select(col(Rule.id)).where(col(Rule.name) == rule))).scalar()
    by_name = col(ViolationRecord.rule_name) == rule
    return by_name if found is None else or_(by_name, col(ViolationRecord.rule_id) == found)


async def _names(session: AsyncSession, records: list[ViolationRecord]) -> dict[object, str]:
    names: dict[object, str] = {}
    if not records:
        return names
    for model, column, key in (
        (Product, Product.name, "product_id"),
        (Environment, Environment.name, "environment_id"),
        (Version, Version.version, "version_id"),
    ):
        ids = {getattr(r, key) for r in records}
        rows = await session.execute(
            select(col(model.id), col(column)).where(col(model.id).in_(ids))
        )
        names.update(dict(rows.all()))
    return names


@handles(ListAudit)
async def list_audit(ctx: PolicyContext, request: ListAudit) -> Page[AuditEntryPublic] | Failure:
    """The audit log, newest first, by time, action (or its prefix, `rule.`) and actor."""
    stmt = select(AuditEntry)
    if request.since is not None:
        stmt = stmt.where(col(AuditEntry.at) >= request.since)
    if request.action is not None:
        if request.action.endswith("."):
            stmt = stmt.where(col(AuditEntry.kind).startswith(request.action))
        else:
            stmt = stmt.where(col(AuditEntry.kind) == request.action)
    if request.by is not None:
        # `user:sam` exactly, or `sam` as whatever kind of caller (never `samantha`).
        stmt = stmt.where(
            or_(
                col(AuditEntry.actor) == request.by,
                col(AuditEntry.actor).endswith(f":{request.by}", autoescape=True),
            )
        )
    async with ctx.db.read() as session:
        total = (
            await session.execute(select(func.count()).select_from(stmt.subquery()))
        ).scalar_one()
        if request.before is not None:
            stmt = stmt.where(col(AuditEntry.id) < request.before)
        entries = list(
            (
                await session.execute(stmt.order_by(col(AuditEntry.id).desc()).limit(request.limit))
            ).scalars()
        )
    return Page[AuditEntryPublic](
        items=[
            AuditEntryPublic(
                id=e.id or 0,
                at=e.at,
                actor=e.actor,
                action=e.kind,
                subject_id=e.subject_id,
                summary=e.summary,
                data=e.data,
            )
            for e in entries
        ],
        total=total,
    )
