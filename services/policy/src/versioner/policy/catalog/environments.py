"""Environments: listed, read, renamed and typed."""

from sqlmodel import col, select

from versioner.common.errors import Failure, not_found
from versioner.common.messages.management import (
    GetEnvironment,
    ListEnvironments,
    UpdateEnvironment,
)
from versioner.common.resources import (
    EnvironmentPublic,
    Page,
)
from versioner.policy.catalog.lookup import (
    environment_names,
    environment_public,
)
from versioner.policy.catalog.names import all_names, environment_by_ref, rename
from versioner.policy.context import PolicyContext
from versioner.policy.logs.audit import audit
from versioner.policy.registry import handles
from versioner.policy.store import revision
from versioner.policy.store.paging import paginate
from versioner.policy.store.tables import (
    Environment,
    EnvironmentName,
)


@handles(ListEnvironments)
async def list_environments(
    ctx: PolicyContext, request: ListEnvironments
) -> Page[EnvironmentPublic] | Failure:
    """Every environment, newest first."""
    stmt = select(Environment)
    if request.type:
        stmt = stmt.where(col(Environment.type) == request.type)
    async with ctx.db.read() as session:
        page = await paginate(session, stmt, Environment, request.limit, request.before)
        if page is None:
            return not_found()
        environments, total = page
        names = await all_names(
            session, EnvironmentName, "environment_id", [e.id for e in environments]
        )
    return Page[EnvironmentPublic](
        items=[environment_public(e, names.get(e.id, [])) for e in environments], total=total
    )


@handles(GetEnvironment)
async def get_environment(
    ctx: PolicyContext, request: GetEnvironment
) -> EnvironmentPublic | Failure:
    """An environment by id or any of its names."""
    async with ctx.db.read() as session:
        environment = await environment_by_ref(session, request.ref)
        if environment is None:
            return not_found()
        return environment_public(environment, await environment_names(session, environment.id))


@handles(UpdateEnvironment)
async def update_environment(
    ctx: PolicyContext, request: UpdateEnvironment
) -> EnvironmentPublic | Failure:
    """Rename, retype or describe an environment."""
    now = ctx.clock.now()
    async with ctx.db.write() as session:
        environment = await session.get(Environment, request.environment_id)
        if environment is None:
            return not_found()
        if request.name is not None and request.name != environment.name:
            if failure := await rename(
                session,
                EnvironmentName,
                "environment_id",
                environment.id,
                new_name=request.name,
                now=now,
            ):
                return failure
            await audit(
                session,
                actor=request.actor,
                kind="environment.renamed",
                summary=f"environment {environment.name} renamed to {request.name}",
                at=now,
                subject_id=environment.id,
                data={"from": environment.name, "to": request.name},
            )
            environment.name = request.name
            await revision.bump(session, now)
        if request.type is not None and request.type != environment.type:
            await audit(
                session,
                actor=request.actor,
                kind="environment.retyped",
                summary=f"environment {environment.name} is now {request.type}",
                at=now,
                subject_id=environment.id,
                data={"from": environment.type, "to": request.type},
            )
            environment.type = request.type
        if request.description is not None:
            environment.description = request.description
        if request.metadata is not None:
            environment.meta = request.metadata
        environment.updated_at = now
        names = await environment_names(session, environment.id)
    return environment_public(environment, names)
