"""Deployment Rules: create, list, change (mode switches audited), delete, preview windows."""

from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from versioner.common.errors import ErrorBody, Failure, conflict, not_found, unprocessable
from versioner.common.messages.management import (
    CreateRule,
    DeleteRule,
    GetRule,
    ListRules,
    PreviewWindows,
    UpdateRule,
)
from versioner.common.resources import Done, Page
from versioner.common.rows import public
from versioner.common.rules import (
    FlowConfig,
    RuleConfig,
    RulePublic,
    ScheduleConfig,
    WindowPublic,
    WindowsPreview,
    parse_config,
)
from versioner.policy.context import PolicyContext
from versioner.policy.logs.audit import audit
from versioner.policy.registry import handles
from versioner.policy.rules import schedule
from versioner.policy.store import revision
from versioner.policy.store.paging import paginate
from versioner.policy.store.tables import Rule


def rule_public(rule: Rule) -> RulePublic:
    """A rule as the API shows it."""
    return public(RulePublic, rule)


def _invalid(error: ValidationError) -> Failure:
    """422 in FastAPI's list form, each error located under `config`."""
    listed = [
        {"loc": ["body", "config", *error["loc"]], "msg": error["msg"], "type": error["type"]}
        for error in error.errors(include_url=False, include_context=False, include_input=False)
    ]
    return Failure(status_code=422, body=ErrorBody(detail=listed))


def _configure(
    rule_type: str, raw: dict[str, Any], environments: list[str]
) -> RuleConfig | Failure:
    """The parsed configuration, or the 422 that explains what is wrong with it."""
    try:
        config = parse_config(rule_type, raw)
    except ValidationError as error:
        return _invalid(error)
    if (
        isinstance(config, ScheduleConfig)
        and config.rrule
        and (problem := schedule.rrule_problem(config))
    ):
        return unprocessable("config.rrule", problem)
    if isinstance(config, FlowConfig) and environments not in ([], [config.target]):
        return unprocessable(
            "environments",
            "a flow rule applies to its target: leave `environments` empty or [target]",
        )
    return config


def _stored(config: RuleConfig) -> dict[str, Any]:
    return config.model_dump(mode="json", exclude_none=True)


@handles(CreateRule)
async def create_rule(ctx: PolicyContext, request: CreateRule) -> RulePublic | Failure:
    """A new rule; verdicts see it from the next one on."""
    config = _configure(request.rule_type, request.config, request.environments)
    if isinstance(config, Failure):
        return config
    now = ctx.clock.now()
    rule = Rule(
        name=request.name,
        rule_type=request.rule_type,
        mode=request.mode,
        products=list(dict.fromkeys(request.products)),
        environments=list(dict.fromkeys(request.environments)),
        config=_stored(config),
        created_by=request.actor.label,
        created_at=now,
        updated_at=now,
    )
    try:
        async with ctx.db.write() as session:
            if await _named(session, request.name):
                return conflict(f"A rule named {request.name} exists")
            session.add(rule)
            await revision.bump(session, now)
            await audit(
                session,
                actor=request.actor,
                kind="rule.created",
                summary=f"{request.rule_type} rule {rule.name} created ({rule.mode})",
                at=now,
                subject_id=rule.id,
                data={"rule": rule_public(rule).model_dump(mode="json")},
            )
    except IntegrityError:
        return conflict(f"A rule named {request.name} exists")
    return rule_public(rule)


async def _named(session: Any, name: str, other_than: UUID | None = None) -> bool:
    stmt = select(col(Rule.id)).where(col(Rule.name) == name)
    if other_than is not None:
        stmt = stmt.where(col(Rule.id) != other_than)
    return (await session.execute(stmt)).first() is not None


@handles(ListRules)
async def list_rules(ctx: PolicyContext, request: ListRules) -> Page[RulePublic] | Failure:
    """Every rule, newest first."""
    async with ctx.db.read() as session:
        page = await paginate(session, select(Rule), Rule, request.limit, request.before)
    if page is None:
        return not_found()
    rules, total = page
    return Page[RulePublic](items=[rule_public(r) for r in rules], total=total)


@handles(GetRule)
async def get_rule(ctx: PolicyContext, request: GetRule) -> RulePublic | Failure:
    """One rule."""
    async with ctx.db.read() as session:
        rule = await session.get(Rule, request.rule_id)
    return rule_public(rule) if rule else not_found()


