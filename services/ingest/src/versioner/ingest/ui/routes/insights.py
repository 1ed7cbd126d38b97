"""Insights: the four DORA keys with their levels, charted per bucket, and what the gate cost
(blocked attempts, overrides, waits, Deployment Request turnaround, gate-skipped completions).

Every signed-in role reads it. The filters (product, environment, period, bucket) are kept in a
cookie, as the home page keeps its own, so the page opens as the user left it.
"""

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, get_args
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response
from markupsafe import Markup

from versioner.common.insights import Bucket, DoraReport, GateReport
from versioner.common.messages.management import (
    MAX_LIMIT,
    DoraInsights,
    GateInsights,
    ListEnvironments,
    ListProducts,
)
from versioner.ingest.deps import names
from versioner.ingest.gateway import FailureError
from versioner.ingest.ui import charts
from versioner.ingest.ui.charts import Series
from versioner.ingest.ui.deps import Viewer, ViewerDep
from versioner.ingest.ui.render import failure_text

FILTERS_COOKIE = "versioner_insights"
FILTER_FIELDS = ("product", "environment", "period", "since", "until", "bucket")
# The periods offered, in days back from now; "custom" reads `since` and `until`.
PERIODS = {"30": "Last 30 days", "90": "Last 90 days", "180": "Last 180 days", "365": "Last year"}
DEFAULT_PERIOD = "90"
BUCKETS: tuple[Bucket, ...] = get_args(Bucket)
DEFAULT_BUCKET: Bucket = "week"

router = APIRouter(include_in_schema=False)


@dataclass
class Period:
    """What the filters ask for, read: the message's fields, and what was wrong with them."""

    product: str | None
    environments: list[str]
    since: datetime
    until: datetime
    bucket: Bucket
    problems: list[str] = field(default_factory=list)


def _filters(request: Request) -> dict[str, str]:
    """The filters: from the query when any is given, else as the user left them."""
    query = request.query_params
    if not any(name in query for name in FILTER_FIELDS):
        saved = dict(parse_qsl(request.cookies.get(FILTERS_COOKIE, "")))
        return {name: saved.get(name, "").strip() for name in FILTER_FIELDS}
    return {name: query.get(name, "").strip() for name in FILTER_FIELDS}


def _day(raw: str, label: str, problems: list[str]) -> date | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        problems.append(f"{label} is not a date (YYYY-MM-DD): {raw}.")
        return None


def period(filters: dict[str, str], now: datetime) -> Period:
    """The report's scope from the filters; what cannot be read falls back to the default
    (the last 90 days, by week) and is said."""
    problems: list[str] = []
    bucket: Bucket = DEFAULT_BUCKET
    for choice in BUCKETS:
        if filters["bucket"] == choice:
            bucket = choice
    chosen = filters["period"] or DEFAULT_PERIOD
    until = now
    since = now - timedelta(days=int(DEFAULT_PERIOD))
    if chosen in PERIODS:
        since = now - timedelta(days=int(chosen))
    elif chosen == "custom":
        first = _day(filters["since"], "Since", problems)
        last = _day(filters["until"], "Until", problems)
        # Dates are whole days in UTC: until includes its day.
        until = datetime.combine(last, time(), UTC) + timedelta(days=1) if last else now
        since = (
            datetime.combine(first, time(), UTC)
            if first
            else until - timedelta(days=int(DEFAULT_PERIOD))
        )
        if since >= until:
            problems.append("Since must be before until; showing the last 90 days.")
            until, since = now, now - timedelta(days=int(DEFAULT_PERIOD))
    else:
        problems.append(f"There is no period {chosen!r}; showing the last 90 days.")
    return Period(
        product=filters["product"] or None,
        environments=names(filters["environment"]),
        since=since,
        until=until,
        bucket=bucket,
        problems=problems,
    )


_X_LABELS: dict[Bucket, str] = {"day": "Day", "week": "Week starting", "month": "Month"}


def _time_axis(starts: list[datetime], bucket: Bucket) -> tuple[list[str], list[str], str]:
    """The buckets' short labels, their names in full (tooltips) and the axis' label."""
    labels = [charts.bucket_label(start, bucket) for start in starts]
    return labels, [charts.bucket_name(start, bucket) for start in starts], _X_LABELS[bucket]


