"""Insights: the four DORA keys and what the gate cost and saved (API.md, "Insights")."""

from typing import Annotated

from fastapi import Depends, Query, Response

from versioner.common.insights import Bucket, DoraReport, GateReport
from versioner.common.messages.management import DoraInsights, GateInsights, InsightsPeriod
from versioner.common.types import Instant
from versioner.ingest.deps import ActorDep, GatewayDep, names
from versioner.ingest.web import Router, respond

router = Router(tags=["insights"])


def _period(
    product: Annotated[str | None, Query(max_length=255)] = None,
    environment: Annotated[
        str | None,
        Query(
            max_length=2000,
            description="an environment, or a comma-separated list; default: every "
            "environment of type production",
        ),
    ] = None,
    since: Annotated[Instant | None, Query(description="default: 90 days before until")] = None,
    until: Annotated[Instant | None, Query(description="default: now")] = None,
    bucket: Bucket = "week",
) -> InsightsPeriod:
    return InsightsPeriod(
        product=product, environments=names(environment), since=since, until=until, bucket=bucket
    )


PeriodDep = Annotated[InsightsPeriod, Depends(_period)]


@router.both("/insights/dora", methods=["GET"], responses={200: {"model": DoraReport}})
async def dora(actor: ActorDep, gateway: GatewayDep, query: PeriodDep) -> Response:
    """Deployment frequency, lead time, change failure rate and recovery time, with levels."""
    return respond(await gateway.ask(DoraInsights(actor=actor, **dict(query))))


@router.both("/insights/gate", methods=["GET"], responses={200: {"model": GateReport}})
async def gate(actor: ActorDep, gateway: GatewayDep, query: PeriodDep) -> Response:
    """Blocked attempts, overrides, waits, request turnaround, gate-skipped completions."""
    return respond(await gateway.ask(GateInsights(actor=actor, **dict(query))))