@handles(UpdateRule)
async def update_rule(ctx: PolicyContext, request: UpdateRule) -> RulePublic | Failure:
    """Change a rule: mode, name, scope or configuration; a mode switch is audited as such."""
    now = ctx.clock.now()
    try:
        async with ctx.db.write() as session:
            rule = await session.get(Rule, request.rule_id)
            if rule is None:
                return not_found()
            renamed = request.name is not None and request.name != rule.name
            if renamed and await _named(session, request.name or "", other_than=rule.id):
                return conflict(f"A rule named {request.name} exists")
            environments = (
                rule.environments if request.environments is None else request.environments
            )
            raw = rule.config if request.config is None else request.config
            config = _configure(rule.rule_type, raw, environments)
            if isinstance(config, Failure):
                return config
            before = rule_public(rule).model_dump(mode="json")
            if request.name is not None:
                rule.name = request.name
            if request.products is not None:
                rule.products = list(dict.fromkeys(request.products))
            rule.environments = list(dict.fromkeys(environments))
            rule.config = _stored(config)
            mode = request.mode
            switched = mode is not None and mode != rule.mode
            if switched and mode is not None:
                await audit(
                    session,
                    actor=request.actor,
                    kind="rule.mode_changed",
                    summary=f"rule {rule.name} switched from {rule.mode} to {mode}",
                    at=now,
                    subject_id=rule.id,
                    data={"from": rule.mode, "to": mode},
                )
                rule.mode = mode
            after = rule_public(rule).model_dump(mode="json")
            changed = {
                key
                for key in after
                if key not in ("mode", "updated_at") and after[key] != before[key]
            }
            if changed:
                await audit(
                    session,
                    actor=request.actor,
                    kind="rule.updated",
                    summary=f"rule {rule.name} changed: {', '.join(sorted(changed))}",
                    at=now,
                    subject_id=rule.id,
                    data={"before": before, "after": after},
                )
            if switched or changed:
                rule.updated_at = now
                await revision.bump(session, now)
    except IntegrityError:
        return conflict(f"A rule named {request.name} exists")
    return rule_public(rule)


@handles(DeleteRule)
async def delete_rule(ctx: PolicyContext, request: DeleteRule) -> Done | Failure:
    """Delete a rule (its violations stay in the log)."""
    now = ctx.clock.now()
    async with ctx.db.write() as session:
        rule = await session.get(Rule, request.rule_id)
        if rule is None:
            return not_found()
        await audit(
            session,
            actor=request.actor,
            kind="rule.deleted",
            summary=f"rule {rule.name} deleted",
            at=now,
            subject_id=rule.id,
            data={"rule": rule_public(rule).model_dump(mode="json")},
        )
        await session.delete(rule)
        await revision.bump(session, now)
    return Done()


@handles(PreviewWindows)
async def preview_windows(ctx: PolicyContext, request: PreviewWindows) -> WindowsPreview | Failure:
    """The next windows of a schedule rule (or of an unsaved schedule), in UTC and in its own
    time zone."""
    now = ctx.clock.now()
    if request.rule_id is None:
        if request.config is None:
            return unprocessable("rule_id", "name a schedule rule, or give a schedule config")
        checked = _configure("schedule", request.config, [])
        if isinstance(checked, Failure):
            return checked
        config, rule_id, created = checked, None, now
    else:
        async with ctx.db.read() as session:
            rule = await session.get(Rule, request.rule_id)
        if rule is None:
            return not_found()
        if rule.rule_type != "schedule":
            return unprocessable("rule_id", "only schedule rules have windows", "path")
        config = parse_config("schedule", rule.config)
        rule_id, created = rule.id, rule.created_at
    assert isinstance(config, ScheduleConfig)
    zone = ZoneInfo(config.timezone)
    spans = schedule.next_windows(config, created=created, now=now, count=request.count)
    return WindowsPreview(
        rule_id=rule_id,
        kind_of_windows=config.kind,
        windows=[
            WindowPublic(
                start=span.start,
                end=span.end,
                local_start=span.start.astimezone(zone).replace(tzinfo=None),
                local_end=span.end.astimezone(zone).replace(tzinfo=None),
                timezone=config.timezone,
            )
            for span in spans
        ],
    )
