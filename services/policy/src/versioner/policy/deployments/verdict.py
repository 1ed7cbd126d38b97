"""The verdict's shapes: violations in their order, the 409/428 body, `preflight_status`, and
what was decided (`Verdict`) for the verdict's log line and metrics."""

from dataclasses import dataclass
from typing import Any, Literal

from versioner.common.errors import Failure, Violation

CODE_ORDER = (
    "DEPLOYMENT_IN_PROGRESS",
    "VERSION_CONFLICT",
    "NO_DEPLOY_WINDOW",
    "DR_REQUIRED",
    "APPROVAL_REQUIRED",
    "CHECKLIST_INCOMPLETE",
    "FLOW_VIOLATION",
    "INSUFFICIENT_SOAK_TIME",
    "QUALITY_APPROVAL_REQUIRED",
)
_RANK = {code: rank for rank, code in enumerate(CODE_ORDER)}

Outcome = Literal["allowed", "blocked", "overridden", "report_only"]


@dataclass(frozen=True)
class Verdict:
    """What the gate decided for a start: the outcome, the violations that blocked it or were
    overridden, and those of rules in report-only mode."""

    outcome: Outcome
    violations: tuple[Violation, ...] = ()
    reported: tuple[Violation, ...] = ()


def order_key(violation: Violation) -> tuple[int, str]:
    """Where a violation goes in the order API.md fixes: by code, then by rule name."""
    return _RANK.get(violation.code, len(_RANK)), violation.rule_name


def ordered(violations: list[Violation]) -> list[Violation]:
    """Violations in the order API.md fixes."""
    return sorted(violations, key=order_key)


def blocked(violations: list[Violation]) -> Failure:
    """The refusal of a deployment: 409 when concurrency is the only reason, else 428."""
    violations = ordered(violations)
    first = violations[0]
    only_concurrency = all(v.code == "DEPLOYMENT_IN_PROGRESS" for v in violations)
    retry_times = [v.retry_after for v in violations]
    retry_after = max(t for t in retry_times if t) if all(retry_times) else None
    details: dict[str, Any] = {
        **first.details,
        "rule_name": first.rule_name,
        "violations": [v.model_dump(mode="json") for v in violations],
    }
    return Failure.structured(
        409 if only_concurrency else 428,
        error="deployment_blocked",
        code=first.code,
        message=first.message,
        retry_after=retry_after,
        details=details,
    )


def preflight_status(
    status: Literal["passed", "failed", "skipped"],
    rules_evaluated: list[dict[str, Any]] | None = None,
    override: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """`extra_metadata.preflight_status` as Versioner's clients read it."""
    return {"status": status, "rules_evaluated": rules_evaluated or [], "override": override}
