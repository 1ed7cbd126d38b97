"""Dashboard section: Deployment Rules and the violations log.

The list with a mode switch per rule, one form per rule type made of plain fields (turned into
the `config` that type takes, `versioner.common.rules`), a rule's page with its next windows
and recent violations, and the violations log. Every call is the one `routes/rules.py` makes,
in the signed-in user's name, so a page allows exactly what the API allows.
"""

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import zip_longest
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Response
from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData

from versioner.common.errors import Failure, not_found
from versioner.common.governance import ViolationPublic
from versioner.common.messages.management import (
    CreateRule,
    DeleteRule,
    GetRule,
    ListRules,
    ListViolations,
    PreviewWindows,
    UpdateRule,
)
from versioner.common.roles import APPROVERS, ApprovalType, Permission, Role
from versioner.common.rules import RulePublic, WindowsPreview
from versioner.ingest.deps import ident, names
from versioner.ingest.gateway import FailureError
from versioner.ingest.ui.deps import CheckedDep, Viewer, ViewerDep
from versioner.ingest.ui.forms import FormLabels, Problem, shown, text, texts
from versioner.ingest.ui.render import flash_redirect

router = APIRouter(include_in_schema=False)

MODES = {"enabled": "enabled", "report_only": "report-only", "disabled": "disabled"}
OUTCOMES = ("blocked", "reported", "overridden")
RULES_SHOWN = 500
WINDOWS_SHOWN = 8
RECENT_VIOLATIONS = 20
VIOLATIONS_PER_PAGE = 50
# Suggested in the time zone field; any IANA name is accepted.
COMMON_ZONES = (
    "UTC",
    "Europe/London",
    "Europe/Berlin",
    "Europe/Paris",
    "Europe/Madrid",
    "America/New_York",
    "America/Chicago",
    "America/Los_Angeles",
    "America/Sao_Paulo",
    "Asia/Kolkata",
    "Asia/Singapore",
    "Asia/Tokyo",
    "Australia/Sydney",
)


@dataclass(frozen=True)
class RuleKind:
    """A rule type as the pages explain it."""

    title: str
    summary: str


TYPES = {
    "schedule": RuleKind(
        "Schedule",
        "Refuses deployments inside time windows (a freeze), or allows them only inside "
        "windows (a release window).",
    ),
    "dr_required": RuleKind(
        "Deployment Request required",
        "A deployment needs a Deployment Request, in progress or approved, that covers it and "
        "asks for the chosen sign-offs.",
    ),
    "flow": RuleKind(
        "Flow",
        "A version reaches an environment only after it completed in the environments before "
        "it, and stayed there long enough.",
    ),
    "version_approval": RuleKind(
        "Version sign-off",
        "The version itself needs sign-offs (for example security) before it is deployed.",
    ),
}

# Who fills each approval type besides admin and release manager (they fill every one).
_FILLED_BY = {
    kind.value: ", ".join(
        sorted(r.value for r in APPROVERS[kind] if r not in {Role.ADMIN, Role.RELEASE_MANAGER})
    )
    for kind in ApprovalType
}

# The form's label for each field a refusal may name (`config.` fields are the rule's config).
LABELS = FormLabels(
    {
        "name": "Name",
        "mode": "Mode",
        "rule_type": "Rule type",
        "products": "Products",
        "environments": "Environments",
        "config": "Configuration",
        "config.kind": "Deny or allow",
        "config.timezone": "Time zone",
        "config.reason": "Reason",
        "config.windows": "One-time window",
        "config.rrule": "Recurrence (RRULE)",
        "config.dtstart": "First occurrence",
        "config.duration_minutes": "Duration (minutes)",
        "config.approval_types": "Approval types",
        "config.prerequisites": "Prerequisites",
        "config.target": "Target environment",
        "config.strict_order": "Strict order",
        "config.min_soak_minutes": "Minimum soak (minutes)",
        "config.environment": "Environment of the sign-off",
    }
)


def _number_text(value: Any) -> str:
    """A stored number as a form shows it: 900.0 is `900`."""
    if isinstance(value, int | float):
        return str(int(value)) if float(value).is_integer() else str(value)
    return ""


