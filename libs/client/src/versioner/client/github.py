"""GitHub Actions integration: workflow-command annotations and the job summary."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path

from versioner.client.errors import Block

_STATUS_EMOJI = {
    "started": "⏳",
    "in_progress": "⏳",
    "completed": "✅",
    "success": "✅",
    "failed": "❌",
    "aborted": "🚫",
    "cancelled": "🚫",
    "pending": "⏸️",
}


def in_actions(env: Mapping[str, str]) -> bool:
    """True inside a GitHub Actions job."""
    return env.get("GITHUB_ACTIONS") == "true"


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotate(env: Mapping[str, str], level: str, title: str, message: str) -> None:
    """Write `::error title=…::message` (or warning/notice) when running in Actions."""
    if in_actions(env):
        sys.stdout.write(f"::{level} title={_escape_property(title)}::{_escape_data(message)}\n")
        sys.stdout.flush()


def append_summary(env: Mapping[str, str], markdown: str) -> None:
    """Append to `$GITHUB_STEP_SUMMARY`; a summary that cannot be written never fails the step."""
    path = env.get("GITHUB_STEP_SUMMARY")
    if not in_actions(env) or not path:
        return
    try:
        with Path(path).open("a", encoding="utf-8") as summary:
            summary.write(markdown)
    except OSError:
        return


def success_summary(
    *,
    action: str,
    product: str,
    version: str,
    status: str,
    environment: str | None,
    sha: str | None,
    link: str,
    accepted: bool,
    warnings: list[str],
) -> str:
    """Markdown for a tracked (or accepted) event."""
    emoji = _STATUS_EMOJI.get(status.strip().lower(), "")
    lines = [
        "## 🚀 Versioner Summary",
        "",
        f"- **Action:** {action}",
        f"- **Product:** {product}",
    ]
    if environment:
        lines.append(f"- **Environment:** {environment}")
    shown = f"{emoji} {status}" if emoji else status
    lines += [f"- **Status:** {shown}", f"- **Version:** `{version}`"]
    if sha:
        lines.append(f"- **Git SHA:** `{sha}`")
    if accepted:
        lines.append("- **Recorded:** accepted, not yet recorded")
    if warnings:
        lines += ["", "### Report-only warnings", ""]
        lines += [f"- {w}" for w in warnings]
    lines += ["", f"[View in Versioner →]({link})", "", ""]
    return "\n".join(lines)


def block_summary(status_code: int, heading: str, block: Block) -> str:
    """Markdown for a deployment that policy refused."""
    lines = [
        "## ❌ Versioner Deployment Rejected",
        "",
        f"### {heading}",
        "",
        f"- **HTTP status:** {status_code}",
        f"- **Error Code:** `{block.code}`",
    ]
    if block.rule_name:
        lines.append(f"- **Rule:** {block.rule_name}")
    lines.append(f"- **Message:** {block.message}")
    if block.retry_after:
        lines.append(f"- **Retry After:** `{block.retry_after}`")
    lines += ["", "| Code | Rule | What to do | Retry after |", "|---|---|---|---|"]
    for v in block.violations:
        cells = (v.code, v.rule_name or "", v.message, v.retry_after or "")
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    lines += ["", ""]
    return "\n".join(lines)
