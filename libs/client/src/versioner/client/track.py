"""`versioner track build|deployment`: build the event, send it, map the answer to an exit code."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from versioner.client import github
from versioner.client.ci import COMMIT_TIMESTAMP_KEY, Detected, detect, git_commit_time
from versioner.client.errors import BLOCK_STATUSES, ApiError, NetworkError
from versioner.client.models import Tracked
from versioner.client.report import (
    block_heading,
    override_of,
    print_block,
    report_only_failures,
    say,
    warn,
)
from versioner.client.settings import ExitCode, Settings, UsageError, client_for

MAX_METADATA_BYTES = 102_400
_ID_LABELS = (
    ("product_id", "Product ID"),
    ("version_id", "Version ID"),
    ("environment_id", "Environment ID"),
)


def _compact_size(data: Mapping[str, Any]) -> int:
    return len(json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode())


def parse_metadata(text: str) -> dict[str, Any]:
    """Parse `--extra-metadata`: a JSON object."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"--extra-metadata is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise UsageError("--extra-metadata must be a JSON object")
    return data


def rfc3339(value: str, flag: str) -> str:
    """Check a time given by `flag`: RFC 3339 with a zone; UTC is sent as `Z`."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise UsageError(f"{flag} must be an RFC 3339 time, not {value!r}") from None
    if parsed.tzinfo is None:
        raise UsageError(f"{flag} needs a zone (Z or ±hh:mm): {value!r}")
    return parsed.isoformat().replace("+00:00", "Z")


class Fields:
    """Reads one value: flag, then environment and config, then CI detection."""

    def __init__(self, args: Mapping[str, object], settings: Settings) -> None:
        self._args = args
        self._settings = settings

    def get(self, name: str, detected: str = "") -> str:
        """The value of `--name`, else `VERSIONER_<NAME>` or the config's `name`, else
        `detected`."""
        flag = self._args.get(name)
        if isinstance(flag, str) and flag:
            return flag
        return self._settings.lookup(name) or detected


def build_payload(
    kind: str,
    args: Mapping[str, object],
    settings: Settings,
    found: Detected,
    commit_time: Callable[[], str] | None = None,
) -> dict[str, Any]:
    """The event body for `kind` ("build" or "deployment"); raises `UsageError` when incomplete.
    A build's metadata gets `vi_commit_timestamp` from `commit_time` unless the user set it."""
    fields = Fields(args, settings)
    payload: dict[str, Any] = {
        "product_name": fields.get("product", found.product),
        "version": fields.get("version", found.version),
    }
    if kind == "deployment":
        payload["environment_name"] = fields.get("environment")
    for key, flag in (("product_name", "--product"), ("version", "--version")):
        if not payload[key]:
            raise UsageError(f"{flag} is required (or set VERSIONER_{flag[2:].upper()})")
    if kind == "deployment" and not payload["environment_name"]:
        raise UsageError("--environment is required (or set VERSIONER_ENVIRONMENT)")
    status = args.get("status")
    payload["status"] = status if isinstance(status, str) and status else "completed"

    optional = {
        "source_system": fields.get("source_system", found.system),
        "build_number": fields.get("build_number", found.build_number),
        "scm_sha": fields.get("scm_sha", found.scm_sha),
        "scm_repository": fields.get("scm_repository", found.scm_repository),
        "invoke_id": fields.get("invoke_id", found.invoke_id),
    }
    actor = "deployed_by" if kind == "deployment" else "built_by"
    optional |= {
        actor: fields.get(actor, found.user),
        f"{actor}_email": fields.get(f"{actor}_email", found.user_email),
        f"{actor}_name": fields.get(f"{actor}_name", found.user_name),
    }
    if kind == "deployment":
        # Versioner's clients send the run link as deploy_url and never auto-fill
        # scm_branch or build_url on deployments; we send those two only when given.
        optional |= {
            "deploy_url": fields.get("deploy_url", found.build_url),
            "scm_branch": fields.get("scm_branch"),
            "build_url": fields.get("build_url"),
        }
    else:
        optional |= {
            "scm_branch": fields.get("scm_branch", found.scm_branch),
            "build_url": fields.get("build_url", found.build_url),
        }
        if started := fields.get("started_at"):
            optional["started_at"] = rfc3339(started, "--started-at")
    if completed := fields.get("completed_at"):
        optional["completed_at"] = rfc3339(completed, "--completed-at")
    payload |= {k: v for k, v in optional.items() if v}

    metadata: dict[str, Any] = dict(found.metadata)
    if user_metadata := fields.get("extra_metadata"):
        metadata |= parse_metadata(user_metadata)
    if (
        kind == "build"
        and COMMIT_TIMESTAMP_KEY not in metadata
        and commit_time is not None
        and (stamp := commit_time())
    ):
        metadata[COMMIT_TIMESTAMP_KEY] = stamp
    if kind == "deployment":
        # Flag only: a break-glass reason left in the environment or config would
        # silently override every later deployment.
        reason = args.get("override_reason")
        if isinstance(reason, str) and reason:
            payload["override_reason"] = reason
            # Versioner's own clients can only send metadata, so the server reads both.
            metadata["override_reason"] = reason
        if args.get("skip_preflight_checks"):
            payload["skip_preflight_checks"] = True
    if metadata:
        size = _compact_size(metadata)
        if size > MAX_METADATA_BYTES:
            raise UsageError(
                f"extra_metadata is {size} bytes as compact JSON; the limit is {MAX_METADATA_BYTES}"
            )
        payload["extra_metadata"] = metadata
    return payload