def _number(text: str) -> float | str:
    """A number from a field; anything else goes on as typed, for policy to name the field."""
    try:
        return float(text)
    except ValueError:
        return text


def _local_input(value: Any) -> str:
    """A stored local time (`2026-12-23T00:00:00`) as a `datetime-local` field shows it."""
    text = str(value or "")
    return text[:16] if len(text) == 19 and text.endswith(":00") else text


def _local_text(value: Any) -> str:
    """A stored local time for reading: `2026-12-23 00:00`."""
    return _local_input(value).replace("T", " ")


def duration(minutes: float) -> str:
    """Minutes for reading: 900 is `15 h`, 90 is `1 h 30 min`."""
    if minutes < 1:
        return f"{_number_text(minutes)} min"
    days, rest = divmod(minutes, 24 * 60)
    hours, rest = divmod(rest, 60)
    parts = [f"{int(days)} d" if days else "", f"{int(hours)} h" if hours else ""]
    parts.append(f"{_number_text(round(rest, 2))} min" if rest else "")
    return " ".join(part for part in parts if part)


_DAYS = {
    "MO": "Monday",
    "TU": "Tuesday",
    "WE": "Wednesday",
    "TH": "Thursday",
    "FR": "Friday",
    "SA": "Saturday",
    "SU": "Sunday",
}
_UNITS = {"DAILY": "day", "WEEKLY": "week", "MONTHLY": "month", "YEARLY": "year"}


def describe_rrule(rrule: str, dtstart: str | None = None) -> str | None:
    """Common recurrences in words (`every week on Friday at 17:00`); None for the others,
    which the page shows as written. What the rule leaves out comes from `dtstart`."""
    parts = dict(p.split("=", 1) for p in rrule.upper().split(";") if "=" in p)
    unit = _UNITS.get(parts.pop("FREQ", ""))
    interval = parts.pop("INTERVAL", "1")
    if unit is None or not interval.isdigit():
        return None
    words = [f"every {unit}" if interval == "1" else f"every {interval} {unit}s"]
    if "BYDAY" in parts:
        days = [_DAYS.get(day) for day in parts.pop("BYDAY").split(",")]
        if None in days:
            return None
        words.append("on " + ", ".join(str(day) for day in days))
    try:
        start = datetime.fromisoformat(dtstart) if dtstart else None
    except ValueError:
        return None
    hour = parts.pop("BYHOUR", str(start.hour if start else 0))
    minute = parts.pop("BYMINUTE", str(start.minute if start else 0))
    if not hour.isdigit() or not minute.isdigit():
        return None
    words.append(f"at {int(hour):02d}:{int(minute):02d}")
    if "COUNT" in parts:
        words.append(f"({parts.pop('COUNT')} times)")
    if parts.keys() - {"WKST"}:
        return None
    return " ".join(words)


