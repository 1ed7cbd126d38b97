"""`versioner rules`, `approvals` and `audit`: policy configuration from a terminal."""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from versioner.client.client import VersionerClient
from versioner.client.commands import Args, call_api, cell_text, dump_json, print_table
from versioner.client.models import Rule, RuleType, VersionApproval
from versioner.client.report import say
from versioner.client.settings import ExitCode, Settings, UsageError

# Convenience flags of `rules create`: argparse dest → (config key, rule types it belongs to).
CONFIG_FLAGS: dict[str, tuple[str, tuple[RuleType, ...]]] = {
    "prerequisite": ("prerequisites", ("flow",)),
    "target": ("target", ("flow",)),
    "min_soak_minutes": ("min_soak_minutes", ("flow",)),
    "strict_order": ("strict_order", ("flow",)),
    "approval_type": ("approval_types", ("dr_required", "version_approval")),
    "approval_environment": ("environment", ("version_approval",)),
    "schedule_kind": ("kind", ("schedule",)),
    "timezone": ("timezone", ("schedule",)),
    "reason": ("reason", ("schedule",)),
    "window": ("windows", ("schedule",)),
    "rrule": ("rrule", ("schedule",)),
    "dtstart": ("dtstart", ("schedule",)),
    "duration_minutes": ("duration_minutes", ("schedule",)),
}


def iso_time(text: str) -> str:
    """An argparse type: an ISO 8601 time, passed on as typed."""
    try:
        datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not an ISO 8601 time: {text!r} (e.g. 2026-05-01T00:00:00Z)"
        ) from None
    return text


def number(text: str) -> int | float:
    """An argparse type: a non-negative number, sent as an integer when it is one."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value < 0 or not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a non-negative number: {text!r}")
    return int(value) if value.is_integer() else value


def window(text: str) -> dict[str, str]:
    """An argparse type: `START/END`, local times of the rule's time zone."""
    start, _, end = text.partition("/")
    if not start or not end:
        raise argparse.ArgumentTypeError(f"a window is START/END, not {text!r}")
    return {"start": start, "end": end}


def read_config(text: str) -> dict[str, Any]:
    """`--config`: a JSON object, inline or `@file` (`@-`: standard input)."""
    source = "--config"
    if text.startswith("@"):
        source = text[1:]
        try:
            text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot read {source}: {exc}") from None
    try:
        config = json.loads(text)
    except ValueError as exc:
        raise UsageError(f"{source} is not valid JSON: {exc}") from None
    if not isinstance(config, dict):
        raise UsageError(f"{source} must be a JSON object")
    return config


def rule_config(args: Args, rule_type: RuleType) -> dict[str, Any]:
    """`--config`, overlaid with the convenience flags given (they win)."""
    raw = args.get("rule_config")
    config = read_config(raw) if raw is not None else {}
    for dest, (key, types) in CONFIG_FLAGS.items():
        value = args.get(dest)
        if value is None or value == []:
            continue
        if rule_type not in types:
            flag = "--" + dest.replace("_", "-")
            raise UsageError(f"{flag} applies to {' and '.join(types)} rules, not {rule_type}")
        config[key] = value
    if raw is None and not config:
        raise UsageError(f"give --config JSON (or @file), or the flags of a {rule_type} rule")
    return config


def _scope(names: Sequence[str]) -> str:
    return ", ".join(names) or "all"


def _scopes(rule: Rule) -> tuple[str, str]:
    return _scope(rule["products"]), _scope(rule["environments"])


def print_rule(rule: Rule) -> None:
    """A rule, one field a line, its configuration as indented JSON."""
    say(f"Rule {rule['name']!r} ({rule['id']})")
    say(f"  type:         {rule['rule_type']}")
    say(f"  mode:         {rule['mode']}")
    say(f"  products:     {_scope(rule['products'])}")
    say(f"  environments: {_scope(rule['environments'])}")
    created, by = cell_text(rule.get("created_at")), cell_text(rule.get("created_by"))
    say(f"  created:      {created} by {by}")
    say(f"  updated:      {cell_text(rule.get('updated_at'))}")
    say("  config:")
    say("    " + json.dumps(rule["config"], indent=2, ensure_ascii=False).replace("\n", "\n    "))