def run_track(kind: str, args: Mapping[str, object], settings: Settings) -> int:
    """Send one build or deployment event and report the answer; returns the exit code."""
    env = settings.env
    found = detect(env)
    cwd = Path.cwd()
    payload = build_payload(kind, args, settings, found, lambda: git_commit_time(cwd, env))
    if args.get("skip_preflight_checks"):
        warn("⚠️ Warning: --skip-preflight-checks is deprecated and ignored by this server;")
        warn('   policy still applies. Break-glass is --override-reason "<why>".')
    if not settings.api_key:
        raise UsageError("an API key is required: set VERSIONER_API_KEY or use --api-key")
    if settings.verbose:
        _describe(kind, payload, found, settings)

    title = kind.capitalize()
    with client_for(settings) as client:
        try:
            if kind == "build":
                tracked: Tracked[Any] = client.track_build(payload)
            else:
                tracked = client.track_deployment(payload)
        except NetworkError as exc:
            return _network_failure(kind, str(exc), env)
        except ApiError as exc:
            return _api_failure(kind, exc, settings)
    _report_success(kind, title, payload, tracked, settings)
    return ExitCode.OK


def _describe(kind: str, payload: Mapping[str, Any], found: Detected, settings: Settings) -> None:
    warn(f"Tracking {kind} event:")
    if settings.config_path:
        warn(f"  Using config file: {settings.config_path}")
    if found.system:
        warn(f"  Auto-detected CI system: {found.system}")
    shown = ("product_name", "environment_name", "version", "status", "source_system")
    for key in (*shown, "scm_repository", "scm_sha", "scm_branch", "invoke_id"):
        if payload.get(key):
            warn(f"  {key}: {payload[key]}")
    if stamp := payload.get("extra_metadata", {}).get(COMMIT_TIMESTAMP_KEY):
        warn(f"  {COMMIT_TIMESTAMP_KEY}: {stamp}")
    warn(f"  API URL: {settings.api_url}")
    warn()


def _failure_exit(kind: str) -> ExitCode:
    return ExitCode.BUILD_FAILED if kind == "build" else ExitCode.ERROR


def _network_failure(kind: str, message: str, env: Mapping[str, str]) -> int:
    warn(f"Error: {message}")
    github.annotate(env, "error", f"Versioner {kind.capitalize()} Failed", message)
    return _failure_exit(kind)


