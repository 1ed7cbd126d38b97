"""Version approvals: sign-offs on a version, in one environment or anywhere."""

from uuid import uuid4

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from versioner.common.errors import Failure, conflict, forbidden, not_found, unprocessable
from versioner.common.governance import VersionApprovalPublic
from versioner.common.messages.domain import VersionApproved
from versioner.common.messages.management import (
    ApproveVersion,
    ListVersionApprovals,
    RevokeVersionApproval,
)
from versioner.common.resources import Page
from versioner.common.roles import ApprovalType, role_may_fill
from versioner.common.rows import public
from versioner.policy.catalog.lookup import find_environment, find_product
from versioner.policy.context import PolicyContext
from versioner.policy.logs.audit import audit
from versioner.policy.registry import handles
from versioner.policy.store import revision
from versioner.policy.store.outbox import enqueue
from versioner.policy.store.tables import Product, Version, VersionApproval


def approval_public(approval: VersionApproval, product: str, version: str) -> VersionApprovalPublic:
    """A sign-off as the API shows it."""
    return public(VersionApprovalPublic, approval, product_name=product, version=version)


async def _version(
    session: AsyncSession, version_id: object, product: str | None, name: str | None
) -> tuple[Version, str] | Failure:
    """The version a request names (by id, or product and version), with its product's name."""
    record: Version | None = None
    if version_id is not None:
        record = await session.get(Version, version_id)
    elif product is not None and name is not None:
        found = await find_product(session, product)
        if found is not None:
            record = (
                await session.execute(
                    select(Version).where(
                        col(Version.product_id) == found.id, col(Version.version) == name
                    )
                )
            ).scalar_one_or_none()
    else:
        return unprocessable("version_id", "name the version by id, or by product and version")
    if record is None:
        return not_found()
    owner = await session.get(Product, record.product_id)
    assert owner is not None
    return record, owner.name


@handles(ApproveVersion)
async def approve_version(
    ctx: PolicyContext, request: ApproveVersion
) -> VersionApprovalPublic | Failure:
    """Sign a version off (a role that may fill the approval type)."""
    actor = request.actor
    if (
        actor.kind != "user"
        or actor.role is None
        or not role_may_fill(actor.role, request.approval_type)
    ):
        return forbidden()
    now = ctx.clock.now()
    async with ctx.db.write() as session:
        found = await _version(session, request.version_id, request.product, request.version)
        if isinstance(found, Failure):
            return found
        version, product = found
        environment_id = None
        if request.environment is not None:
            environment = await find_environment(session, request.environment)
            environment_id = environment.id if environment else None
        approval = VersionApproval(
            version_id=version.id,
            approval_type=request.approval_type,
            environment=request.environment,
            environment_id=environment_id,
            comment=request.comment,
            approved_by_id=actor.id,
            approved_by=actor.name,
            approver_role=str(actor.role),
            created_at=now,
        )
        session.add(approval)
        await revision.bump(session, now)
        where = f" for {request.environment}" if request.environment else ""
        await audit(
            session,
            actor=actor,
            kind="version.approved",
            summary=f"{actor.name} approved {product} {version.version} "
            f"({request.approval_type}){where}",
            at=now,
            subject_id=version.id,
            data={"approval_id": str(approval.id), "comment": request.comment},
        )
        shown = approval_public(approval, product, version.version)
        await enqueue(
            session,
            VersionApproved(event_id=uuid4(), occurred_at=now, actor=actor.label, approval=shown),
            "version.approved",
            at=now,
        )
    ctx.wake_relay()
    return shown


@handles(RevokeVersionApproval)
async def revoke_approval(
    ctx: PolicyContext, request: RevokeVersionApproval
) -> VersionApprovalPublic | Failure:
    """Withdraw a sign-off (its approver, or anyone who may fill its type)."""
    actor = request.actor
    now = ctx.clock.now()
    async with ctx.db.write() as session:
        approval = await session.get(VersionApproval, request.approval_id)
        if approval is None:
            return not_found()
        if request.version_id is not None or request.product is not None:
            named = await _version(session, request.version_id, request.product, request.version)
            if isinstance(named, Failure) or named[0].id != approval.version_id:
                return not_found()
        if actor.role is None or not role_may_fill(
            actor.role, ApprovalType(approval.approval_type)
        ):
            return forbidden()
        if approval.revoked_at is not None:
            return conflict("The approval was revoked already")
        approval.revoked_at = now
        approval.revoked_by = actor.name
        version = await session.get(Version, approval.version_id)
        assert version is not None
        owner = await session.get(Product, version.product_id)
        assert owner is not None
        await revision.bump(session, now)
        await audit(
            session,
            actor=actor,
            kind="version.approval_revoked",
            summary=f"{actor.name} revoked the {approval.approval_type} approval of "
            f"{owner.name} {version.version}",
            at=now,
            subject_id=version.id,
            data={"approval_id": str(approval.id)},
        )
        shown = approval_public(approval, owner.name, version.version)
    return shown


@handles(ListVersionApprovals)
async def list_approvals(
    ctx: PolicyContext, request: ListVersionApprovals
) -> Page[VersionApprovalPublic] | Failure:
    """A version's sign-offs, newest first (revoked ones too, marked)."""
    async with ctx.db.read() as session:
        found = await _version(session, request.version_id, request.product, request.version)
        if isinstance(found, Failure):
            return found
        version, product = found
        approvals = list(
            (
                await session.execute(
                    select(VersionApproval)
                    .where(col(VersionApproval.version_id) == version.id)
                    .order_by(col(VersionApproval.created_at).desc())
                )
            ).scalars()
        )
    items = [approval_public(a, product, version.version) for a in approvals]
    return Page[VersionApprovalPublic](items=items, total=len(items))