def list_rules(args: Args, settings: Settings) -> int:
    """`versioner rules list`."""

    def call(client: VersionerClient) -> int:
        rules = client.list_rules(limit=args.get("limit"))
        if args.get("json"):
            return dump_json(rules)
        rows = [[r["id"], r["name"], r["rule_type"], r["mode"], *_scopes(r)] for r in rules]
        print_table(["ID", "NAME", "TYPE", "MODE", "PRODUCTS", "ENVIRONMENTS"], rows)
        return ExitCode.OK

    return call_api(settings, call)


def show_rule(args: Args, settings: Settings) -> int:
    """`versioner rules show ID`."""

    def call(client: VersionerClient) -> int:
        rule = client.get_rule(args["rule_id"])
        if args.get("json"):
            return dump_json(rule)
        print_rule(rule)
        return ExitCode.OK

    return call_api(settings, call)


def create_rule(args: Args, settings: Settings) -> int:
    """`versioner rules create`: `--config` and/or the flags of the rule's type."""
    rule_type: RuleType = args["rule_type"]
    config = rule_config(args, rule_type)

    def call(client: VersionerClient) -> int:
        rule = client.create_rule(
            args["name"],
            rule_type,
            config,
            mode=args.get("mode") or "enabled",
            products=args.get("product") or [],
            environments=args.get("environment") or [],
        )
        if args.get("json"):
            return dump_json(rule)
        say(f"✓ Rule {rule['name']!r} created ({rule['id']}, {rule['mode']})")
        return ExitCode.OK

    return call_api(settings, call)


def set_rule_mode(args: Args, settings: Settings) -> int:
    """`versioner rules mode ID MODE` (audited by the server)."""

    def call(client: VersionerClient) -> int:
        rule = client.update_rule(args["rule_id"], mode=args["mode"])
        if args.get("json"):
            return dump_json(rule)
        say(f"✓ Rule {rule['name']!r} ({rule['id']}) is now {rule['mode']}")
        return ExitCode.OK

    return call_api(settings, call)


def update_rule(args: Args, settings: Settings) -> int:
    """`versioner rules update ID`: changes only what is given; `--config` replaces it."""
    products = [] if args.get("all_products") else args.get("product")
    environments = [] if args.get("all_environments") else args.get("environment")
    raw = args.get("rule_config")
    config = read_config(raw) if raw is not None else None
    if args.get("name") is None and products is None and environments is None and config is None:
        raise UsageError(
            "give at least one of --name, --product, --all-products, --environment, "
            "--all-environments, --config"
        )

    def call(client: VersionerClient) -> int:
        rule = client.update_rule(
            args["rule_id"],
            name=args.get("name"),
            products=products,
            environments=environments,
            config=config,
        )
        if args.get("json"):
            return dump_json(rule)
        say(f"✓ Rule {rule['name']!r} ({rule['id']}) updated")
        return ExitCode.OK

    return call_api(settings, call)


def delete_rule(args: Args, settings: Settings) -> int:
    """`versioner rules delete ID` (the server answers no body, so `--json` prints nothing)."""

    def call(client: VersionerClient) -> int:
        client.delete_rule(args["rule_id"])
        if not args.get("json"):
            say(f"✓ Rule {args['rule_id']} deleted")
        return ExitCode.OK

    return call_api(settings, call)


def rule_windows(args: Args, settings: Settings) -> int:
    """`versioner rules windows ID`: the next windows of a schedule rule."""

    def call(client: VersionerClient) -> int:
        preview = client.rule_windows(args["rule_id"], count=args.get("count"))
        if args.get("json"):
            return dump_json(preview)
        windows = preview["windows"]
        if not windows:
            say(f"No upcoming {preview['kind_of_windows']} windows.")
            return ExitCode.OK
        say(f"Next {preview['kind_of_windows']} windows of rule {preview['rule_id']}:")
        keys = ("start", "end", "local_start", "local_end", "timezone")
        print_table(
            ["START (UTC)", "END (UTC)", "LOCAL START", "LOCAL END", "TIMEZONE"],
            [[w.get(k) for k in keys] for w in windows],
        )
        return ExitCode.OK

    return call_api(settings, call)


_VIOLATION_COLUMNS = {
    "id": "id",
    "at": "at",
    "outcome": "outcome",
    "rule_name": "rule",
    "code": "code",
    "product": "product",
    "version": "version",
    "environment": "environment",
    "actor": "by",
    "message": "message",
}