def _api_failure(kind: str, error: ApiError, settings: Settings) -> int:
    env = settings.env
    title = f"Versioner {kind.capitalize()} Failed"
    if error.retryable:
        message = f"the API answered HTTP {error.status_code} after every retry: {error.message}"
        warn(f"Error: {message}")
        github.annotate(env, "error", title, message)
        return _failure_exit(kind)
    if kind == "deployment" and error.status_code in BLOCK_STATUSES:
        return _blocked(error, env)
    message = f"HTTP {error.status_code}: {error.message}"
    if kind == "build" and error.status_code == 409:
        warn(f"API error ({message})")
        github.annotate(env, "error", title, error.message)
        return ExitCode.BUILD_FAILED
    if not settings.fail_on_api_error:
        warn(f"⚠️ Warning: Event was not recorded ({message})")
        warn("   --fail-on-api-error=false: continuing with exit code 0")
        github.annotate(env, "warning", f"Versioner {kind.capitalize()} Not Recorded", message)
        return ExitCode.OK
    warn(f"API error ({message})")
    github.annotate(env, "error", title, message)
    return ExitCode.BUILD_FAILED if kind == "build" else ExitCode.API_ERROR


def _blocked(error: ApiError, env: Mapping[str, str]) -> int:
    block = error.block
    if block is None:
        warn(block_heading(error.status_code))
        warn()
        warn(error.message)
        github.annotate(env, "error", "Deployment Rejected", error.message)
        return ExitCode.BLOCKED
    print_block(error, block)
    for v in block.violations:
        title = f"{v.code}: {v.rule_name}" if v.rule_name else v.code
        retry = f" (retry after {v.retry_after})" if v.retry_after else ""
        github.annotate(env, "error", title, v.message + retry)
    heading = block_heading(error.status_code)
    github.append_summary(env, github.block_summary(error.status_code, heading, block))
    return ExitCode.BLOCKED


def _report_success(
    kind: str, title: str, payload: Mapping[str, Any], tracked: Tracked[Any], settings: Settings
) -> None:
    env = settings.env
    record = tracked.record
    if record is None:
        say(f"✓ {title} accepted, not yet recorded")
        say(f"  Event ID: {tracked.event_id}")
        say(f"  Follow it with: versioner events show {tracked.event_id}")
    else:
        say(f"✓ {title} tracked successfully")
        say(f"  Event ID: {tracked.event_id}")
        if settings.verbose:
            for key, label in _ID_LABELS:
                if record.get(key):
                    say(f"  {label}: {record[key]}")
    warnings = report_only_failures(record) if record is not None else []
    for line in warnings:
        warn(f"⚠️ Report-only rule failed: {line}")
        github.annotate(env, "warning", "Versioner report-only rule", line)
    override = override_of(record) if record is not None else None
    if override is not None:
        warn(f"⚠️ Let through by {override.get('by')}'s override: {override.get('reason')}")
    link = _link(kind, tracked, settings.ui_url)
    if settings.verbose and link:
        say(f"  View: {link}")
    github.append_summary(
        env,
        github.success_summary(
            action=title,
            product=str(payload["product_name"]),
            version=str(payload["version"]),
            status=str(payload["status"]),
            environment=payload.get("environment_name"),
            sha=payload.get("scm_sha"),
            link=link,
            accepted=tracked.accepted,
            warnings=warnings,
        ),
    )


def _link(kind: str, tracked: Tracked[Any], ui_url: str) -> str:
    if kind == "deployment":
        # A deployment's id is its event id, so the link works even before it is recorded.
        return f"{ui_url}/manage/deployments?view={tracked.event_id}"
    version_id = tracked.record.get("version_id") if tracked.record else None
    return f"{ui_url}/manage/versions?view={version_id}" if version_id else f"{ui_url}/ui/"
