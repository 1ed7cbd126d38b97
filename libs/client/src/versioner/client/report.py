"""Terminal output: success lines, policy blocks and report-only warnings."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from typing import Any

from versioner.client.errors import ApiError, Block

BLOCK_HEADINGS = {
    409: "⚠️ Deployment Conflict",
    423: "🔒 Deployment Blocked by Schedule",
    428: "❌ Deployment Precondition Failed",
}

# Break-glass never lets these through (API.md "Break-glass").
_NOT_OVERRIDABLE = frozenset(
    {"DEPLOYMENT_IN_PROGRESS", "CONCURRENT_DEPLOYMENT", "VERSION_CONFLICT"}
)


def say(text: str = "") -> None:
    """Write a line on stdout."""
    sys.stdout.write(text + "\n")


def warn(text: str = "") -> None:
    """Write a line on stderr."""
    sys.stderr.write(text + "\n")


def block_heading(status_code: int) -> str:
    """The heading Versioner's CLI prints for a 409, 423 or 428."""
    return BLOCK_HEADINGS.get(status_code, f"❌ Deployment Blocked (HTTP {status_code})")


def print_block(error: ApiError, block: Block) -> None:
    """Print a refusal on stderr: heading, summary, then every violation and when to retry."""
    warn(block_heading(error.status_code))
    warn()
    warn(f"Error: {block.code}")
    if block.rule_name:
        warn(f"Rule: {block.rule_name}")
    if block.message:
        warn(block.message)
    warn()
    count = len(block.violations)
    warn(f"{count} violation{'s' if count != 1 else ''}:")
    for number, v in enumerate(block.violations, 1):
        rule = f" · {v.rule_name}" if v.rule_name else ""
        kind = f" ({v.rule_type})" if v.rule_type else ""
        warn(f"  {number}. {v.code}{rule}{kind}")
        if v.message:
            warn(f"     {v.message}")
        if v.retry_after:
            warn(f"     retry after {v.retry_after}")
        conflicting = v.details.get("conflicting_deployment_id")
        if isinstance(conflicting, str) and conflicting:
            warn(f"     if it is stuck: versioner deployments abort {conflicting}")
    if block.retry_after:
        warn()
        warn(f"Retry after: {block.retry_after}")
    if any(v.code not in _NOT_OVERRIDABLE for v in block.violations):
        warn()
        warn("Emergency: a user who may manage rules can let this one deployment through")
        warn('with --override-reason "<why>" (audited).')
    extra = {k: v for k, v in block.details.items() if k not in ("rule_name", "violations")}
    if extra:
        warn()
        warn("Details:")
        warn("  " + json.dumps(extra, indent=2, ensure_ascii=False).replace("\n", "\n  "))


def report_only_failures(record: Mapping[str, Any]) -> list[str]:
    """Lines for each report-only rule that failed in a 200's `preflight_status`."""
    metadata = record.get("extra_metadata")
    preflight = metadata.get("preflight_status") if isinstance(metadata, dict) else None
    rules = preflight.get("rules_evaluated") if isinstance(preflight, dict) else None
    lines = []
    for rule in rules if isinstance(rules, list) else []:
        if not isinstance(rule, dict):
            continue
        if rule.get("status") == "report_only" and rule.get("evaluation_result") == "failed":
            code = f" [{rule['code']}]" if rule.get("code") else ""
            message = rule.get("error_message") or "failed"
            lines.append(f"{rule.get('rule_name', 'unnamed rule')}{code}: {message}")
    return lines


def override_of(record: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The break-glass override a 200 carries, if any."""
    metadata = record.get("extra_metadata")
    preflight = metadata.get("preflight_status") if isinstance(metadata, dict) else None
    override = preflight.get("override") if isinstance(preflight, dict) else None
    return override if isinstance(override, dict) else None