@dataclass
class RuleForm:
    """What a rule's form shows and sends: plain fields, the ones of its type used."""

    rule_type: str
    name: str = ""
    mode: str = "enabled"
    products: str = ""
    environments: str = ""
    kind: str = "deny"
    timezone: str = "UTC"
    reason: str = ""
    windows: list[tuple[str, str]] = field(default_factory=list)
    rrule: str = ""
    dtstart: str = ""
    duration_minutes: str = ""
    approval_types: list[str] = field(default_factory=list)
    environment: str = ""
    prerequisites: str = ""
    target: str = ""
    strict_order: bool = True
    min_soak_minutes: str = ""

    @classmethod
    def of(cls, rule: RulePublic) -> "RuleForm":
        """The form of a saved rule."""
        config = rule.config
        return cls(
            rule_type=rule.rule_type,
            name=rule.name,
            mode=rule.mode,
            products=", ".join(rule.products),
            environments=", ".join(rule.environments),
            kind=str(config.get("kind", "deny")),
            timezone=str(config.get("timezone", "UTC")),
            reason=str(config.get("reason") or ""),
            windows=[
                (_local_input(w.get("start")), _local_input(w.get("end")))
                for w in config.get("windows", [])
            ],
            rrule=str(config.get("rrule") or ""),
            dtstart=_local_input(config.get("dtstart")),
            duration_minutes=_number_text(config.get("duration_minutes")),
            approval_types=[str(t) for t in config.get("approval_types", [])],
            environment=str(config.get("environment") or ""),
            prerequisites=", ".join(config.get("prerequisites", [])),
            target=str(config.get("target") or ""),
            strict_order=bool(config.get("strict_order", True)),
            min_soak_minutes=_number_text(config.get("min_soak_minutes")),
        )

    @classmethod
    def posted(cls, rule_type: str, data: FormData) -> "RuleForm":
        """The form as the browser sent it (empty window rows left out)."""
        pairs = zip_longest(texts(data, "window_start"), texts(data, "window_end"), fillvalue="")
        return cls(
            rule_type=rule_type,
            name=text(data, "name"),
            mode=text(data, "mode"),
            products=text(data, "products"),
            environments=text(data, "environments"),
            kind=text(data, "kind") or "deny",
            timezone=text(data, "timezone"),
            reason=text(data, "reason"),
            windows=[(start, end) for start, end in pairs if start or end],
            rrule=text(data, "rrule"),
            dtstart=text(data, "dtstart"),
            duration_minutes=text(data, "duration_minutes"),
            approval_types=[t for t in texts(data, "approval_types") if t],
            environment=text(data, "environment"),
            prerequisites=text(data, "prerequisites"),
            target=text(data, "target"),
            strict_order="strict_order" in data,
            min_soak_minutes=text(data, "min_soak_minutes"),
        )

    def config(self) -> dict[str, Any]:
        """The `config` the API takes for this rule type."""
        if self.rule_type == "schedule":
            config: dict[str, Any] = {
                "kind": self.kind,
                "timezone": self.timezone or "UTC",
                "windows": [{"start": start, "end": end} for start, end in self.windows],
            }
            if self.reason:
                config["reason"] = self.reason
            if self.rrule:
                config["rrule"] = self.rrule
            # Sent even without an rrule, so that policy says they go with one.
            if self.dtstart:
                config["dtstart"] = self.dtstart
            if self.duration_minutes:
                config["duration_minutes"] = _number(self.duration_minutes)
            return config
        if self.rule_type == "flow":
            return {
                "prerequisites": names(self.prerequisites),
                "target": self.target,
                "strict_order": self.strict_order,
                "min_soak_minutes": _number(self.min_soak_minutes or "0"),
            }
        if self.rule_type == "version_approval":
            return {"approval_types": self.approval_types, "environment": self.environment or None}
        return {"approval_types": self.approval_types}

    def rows(self) -> list[tuple[str, str]]:
        """The one-time window rows to show: the rule's, then empty ones to add more."""
        return [*self.windows, *[("", "")] * max(1, 3 - len(self.windows))]


def _refusal(failure: Failure) -> list[Problem]:
    """A refusal of the form, field by field; a plain 409 is the name's (taken)."""
    return LABELS.refusal(failure, "name" if failure.status_code == 409 else "")


def _type_of(raw: str) -> str:
    if raw not in TYPES:
        raise FailureError(not_found())
    return raw


async def _rule(user: Viewer, rule_id: str) -> RulePublic:
    found: RulePublic = await user.ask(GetRule(actor=user.actor, rule_id=ident(rule_id)))
    return found


async def _windows(user: Viewer, rule: RulePublic) -> WindowsPreview | None:
    if rule.rule_type != "schedule":
        return None
    preview: WindowsPreview = await user.ask(
        PreviewWindows(actor=user.actor, rule_id=rule.id, count=WINDOWS_SHOWN)
    )
    return preview


def _form_page(
    user: Viewer,
    form: RuleForm,
    rule: RulePublic | None,
    *,
    status_code: int = 200,
    problems: Sequence[Problem] = (),
    preview: WindowsPreview | None = None,
) -> Response:
    return user.render(
        "rule_form.html",
        status_code,
        form=form,
        rule=rule,
        rule_type=form.rule_type,
        kind=TYPES[form.rule_type],
        types=TYPES,
        modes=MODES,
        zones=COMMON_ZONES,
        approval_types=_FILLED_BY,
        **shown(problems),
        preview=preview,
    )