def dora_charts(report: DoraReport) -> dict[str, Markup]:
    """The DORA report's buckets as charts."""
    bucket = report.scope.bucket
    labels, said, x_label = _time_axis([b.start for b in report.buckets], bucket)
    rates = [b.failure_rate for b in report.buckets]
    return {
        "frequency": charts.bars(
            "chart-frequency",
            "Deployments per " + bucket,
            labels,
            [
                Series("completed", [b.deployments for b in report.buckets], "ok"),
                Series("failures", [b.failures for b in report.buckets], "bad"),
            ],
            names=said,
            y_label="Deployments",
            x_label=x_label,
            empty="No deployments in this period",
        ),
        "failure_rate": charts.bars(
            "chart-failure-rate",
            "Change failure rate per " + bucket,
            labels,
            [Series("failed", rates, "bad")],
            names=said,
            y_label="Failure rate",
            x_label=x_label,
            kind="rate",
            empty="No deployments in this period",
        ),
        "lead_time": charts.lines(
            "chart-lead-time",
            "Median lead time per " + bucket,
            labels,
            [Series("median lead time", [b.lead_time_median_s for b in report.buckets])],
            names=said,
            y_label="Lead time",
            x_label=x_label,
            empty="No version reached these environments in this period",
        ),
        "recovery": charts.lines(
            "chart-recovery",
            "Median time to restore per " + bucket,
            labels,
            [
                Series(
                    "median time to restore", [b.recovery_median_s for b in report.buckets], "warn"
                )
            ],
            names=said,
            y_label="Time to restore",
            x_label=x_label,
            empty="Nothing failed and was restored in this period",
        ),
    }


def gate_charts(report: GateReport) -> dict[str, Markup]:
    """The gate report's buckets and tallies as charts."""
    bucket = report.scope.bucket
    labels, said, x_label = _time_axis([b.start for b in report.buckets], bucket)
    return {
        "per_bucket": charts.bars(
            "chart-gate",
            "The gate's work per " + bucket,
            labels,
            [
                Series("blocked", [b.blocked for b in report.buckets], "bad"),
                Series("overrides", [b.overrides for b in report.buckets], "warn"),
                Series("gate-skipped", [b.gate_skipped for b in report.buckets], "muted"),
            ],
            names=said,
            y_label="Attempts",
            x_label=x_label,
            empty="The gate had nothing to do in this period",
        ),
        "by_code": charts.hbars(
            "chart-blocked-code",
            "Blocked attempts by check",
            [(c.code, c.count) for c in report.blocked_by_code],
            tone="bad",
            empty="Nothing was blocked in this period",
        ),
        "by_rule": charts.hbars(
            "chart-blocked-rule",
            "Blocked attempts by rule",
            [(f"{r.rule_name} ({r.rule_type})", r.count) for r in report.blocked_by_rule],
            tone="bad",
            empty="No rule blocked anything in this period",
        ),
        "by_person": charts.hbars(
            "chart-overrides",
            "Overrides by person",
            [(p.actor, p.count) for p in report.overrides.by_person],
            tone="warn",
            empty="Nobody overrode the gate in this period",
        ),
    }


async def _choices(user: Viewer) -> tuple[list[str], list[str]]:
    """Product and environment names to choose from."""
    products, environments = await asyncio.gather(
        user.ask(ListProducts(actor=user.actor, limit=MAX_LIMIT)),
        user.ask(ListEnvironments(actor=user.actor, limit=MAX_LIMIT)),
    )
    return (
        sorted(p.name for p in products.items),
        sorted(e.name for e in environments.items),
    )


@router.get("/ui/insights")
async def insights(user: ViewerDep) -> Response:
    """The DORA keys and the gate's costs over a period, as numbers and charts."""
    filters = _filters(user.request)
    scope = period(filters, datetime.now(UTC))
    fields: dict[str, Any] = {
        "actor": user.actor,
        "product": scope.product,
        "environments": scope.environments,
        "since": scope.since,
        "until": scope.until,
        "bucket": scope.bucket,
    }
    dora: DoraReport | None = None
    gate: GateReport | None = None
    problems = list(scope.problems)
    try:
        dora, gate = await asyncio.gather(
            user.ask(DoraInsights(**fields)), user.ask(GateInsights(**fields))
        )
    except FailureError as exc:
        if exc.failure.status_code != 422:
            return user.refused(exc)
        problems.append(failure_text(exc.failure))
    products, environments = await _choices(user)
    response = user.render(
        "insights.html",
        filters=filters,
        scope=scope,
        periods=PERIODS,
        buckets=BUCKETS,
        products=products,
        environments=environments,
        problems=problems,
        dora=dora,
        gate=gate,
        dora_charts=dora_charts(dora) if dora else {},
        gate_charts=gate_charts(gate) if gate else {},
        duration=charts.duration,
        percent=charts.percent,
        count=charts.count,
        bucket_name=charts.bucket_name,
    )
    response.set_cookie(
        FILTERS_COOKIE,
        urlencode(filters),
        max_age=365 * 24 * 3600,
        samesite="lax",
        path="/ui/",
    )
    return response
