"""Deployment Rules and the violations log."""

from typing import Any, Literal

from fastapi import Query, Response
from pydantic import BaseModel, ConfigDict, Field

from versioner.common.governance import ViolationPublic
from versioner.common.messages.management import (
    DEFAULT_LIMIT,
    CreateRule,
    DeleteRule,
    GetRule,
    ListRules,
    ListViolations,
    PreviewWindows,
    UpdateRule,
)
from versioner.common.rules import RuleMode, RulePublic, RuleType, WindowsPreview, config_schemas
from versioner.common.types import Instant, Name
from versioner.ingest.deps import ActorDep, GatewayDep, ident
from versioner.ingest.openapi import conflict
from versioner.ingest.routes.catalog import Limit
from versioner.ingest.web import Router, respond, respond_list

router = Router(tags=["rules"])


def _config_by_type(schema: dict[str, Any]) -> None:
    # Policy reads `config` by `rule_type`: each type's branch says what it takes.
    schema["oneOf"] = [
        {"properties": {"rule_type": {"const": rule_type}, "config": config}}
        for rule_type, config in config_schemas().items()
    ]


def _config_of_some_type(schema: dict[str, Any]) -> None:
    # A change keeps the rule's type: the config must be that type's (else 422).
    schema["properties"]["config"] = {
        "anyOf": [*config_schemas().values(), {"type": "null"}],
        "description": "The whole configuration, of the rule's type",
    }


class RuleIn(BaseModel):
    """A new rule: empty `products`/`environments` mean all; names not seen yet are allowed.
    A flow rule's `environments` is `[]` or `[target]`."""

    model_config = ConfigDict(json_schema_extra=_config_by_type)

    name: Name
    rule_type: RuleType
    mode: RuleMode = "enabled"
    products: list[Name] = Field(default_factory=list, max_length=500)
    environments: list[Name] = Field(default_factory=list, max_length=500)
    config: dict[str, Any]


class RulePatch(BaseModel):
    """Changes to a rule; a mode switch (enabled, report_only, disabled) is audited."""

    model_config = ConfigDict(json_schema_extra=_config_of_some_type)

    name: Name | None = None
    mode: RuleMode | None = None
    products: list[Name] | None = Field(default=None, max_length=500)
    environments: list[Name] | None = Field(default=None, max_length=500)
    config: dict[str, Any] | None = None


_NAME_TAKEN = conflict("Another rule has the name")


@router.both(
    "/deployment-rules",
    methods=["POST"],
    status_code=201,
    responses={201: {"model": RulePublic}, **_NAME_TAKEN},
)
async def create_rule(rule: RuleIn, actor: ActorDep, gateway: GatewayDep) -> Response:
    """Create a rule (admin, release_manager, sre)."""
    return respond(await gateway.ask(CreateRule(actor=actor, **rule.model_dump())), 201)


@router.both("/deployment-rules", methods=["GET"], responses={200: {"model": list[RulePublic]}})
async def list_rules(
    actor: ActorDep, gateway: GatewayDep, limit: Limit = DEFAULT_LIMIT, before: str | None = None
) -> Response:
    """Every rule, newest first."""
    page = await gateway.ask(
        ListRules(actor=actor, limit=limit, before=ident(before) if before else None),
    )
    return respond_list(page.items, page.total)


@router.both(
    "/deployment-rules/violations",
    methods=["GET"],
    responses={200: {"model": list[ViolationPublic]}},
)
async def list_violations(
    actor: ActorDep,
    gateway: GatewayDep,
    rule: str | None = None,
    product: str | None = None,
    environment: str | None = None,
    since: Instant | None = None,
    outcome: Literal["blocked", "reported", "overridden"] | None = None,
    limit: Limit = DEFAULT_LIMIT,
    before: int | None = Query(default=None, ge=1),
) -> Response:
    """What rules and requests blocked, reported or saw overridden, newest first."""
    request = ListViolations(
        actor=actor,
        rule=rule,
        product=product,
        environment=environment,
        since=since,
        outcome=outcome,
        limit=limit,
        before=before,
    )
    page = await gateway.ask(request)
    return respond_list(page.items, page.total)


@router.both("/deployment-rules/{rule_id}", methods=["GET"], responses={200: {"model": RulePublic}})
async def get_rule(rule_id: str, actor: ActorDep, gateway: GatewayDep) -> Response:
    """One rule."""
    return respond(await gateway.ask(GetRule(actor=actor, rule_id=ident(rule_id))))


@router.both(
    "/deployment-rules/{rule_id}",
    methods=["PATCH"],
    responses={200: {"model": RulePublic}, **_NAME_TAKEN},
)
async def update_rule(
    rule_id: str, patch: RulePatch, actor: ActorDep, gateway: GatewayDep
) -> Response:
    """Change a rule: mode, name, scope or configuration."""
    request = UpdateRule(
        actor=actor, rule_id=ident(rule_id), **patch.model_dump(exclude_unset=True)
    )
    return respond(await gateway.ask(request))


@router.both("/deployment-rules/{rule_id}", methods=["DELETE"], status_code=204)
async def delete_rule(rule_id: str, actor: ActorDep, gateway: GatewayDep) -> Response:
    """Delete a rule."""
    await gateway.ask(DeleteRule(actor=actor, rule_id=ident(rule_id)))
    return Response(status_code=204)


@router.both(
    "/deployment-rules/{rule_id}/windows",
    methods=["GET"],
    responses={200: {"model": WindowsPreview}},
)
async def preview_windows(
    rule_id: str,
    actor: ActorDep,
    gateway: GatewayDep,
    count: int = Query(default=10, ge=1, le=1000),
) -> Response:
    """The next windows of a schedule rule, in UTC and in the rule's time zone."""
    request = PreviewWindows(actor=actor, rule_id=ident(rule_id), count=count)
    return respond(await gateway.ask(request))