async def _save(
    user: Viewer,
    form: RuleForm,
    rule: RulePublic | None,
    build: Callable[[], CreateRule | UpdateRule],
) -> RulePublic | Response:
    """Send the form's message; a refusal of the form's content shows the form again."""
    try:
        message = build()
    except ValidationError as error:
        problems = LABELS.invalid(error)
        return _form_page(user, form, rule, status_code=422, problems=problems)
    try:
        saved: RulePublic = await user.ask(message)
    except FailureError as exc:
        if exc.failure.status_code not in (409, 422):
            raise
        problems = _refusal(exc.failure)
        return _form_page(user, form, rule, status_code=exc.failure.status_code, problems=problems)
    return saved


async def _preview(user: Viewer, form: RuleForm, rule: RulePublic | None) -> Response:
    """The form again, with the next windows of the schedule as written (nothing saved)."""
    if form.rule_type != "schedule":
        return _form_page(user, form, rule)
    try:
        preview: WindowsPreview = await user.ask(
            PreviewWindows(actor=user.actor, config=form.config(), count=WINDOWS_SHOWN),
        )
    except FailureError as exc:
        if exc.failure.status_code != 422:
            raise
        problems = _refusal(exc.failure)
        return _form_page(user, form, rule, status_code=422, problems=problems)
    return _form_page(user, form, rule, preview=preview)


@router.get("/ui/rules")
async def rules_page(user: ViewerDep) -> Response:
    """Every rule, with a mode switch for those who manage rules."""
    page = await user.ask(ListRules(actor=user.actor, limit=RULES_SHOWN))
    return user.render(
        "rules.html",
        rules=page.items,
        total=page.total,
        types=TYPES,
        modes=MODES,
        manage=user.may(Permission.MANAGE_RULES),
    )


@router.get("/ui/rules/new")
async def new_rule_form(
    user: ViewerDep, rule_type: Annotated[str, Query(alias="type")] = ""
) -> Response:
    """The form for a new rule of a type (without a type: the choice of types)."""
    user.require(Permission.MANAGE_RULES)
    if not rule_type:
        return user.render("rule_form.html", rule_type=None, types=TYPES)
    return _form_page(user, RuleForm(rule_type=_type_of(rule_type)), None)


@router.post("/ui/rules/new")
async def create_rule(user: CheckedDep) -> Response:
    """Create the rule the form describes."""
    user.require(Permission.MANAGE_RULES)
    data = await user.request.form()
    rule_type = _type_of(str(data.get("rule_type") or ""))
    form = RuleForm.posted(rule_type, data)
    if data.get("action") == "preview":
        return await _preview(user, form, None)

    def build() -> CreateRule:
        return CreateRule.model_validate(
            {
                "actor": user.actor,
                "name": form.name,
                "rule_type": rule_type,
                "mode": form.mode,
                "products": names(form.products),
                "environments": [] if rule_type == "flow" else names(form.environments),
                "config": form.config(),
            }
        )

    saved = await _save(user, form, None, build)
    if isinstance(saved, Response):
        return saved
    return flash_redirect(f"/ui/rules/{saved.id}", f"Rule {saved.name} created.")


@router.get("/ui/rules/{rule_id}")
async def rule_page(rule_id: str, user: ViewerDep) -> Response:
    """One rule: its configuration, its next windows (schedules), its recent violations."""
    rule = await _rule(user, rule_id)
    preview, log = await asyncio.gather(
        _windows(user, rule),
        user.ask(
            ListViolations(actor=user.actor, rule=str(rule.id), limit=RECENT_VIOLATIONS),
        ),
    )
    return user.render(
        "rule.html",
        rule=rule,
        kind=TYPES[rule.rule_type],
        modes=MODES,
        preview=preview,
        violations=log.items,
        total_violations=log.total,
        manage=user.may(Permission.MANAGE_RULES),
        local=_local_text,
        duration=duration,
        describe_rrule=describe_rrule,
    )


@router.get("/ui/rules/{rule_id}/edit")
async def edit_rule_form(rule_id: str, user: ViewerDep) -> Response:
    """The form of a saved rule, with its next windows as saved."""
    user.require(Permission.MANAGE_RULES)
    rule = await _rule(user, rule_id)
    return _form_page(user, RuleForm.of(rule), rule, preview=await _windows(user, rule))