def list_violations(args: Args, settings: Settings) -> int:
    """`versioner rules violations`: what rules blocked, reported or saw overridden."""

    def call(client: VersionerClient) -> int:
        violations = client.list_violations(
            rule=args.get("rule"),
            product=args.get("product"),
            environment=args.get("environment"),
            since=args.get("since"),
            outcome=args.get("outcome"),
            limit=args.get("limit"),
            before=args.get("before"),
        )
        if args.get("json"):
            return dump_json(violations)
        print_table(
            [h.upper() for h in _VIOLATION_COLUMNS.values()],
            [[v.get(k) for k in _VIOLATION_COLUMNS] for v in violations],
        )
        return ExitCode.OK

    return call_api(settings, call)


def _approval_line(approval: VersionApproval) -> str:
    where = f" in {approval['environment']}" if approval.get("environment") else ""
    return (
        f"{approval['approval_type']} approval of {approval['product_name']} "
        f"{approval['version']}{where}"
    )


def _named_version(args: Args) -> tuple[str | None, str | None, str | None]:
    """The version `--version-id`, or `--product` and `--version`, name."""
    version_id, product, version = args.get("version_id"), args.get("product"), args.get("version")
    if version_id is None and (product is None or version is None):
        raise UsageError("name the version: --version-id ID, or --product P --version V")
    if version_id is not None and version is not None:
        raise UsageError("--version goes with --product, not with --version-id")
    return version_id, product, version


def add_approval(args: Args, settings: Settings) -> int:
    """`versioner approvals add`: sign a version off, by id or by product and version."""
    version_id, product, version = _named_version(args)

    def call(client: VersionerClient) -> int:
        given = (args["approval_type"], args.get("environment"), args.get("comment"))
        if version_id is not None:
            approval = client.approve_version(version_id, *given)
        else:
            assert product is not None
            assert version is not None
            approval = client.approve_named_version(product, version, *given)
        if args.get("json"):
            return dump_json(approval)
        say(f"✓ {_approval_line(approval)} recorded ({approval['id']})")
        return ExitCode.OK

    return call_api(settings, call)


def _approval_row(approval: VersionApproval) -> list[object]:
    given = [approval["approved_by"], approval.get("approver_role"), approval.get("created_at")]
    where = approval.get("environment") or "any"
    rest = [approval.get("revoked_at"), approval.get("comment")]
    return [approval["id"], approval["approval_type"], where, *given, *rest]


def list_approvals(args: Args, settings: Settings) -> int:
    """`versioner approvals list --version-id ID | --product P --version V`."""
    version_id, product, version = _named_version(args)

    def call(client: VersionerClient) -> int:
        approvals = client.list_version_approvals(version_id, product=product, version=version)
        if args.get("json"):
            return dump_json(approvals)
        rows = [_approval_row(a) for a in approvals]
        print_table(["ID", "TYPE", "ENVIRONMENT", "BY", "ROLE", "AT", "REVOKED", "COMMENT"], rows)
        return ExitCode.OK

    return call_api(settings, call)


def revoke_approval(args: Args, settings: Settings) -> int:
    """`versioner approvals revoke (--version-id ID | --product P --version V) APPROVAL_ID`."""
    version_id, product, version = _named_version(args)

    def call(client: VersionerClient) -> int:
        approval = client.revoke_version_approval(
            version_id, args["approval_id"], product=product, version=version
        )
        if args.get("json"):
            return dump_json(approval)
        say(f"✓ {_approval_line(approval)} revoked ({approval['id']})")
        return ExitCode.OK

    return call_api(settings, call)


def list_audit(args: Args, settings: Settings) -> int:
    """`versioner audit`: the append-only log of who changed or decided what."""

    def call(client: VersionerClient) -> int:
        entries = client.list_audit(
            since=args.get("since"),
            kind=args.get("kind"),
            actor=args.get("actor"),
            limit=args.get("limit"),
            before=args.get("before"),
        )
        if args.get("json"):
            return dump_json(entries)
        keys = ("id", "at", "actor", "action", "subject_id", "summary")
        print_table(
            ["ID", "AT", "ACTOR", "ACTION", "SUBJECT", "SUMMARY"],
            [[e.get(k) for k in keys] for e in entries],
        )
        return ExitCode.OK

    return call_api(settings, call)
