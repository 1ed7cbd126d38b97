"""`versioner insights dora|gate` and `versioner track incident`: how delivery goes, what the
gate cost and saved, and the incidents that count against a deployment (API.md, "Insights")."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from versioner.client import github
from versioner.client.client import VersionerClient
from versioner.client.commands import (
    Args,
    call_api,
    cell_text,
    dump_json,
    print_table,
    split_names,
)
from versioner.client.errors import ApiError, NetworkError
from versioner.client.models import (
    DoraReport,
    GateReport,
    Incident,
    IncidentStatus,
    InsightsScope,
    Wait,
)
from versioner.client.report import say, warn
from versioner.client.settings import ExitCode, Settings, UsageError, client_for
from versioner.client.track import Fields, rfc3339

# Two units are enough to read a lead or recovery time at a glance ("2d 4h", not "2d 4h 13m").
_UNITS = (("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1))


def duration(seconds: float | None) -> str:
    """A time in its two largest units ("3h 20m", "2d 4h", "45s"); "-" for no value."""
    if seconds is None:
        return "-"
    left = round(seconds)
    if left <= 0:
        return "0s"
    parts: list[str] = []
    for unit, size in _UNITS:
        count, left = divmod(left, size)
        if count or parts:
            parts.append(f"{count}{unit}")
        if len(parts) == 2:
            break
    if len(parts) == 2 and parts[1].startswith("0"):
        parts.pop()
    return " ".join(parts)


def percent(rate: float | None) -> str:
    """A rate as a percentage with at most one decimal ("25%", "12.5%"); "-" for none."""
    if rate is None:
        return "-"
    return f"{rate * 100:.1f}".removesuffix(".0") + "%"


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _day(text: str) -> str:
    try:
        return datetime.fromisoformat(text).date().isoformat()
    except ValueError:
        return text


def _minute(text: str) -> str:
    try:
        return datetime.fromisoformat(text).strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return text


def _heading(title: str, scope: InsightsScope) -> None:
    product = scope["product"] or "every product"
    environments = ", ".join(scope["environments"]) or "no production environment"
    period = f"{_day(scope['since'])} → {_day(scope['until'])}"
    say(f"{title}: {product} in {environments}, {period} (by {scope['bucket']})")
    say()


def _section(title: str, headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    say()
    say(title)
    if rows:
        print_table(headers, rows)
    else:
        say("  none")


def _medians(median_s: float | None, p90_s: float | None) -> str:
    if median_s is None:
        return "-"
    return f"median {duration(median_s)}, p90 {duration(p90_s)}"


def print_dora(report: DoraReport) -> None:
    """The four keys, each with its value and level, then one line a bucket."""
    _heading("DORA keys", report["scope"])
    frequency = report["deployment_frequency"]
    lead = report["lead_time"]
    failures = report["change_failure_rate"]
    recovery = report["recovery_time"]

    starts = lead["start_from"]
    counted = [
        f"{label} {count}"
        for label, count in (
            ("commit", starts["commit"]),
            ("build start", starts["build_started"]),
            ("first build event", starts["first_build_event"]),
        )
        if count
    ]
    started = f"; from {', '.join(counted)}" if counted else ""
    lead_text = (
        f"{_medians(lead['median_s'], lead['p90_s'])}"
        f" ({_plural(lead['versions'], 'version')}{started})"
    )

    breakdown = (
        f"failed {failures['failed']}, rolled back {failures['rolled_back']}, "
        f"incidents {failures['incidents']}"
    )
    failure_text = (
        f"{percent(failures['rate'])} of {_plural(failures['deployments'], 'deployment')}"
        f" ({_plural(failures['failures'], 'failure')}: {breakdown})"
    )
    recovery_text = (
        f"{_medians(recovery['median_s'], recovery['p90_s'])}"
        f" ({recovery['restored']} of {_plural(recovery['failures'], 'failure')} restored)"
    )
    frequency_text = (
        f"{_plural(frequency['deployments'], 'deployment')}, {frequency['per_week']:.1f}/week, "
        f"{frequency['deploy_days_per_week']:.1f} deploy days/week"
    )
    print_table(
        ["KEY", "VALUE", "LEVEL"],
        [
            ["Deployment frequency", frequency_text, frequency["level"]],
            ["Lead time for changes", lead_text, lead["level"]],
            ["Change failure rate", failure_text, failures["level"]],
            ["Time to restore", recovery_text, recovery["level"]],
        ],
    )
    rows = [
        [
            _day(b["start"]),
            b["deployments"],
            b["failures"],
            duration(b["lead_time_median_s"]),
            duration(b["recovery_median_s"]),
        ]
        for b in report["buckets"]
    ]
    headers = ["START", "DEPLOYMENTS", "FAILURES", "LEAD TIME (MEDIAN)", "RECOVERY (MEDIAN)"]
    _section(f"By {report['scope']['bucket']}:", headers, rows)


def _wait_row(check: str, wait: Wait) -> list[object]:
    return [
        check,
        wait["versions"],
        wait["released"],
        wait["waiting"],
        duration(wait["total_s"]),
        duration(wait["median_s"]),
        duration(wait["p90_s"]),
    ]


def print_gate(report: GateReport) -> None:
    """Blocks by code and rule, overrides, waits, request turnaround, gate-skipped."""
    _heading("Gate", report["scope"])
    say(f"Blocked attempts: {report['blocked_attempts']}")
    codes = [[c["code"], c["count"]] for c in report["blocked_by_code"]]
    _section("Blocked by code:", ["CODE", "COUNT"], codes)
    rules = [[r["rule_name"], r["rule_type"], r["count"]] for r in report["blocked_by_rule"]]
    _section("Blocked by rule:", ["RULE", "TYPE", "COUNT"], rules)

    overrides = report["overrides"]
    say()
    say(f"Overrides (break-glass): {overrides['count']}")
    people = [[p["actor"], p["count"]] for p in overrides["by_person"]]
    _section("Overrides by person:", ["BY", "COUNT"], people)
    latest = [
        [
            _minute(o["at"]),
            o["actor"],
            f"{o['product']} {o['version']}",
            o["environment"],
            ", ".join(o["codes"]),
            o["reason"],
        ]
        for o in overrides["latest"]
    ]
    _section(
        "Latest overrides:", ["AT (UTC)", "BY", "VERSION", "ENVIRONMENT", "CODES", "REASON"], latest
    )

    waits = report["waits"]
    _section(
        "Waits (first refusal to the start let through):",
        ["CHECK", "VERSIONS", "RELEASED", "WAITING", "TOTAL", "MEDIAN", "P90"],
        [_wait_row("freeze", waits["freeze"]), _wait_row("soak", waits["soak"])],
    )

    turnaround = report["request_turnaround"]
    say()
    say(
        f"Deployment Requests: {turnaround['submitted']} submitted, "
        f"{turnaround['approved']} approved; submission to approved: "
        f"{_medians(turnaround['median_s'], turnaround['p90_s'])}"
    )
    by_type = [
        [t["approval_type"], t["approvals"], duration(t["median_s"]), duration(t["p90_s"])]
        for t in turnaround["by_approval_type"]
    ]
    headers = ["APPROVAL TYPE", "APPROVALS", "MEDIAN", "P90"]
    _section("Turnaround by approval type:", headers, by_type)

    say()
    skipped = _plural(report["gate_skipped"], "deployment")
    say(f"Gate skipped: {skipped} completed without a start the gate checked")
    buckets = [
        [_day(b["start"]), b["blocked"], b["overrides"], b["gate_skipped"]]
        for b in report["buckets"]
    ]
    _section(
        f"By {report['scope']['bucket']}:",
        ["START", "BLOCKED", "OVERRIDES", "GATE SKIPPED"],
        buckets,
    )


def _show(
    args: Args,
    settings: Settings,
    fetch: Callable[..., Mapping[str, Any]],
    render: Callable[[Any], None],
) -> int:
    """Ask for a report over the period the flags name; print it as a table, or as JSON."""
    period = {
        "product": args.get("product"),
        "environments": split_names(args.get("environment")),
        "since": args.get("since"),
        "until": args.get("until"),
        "bucket": args.get("bucket"),
    }

    def call(client: VersionerClient) -> int:
        report = fetch(client, **period)
        if args.get("json"):
            return dump_json(report)
        render(report)
        return ExitCode.OK

    return call_api(settings, call)


def show_dora(args: Args, settings: Settings) -> int:
    """`versioner insights dora`: the four DORA keys and their levels, then per bucket."""
    return _show(args, settings, VersionerClient.dora_insights, print_dora)


def show_gate(args: Args, settings: Settings) -> int:
    """`versioner insights gate`: what the gate cost and saved over the period."""
    return _show(args, settings, VersionerClient.gate_insights, print_gate)


def _incident_time(value: str | None, flag: str) -> str | None:
    return rfc3339(value, flag) if value else None


def print_incident(incident: Incident) -> None:
    """What was recorded, and the deployment it counts against."""
    say(
        f"✓ Incident {incident['incident_id']} {incident['status']} "
        f"({incident['product_name']} in {incident['environment_name']})"
    )
    say(f"  Record ID: {incident['id']}")
    if incident.get("title"):
        say(f"  Title: {incident['title']}")
    if incident.get("url"):
        say(f"  URL: {incident['url']}")
    say(f"  Opened at: {incident['opened_at']}")
    if incident.get("resolved_at"):
        say(f"  Resolved at: {incident['resolved_at']}")
    deployment_id = incident.get("deployment_id")
    if deployment_id:
        say(f"  Attached to deployment {deployment_id} (version {cell_text(incident['version'])})")
    else:
        say(
            f"  Attached to no deployment: none of {incident['product_name']} had completed "
            f"in {incident['environment_name']} when it opened"
        )


def track_incident(args: Args, settings: Settings) -> int:
    """`versioner track incident`: record an incident opened or resolved (idempotent by id).
    Exit codes as `track deployment`: 1 network or 5xx, 4 another API error unless
    `--fail-on-api-error=false`."""

    field = Fields(args, settings).get
    product, environment, incident_id = (
        field("product"),
        field("environment"),
        field("incident_id"),
    )
    for value, flag in (
        (product, "--product"),
        (environment, "--environment"),
        (incident_id, "--incident-id"),
    ):
        if not value:
            env_name = "VERSIONER_" + flag[2:].replace("-", "_").upper()
            raise UsageError(f"{flag} is required (or set {env_name})")
    status: IncidentStatus = args["status"]
    opened_at = _incident_time(field("opened_at"), "--opened-at")
    resolved_at = _incident_time(field("resolved_at"), "--resolved-at")
    if status == "opened" and resolved_at is not None:
        raise UsageError("--resolved-at goes with --status resolved")
    if not settings.api_key:
        raise UsageError("an API key is required: set VERSIONER_API_KEY or use --api-key")

    env = settings.env
    title = "Versioner Incident Failed"
    try:
        with client_for(settings) as client:
            incident = client.record_incident(
                product,
                environment,
                incident_id,
                status,
                title=field("title") or None,
                url=field("url") or None,
                opened_at=opened_at,
                resolved_at=resolved_at,
            )
    except NetworkError as exc:
        warn(f"Error: {exc}")
        github.annotate(env, "error", title, str(exc))
        return ExitCode.ERROR
    except ApiError as exc:
        if exc.retryable:
            message = f"the API answered HTTP {exc.status_code} after every retry: {exc.message}"
            warn(f"Error: {message}")
            github.annotate(env, "error", title, message)
            return ExitCode.ERROR
        message = f"HTTP {exc.status_code}: {exc.message}"
        if not settings.fail_on_api_error:
            warn(f"⚠️ Warning: Incident was not recorded ({message})")
            warn("   --fail-on-api-error=false: continuing with exit code 0")
            github.annotate(env, "warning", "Versioner Incident Not Recorded", message)
            return ExitCode.OK
        warn(f"API error ({message})")
        github.annotate(env, "error", title, message)
        return ExitCode.API_ERROR
    print_incident(incident)
    return ExitCode.OK