@router.post("/ui/rules/{rule_id}/edit")
async def update_rule(rule_id: str, user: CheckedDep) -> Response:
    """Save the form's changes to a rule (its type stays)."""
    user.require(Permission.MANAGE_RULES)
    rule = await _rule(user, rule_id)
    data = await user.request.form()
    form = RuleForm.posted(rule.rule_type, data)
    if data.get("action") == "preview":
        return await _preview(user, form, rule)

    def build() -> UpdateRule:
        return UpdateRule.model_validate(
            {
                "actor": user.actor,
                "rule_id": rule.id,
                "name": form.name,
                "mode": form.mode,
                "products": names(form.products),
                # A flow rule applies to its target; its stored scope stays as it is.
                "environments": None if rule.rule_type == "flow" else names(form.environments),
                "config": form.config(),
            }
        )

    saved = await _save(user, form, rule, build)
    if isinstance(saved, Response):
        return saved
    return flash_redirect(f"/ui/rules/{saved.id}", f"Rule {saved.name} saved.")


class ModeForm(BaseModel):
    """A rule's mode switch, and the page it came from (the list or the rule's page)."""

    mode: str = ""
    back: str = ""


@router.post("/ui/rules/{rule_id}/mode")
async def switch_mode(
    rule_id: str, user: CheckedDep, form: Annotated[ModeForm, Form()]
) -> Response:
    """Enable a rule, make it report-only or disable it."""
    user.require(Permission.MANAGE_RULES)
    target = ident(rule_id)
    if form.mode not in MODES:
        return user.render(
            "error.html", 422, message="Mode: choose enabled, report-only or disabled."
        )
    page = f"/ui/rules/{target}" if form.back == f"/ui/rules/{target}" else "/ui/rules"
    request = UpdateRule.model_validate({"actor": user.actor, "rule_id": target, "mode": form.mode})
    return await user.act(request, back=page, done=f"Rule now {MODES[form.mode]}.")


@router.post("/ui/rules/{rule_id}/delete")
async def delete_rule(rule_id: str, user: CheckedDep) -> Response:
    """Delete a rule (its violations stay in the log)."""
    user.require(Permission.MANAGE_RULES)
    request = DeleteRule(actor=user.actor, rule_id=ident(rule_id))
    return await user.act(request, back="/ui/rules", done="Rule deleted.")


@router.get("/ui/violations")
async def violations_page(
    user: ViewerDep,
    rule: str = "",
    product: str = "",
    environment: str = "",
    outcome: str = "",
    before: str = "",
) -> Response:
    """The violations log: what rules blocked, reported, or saw overridden, newest first."""
    filters = {
        "rule": rule.strip(),
        "product": product.strip(),
        "environment": environment.strip(),
        "outcome": outcome.strip(),
    }
    if filters["outcome"] and filters["outcome"] not in OUTCOMES:
        return user.render(
            "error.html", 422, message="Outcome: choose blocked, reported or overridden."
        )
    older = int(before) if before.isdigit() and int(before) > 0 else None
    log, rules = await asyncio.gather(
        user.ask(
            ListViolations.model_validate(
                {
                    "actor": user.actor,
                    "rule": filters["rule"] or None,
                    "product": filters["product"] or None,
                    "environment": filters["environment"] or None,
                    "outcome": filters["outcome"] or None,  # checked above
                    "limit": VIOLATIONS_PER_PAGE,
                    "before": older,
                }
            ),
        ),
        user.ask(ListRules(actor=user.actor, limit=RULES_SHOWN)),
    )
    items: list[ViolationPublic] = log.items
    next_page = (
        "/ui/violations?" + urlencode({**filters, "before": items[-1].id})
        if len(items) == VIOLATIONS_PER_PAGE
        else None
    )
    return user.render(
        "violations.html",
        violations=items,
        total=log.total,
        filters=filters,
        filtered=any(filters.values()),
        rule_names=sorted({r.name for r in rules.items}),
        outcomes=OUTCOMES,
        next_page=next_page,
        paged=older is not None,
    )
