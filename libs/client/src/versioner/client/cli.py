"""The `versioner` command line, compatible with Versioner's Go CLI.

Settings, highest first: flags; then environment variables and the config file
(`--config`, else `~/.versioner/config.yaml`, else `./config.yaml`; keys `api_key`, `api_url`,
`ui_url`, `fail_on_api_error`, and any event field such as `product`); then CI
auto-detection; then defaults. `track build` run in a git checkout also sends the commit time
of HEAD as `extra_metadata.vi_commit_timestamp` (where lead time starts) unless it is given.

Commands: `track build|deployment|incident`, `version`, `state`, `events show`,
`deployments list|abort`, `products|environments list|rename`, `admin users|api-keys …`,
`redeem`, `token rotate`, `rules …`, `requests …`, `approvals add|list|revoke`, `audit`,
`insights dora|gate` (`--json` prints the server's JSON on every listing and report).

- `VERSIONER_API_URL`: default `http://127.0.0.1:8000`, where a self-hosted ingest listens out
  of the box (Versioner's hosted `https://api.versioner.io` makes no sense here).
- `VERSIONER_API_KEY`: an API key (`sk_…`) or a personal token (`pat_…`).
- `VERSIONER_UI_URL`: base of the links printed and put in job summaries; default the API URL,
  since the dashboard is served by the same process.
- `VERSIONER_FAIL_ON_API_ERROR`: default `true`.
- `VERSIONER_PRODUCT`, `VERSIONER_VERSION`, `VERSIONER_ENVIRONMENT`, and `VERSIONER_<FIELD>`
  for every other event flag (`VERSIONER_SCM_SHA`, `VERSIONER_DEPLOY_URL`,
  `VERSIONER_INCIDENT_ID`, …) but `--status`, as viper does.
- `VERSIONER_RETRY_DELAYS`: seconds to wait before each retry of a network error, 5xx or 429,
  comma-separated, default `1,2,4` (four attempts); `0,0,0` for tests, empty for no retry.

Exit codes: 0 recorded or accepted; 1 bad arguments or configuration, network failure, 5xx/429
after retries; 2 `track build` failed; 4 another API error (`track deployment|incident`: unless
`--fail-on-api-error=false`); 5 deployment blocked by policy.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn, Protocol

from versioner.client import commands, deployment_requests, governance, insights
from versioner.client.client import client_version
from versioner.client.models import (
    APPROVAL_TYPES,
    BUCKETS,
    INCIDENT_STATUSES,
    OUTCOMES,
    REQUEST_STATUSES,
    RULE_MODES,
    RULE_TYPES,
    Decision,
    RequestAction,
)
from versioner.client.report import say, warn
from versioner.client.settings import ExitCode, Settings, UsageError, resolve
from versioner.client.track import run_track

Handler = Callable[[dict[str, Any], Settings], int]


class Leaf(Protocol):
    """Adds a command that runs `handler`; `own_config`: its `--config` is not the file's."""

    def __call__(
        self, group: Any, name: str, handler: Handler, help_: str, *, own_config: bool = False
    ) -> argparse.ArgumentParser: ...


class _Parser(argparse.ArgumentParser):
    """argparse exits 2 on bad usage; Versioner's CLI exits 1."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(ExitCode.ERROR, f"{self.prog}: error: {message}\n")


def _global_options(*, config_file: bool = True) -> _Parser:
    # Defaults are SUPPRESS so a global flag given before the command survives the subparser.
    opts = _Parser(add_help=False, argument_default=argparse.SUPPRESS)
    opts.add_argument("--api-url", help="Versioner API URL (env VERSIONER_API_URL)")
    opts.add_argument("--api-key", help="API key; prefer VERSIONER_API_KEY (flags show in ps)")
    opts.add_argument("--ui-url", help="base URL for links (env VERSIONER_UI_URL)")
    if config_file:
        opts.add_argument("--config", help="config file (default ~/.versioner/config.yaml)")
    opts.add_argument("-v", "--verbose", action="store_true", help="show detected values and IDs")
    opts.add_argument("--debug", action="store_true", help="dump HTTP requests and responses")
    opts.add_argument(
        "--fail-on-api-error",
        nargs="?",
        const="true",
        metavar="BOOL",
        help="fail on API errors other than policy blocks (default true)",
    )
    return opts


def _add_event_flags(parser: argparse.ArgumentParser, kind: str) -> None:
    add = parser.add_argument
    add("--product", help="product name (env VERSIONER_PRODUCT; CI default: repository)")
    add("--version", help="version string (env VERSIONER_VERSION; CI default: short SHA)")
    if kind == "deployment":
        add("--environment", help="environment name (env VERSIONER_ENVIRONMENT)")
    add("--status", help="status, sent as given (default completed)")
    for flag in ("source-system", "build-number", "scm-sha", "scm-repository", "scm-branch"):
        add(f"--{flag}")
    add("--build-url")
    add("--invoke-id", help="CI run id")
    if kind == "deployment":
        add("--deploy-url", help="link to the deploy run")
        for flag in ("deployed-by", "deployed-by-email", "deployed-by-name"):
            add(f"--{flag}")
    else:
        for flag in ("built-by", "built-by-email", "built-by-name"):
            add(f"--{flag}")
        add("--started-at", help="RFC 3339")
    add("--completed-at", help="RFC 3339")
    add("--extra-metadata", help="JSON object, at most 100 KB compact")
    if kind == "deployment":
        add("--override-reason", help="break-glass reason (users who may manage rules)")
        add("--skip-preflight-checks", action="store_true", help="deprecated; ignored")


def build_parser() -> argparse.ArgumentParser:
    """The whole command tree."""
    opts = _global_options()
    # `rules create|update --config` is the rule's; the settings file goes before the command.
    opts_without_config = _global_options(config_file=False)
    root = _Parser(
        prog="versioner",
        parents=[opts],
        description="Track builds, deployments and incidents; govern and measure delivery.",
    )
    commands_ = root.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def leaf(
        group: Any, name: str, handler: Handler, help_: str, *, own_config: bool = False
    ) -> argparse.ArgumentParser:
        parents = [opts_without_config if own_config else opts]
        parser: argparse.ArgumentParser = group.add_parser(name, parents=parents, help=help_)
        parser.set_defaults(handler=handler)
        return parser

    def branch(group: Any, name: str, help_: str) -> Any:
        parser = group.add_parser(name, parents=[opts], help=help_)
        return parser.add_subparsers(dest=f"{name}_command", metavar="COMMAND", required=True)

    track = branch(commands_, "track", "send a build, deployment or incident event")
    for kind in ("build", "deployment"):
        parser = leaf(track, kind, _tracker(kind), f"track a {kind} event")
        _add_event_flags(parser, kind)
    _add_incident_flags(
        leaf(track, "incident", insights.track_incident, "record an incident opened or resolved")
    )
    commands_.add_parser("version", parents=[opts], help="print the version")

    state = leaf(commands_, "state", commands.show_state, "what runs where")
    state.add_argument("--products", help="comma-separated product names")
    state.add_argument("--environments", help="comma-separated environment names")
    state.add_argument("--json", action="store_true")

    events = branch(commands_, "events", "events sent earlier")
    show = leaf(events, "show", commands.show_event, "what became of an event")
    show.add_argument("event_id", metavar="ID")
    show.add_argument("--json", action="store_true")

    deployments = branch(commands_, "deployments", "deployment history")
    listing = leaf(deployments, "list", commands.list_deployments, "list deployments")
    for flag in ("product", "environment", "status"):
        listing.add_argument(f"--{flag}")
    listing.add_argument("--limit", type=int)
    listing.add_argument("--json", action="store_true")
    abort = leaf(deployments, "abort", commands.abort_deployment, "abort a started deployment")
    abort.add_argument("deployment_id", metavar="ID")

    catalog: tuple[tuple[str, Handler, Handler], ...] = (
        ("products", commands.list_products, commands.rename_product),
        ("environments", commands.list_environments, commands.rename_environment),
    )
    for name, lister, renamer in catalog:
        group = branch(commands_, name, f"the {name} catalog")
        leaf(group, "list", lister, f"list {name}").add_argument("--json", action="store_true")
        rename = leaf(group, "rename", renamer, "rename one (the old name stays reserved)")
        rename.add_argument("record_id", metavar="ID")
        rename.add_argument("new_name", metavar="NEW_NAME")

    admin = branch(commands_, "admin", "users and API keys (admin)")
    users = admin.add_parser("users", parents=[opts], help="users").add_subparsers(
        dest="users_command", metavar="COMMAND", required=True
    )
    leaf(users, "list", commands.list_users, "list users").add_argument(
        "--json", action="store_true"
    )
    create = leaf(users, "create", commands.create_user, "create a user and an invite token")
    create.add_argument("--name", required=True)
    create.add_argument("--email", required=True)
    create.add_argument("--role", required=True)
    create.add_argument("--slack-user-id")
    update = leaf(users, "update", commands.update_user, "change a user")
    update.add_argument("user_id", metavar="ID")
    for flag in ("role", "email", "slack-user-id"):
        update.add_argument(f"--{flag}")
    update.add_argument("--active", metavar="true|false")

    keys = admin.add_parser("api-keys", parents=[opts], help="API keys").add_subparsers(
        dest="keys_command", metavar="COMMAND", required=True
    )
    leaf(keys, "list", commands.list_api_keys, "list API keys").add_argument(
        "--json", action="store_true"
    )
    leaf(keys, "create", commands.create_api_key, "create an API key").add_argument("name")
    leaf(keys, "revoke", commands.revoke_api_key, "revoke an API key").add_argument(
        "key_id", metavar="ID"
    )

    leaf(commands_, "redeem", commands.redeem, "trade an invite for a token").add_argument(
        "invite_token", metavar="INVITE_TOKEN"
    )
    token = branch(commands_, "token", "your personal token")
    leaf(token, "rotate", commands.rotate_token, "replace your personal token")

    _add_rules(branch(commands_, "rules", "Deployment Rules and their violations"), leaf)
    _add_requests(branch(commands_, "requests", "Deployment Requests"), leaf)
    _add_approvals(branch(commands_, "approvals", "version sign-offs"), leaf)
    audit = leaf(commands_, "audit", governance.list_audit, "the audit log, newest first")
    audit.add_argument("--since", type=governance.iso_time, help="ISO 8601 time")
    audit.add_argument("--kind", help="an action, or a prefix ending in '.'")
    audit.add_argument("--actor")
    _add_page_flags(audit, cursor=True)
    _add_insights(branch(commands_, "insights", "DORA keys and what the gate cost"), leaf)
    return root


def _add_incident_flags(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--product", help="product name (env VERSIONER_PRODUCT)")
    add("--environment", help="environment name (env VERSIONER_ENVIRONMENT)")
    add("--incident-id", help="the pager's id; sent again, it updates the one incident")
    add("--status", required=True, choices=INCIDENT_STATUSES)
    add("--title")
    add("--url", help="link to the incident")
    add("--opened-at", help="RFC 3339 (default: when the server receives it)")
    add("--resolved-at", help="RFC 3339, with --status resolved (default: when received)")


def _add_insights(group: Any, leaf: Leaf) -> None:
    reports: tuple[tuple[str, Handler, str], ...] = (
        ("dora", insights.show_dora, "deployment frequency, lead time, failure rate, recovery"),
        ("gate", insights.show_gate, "blocks, overrides, waits, request turnaround, skips"),
    )
    for name, handler, help_ in reports:
        parser = leaf(group, name, handler, help_)
        parser.add_argument("--product", help="one product (default: every product)")
        parser.add_argument(
            "--environment",
            metavar="ENV[,ENV…]",
            help="comma-separated (default: every environment of type production)",
        )
        parser.add_argument(
            "--since", type=governance.iso_time, help="ISO 8601 (default 90 days ago)"
        )
        parser.add_argument("--until", type=governance.iso_time, help="ISO 8601 (default now)")
        parser.add_argument("--bucket", choices=BUCKETS, help="default week")
        _add_json(parser)


def _add_page_flags(parser: argparse.ArgumentParser, *, cursor: bool = False) -> None:
    parser.add_argument("--limit", type=int, help="at most this many (server default 100)")
    if cursor:
        parser.add_argument("--before", type=int, metavar="ID", help="only older than this id")
    parser.add_argument("--json", action="store_true", help="print the server's JSON")


def _add_json(*parsers: argparse.ArgumentParser) -> None:
    for parser in parsers:
        parser.add_argument("--json", action="store_true", help="print the server's JSON")


def _add_rule_config_flags(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument_group(
        "config shortcuts (instead of, or on top of, --config)"
    ).add_argument
    add("--prerequisite", action="append", metavar="ENV", help="flow: repeat in order")
    add("--target", metavar="ENV", help="flow: the environment guarded")
    add("--min-soak-minutes", type=governance.number, metavar="N", help="flow")
    add(
        "--any-order",
        dest="strict_order",
        action="store_false",
        default=None,
        help="flow: prerequisites in any order (strict_order false)",
    )
    add(
        "--approval-type",
        action="append",
        choices=APPROVAL_TYPES,
        help="dr_required, version_approval",
    )
    add("--approval-environment", metavar="ENV", help="version_approval: where sign-offs count")
    add("--schedule-kind", choices=("deny", "allow"), help="schedule (default deny)")
    add("--timezone", help="schedule: IANA name, e.g. Europe/Berlin (default UTC)")
    add("--reason", help="schedule")
    add(
        "--window",
        action="append",
        type=governance.window,
        metavar="START/END",
        help="schedule: local times",
    )
    add("--rrule", help="schedule: RFC 5545, e.g. FREQ=WEEKLY;BYDAY=FR;BYHOUR=17")
    add("--dtstart", help="schedule: local start of the recurrence")
    add("--duration-minutes", type=governance.number, metavar="N", help="schedule: with --rrule")


_RULE_CONFIG = (
    "the rule's config, a JSON object (@FILE reads it, @- from stdin); the settings file "
    "is then given before the command: versioner --config FILE rules ..."
)


def _add_rules(rules: Any, leaf: Leaf) -> None:
    listing = leaf(rules, "list", governance.list_rules, "list rules")
    _add_page_flags(listing)
    show = leaf(rules, "show", governance.show_rule, "one rule and its configuration")
    show.add_argument("rule_id", metavar="ID")
    create = leaf(rules, "create", governance.create_rule, "create a rule", own_config=True)
    create.add_argument("--name", required=True)
    create.add_argument("--type", dest="rule_type", required=True, choices=RULE_TYPES)
    create.add_argument("--mode", choices=RULE_MODES, help="default enabled")
    create.add_argument("--product", action="append", help="repeat; none: every product")
    create.add_argument("--environment", action="append", help="repeat; none: every environment")
    create.add_argument("--config", dest="rule_config", metavar="JSON|@FILE", help=_RULE_CONFIG)
    _add_rule_config_flags(create)
    mode = leaf(rules, "mode", governance.set_rule_mode, "enable, report only or disable")
    mode.add_argument("rule_id", metavar="ID")
    mode.add_argument("mode", choices=RULE_MODES)
    update = leaf(
        rules, "update", governance.update_rule, "change name, scope or config", own_config=True
    )
    update.add_argument("rule_id", metavar="ID")
    update.add_argument("--name")
    update.add_argument("--product", action="append", help="repeat; replaces the list")
    update.add_argument("--all-products", action="store_true", help="scope: every product")
    update.add_argument("--environment", action="append", help="repeat; replaces the list")
    update.add_argument("--all-environments", action="store_true", help="scope: every one")
    update.add_argument(
        "--config", dest="rule_config", metavar="JSON|@FILE", help="replaces it; " + _RULE_CONFIG
    )
    delete = leaf(rules, "delete", governance.delete_rule, "delete a rule")
    delete.add_argument("rule_id", metavar="ID")
    windows = leaf(rules, "windows", governance.rule_windows, "next windows of a schedule rule")
    windows.add_argument("rule_id", metavar="ID")
    windows.add_argument("--count", type=int, help="how many (server default 10)")
    violations = leaf(
        rules, "violations", governance.list_violations, "what rules blocked or let through"
    )
    violations.add_argument("--rule", metavar="ID_OR_NAME")
    violations.add_argument("--product")
    violations.add_argument("--environment")
    violations.add_argument("--since", type=governance.iso_time, help="ISO 8601 time")
    violations.add_argument("--outcome", choices=OUTCOMES)
    _add_page_flags(violations, cursor=True)
    _add_json(show, create, mode, update, delete, windows)


def _add_requests(requests: Any, leaf: Leaf) -> None:
    listing = leaf(requests, "list", deployment_requests.list_requests, "list requests")
    listing.add_argument("--status", choices=REQUEST_STATUSES)
    listing.add_argument("--awaiting-me", action="store_true", help="slots you may decide now")
    _add_page_flags(listing)
    show = leaf(requests, "show", deployment_requests.show_request, "slots, steps and progress")
    show.add_argument("request_id", metavar="ID")
    create = leaf(requests, "create", deployment_requests.create_request, "create a draft")
    create.add_argument("--name", required=True)
    create.add_argument("--description")
    create.add_argument(
        "--item", action="append", type=deployment_requests.item, metavar="PRODUCT@VERSION"
    )
    create.add_argument("--environment", action="append", help="repeat")
    create.add_argument(
        "--slot", action="append", type=deployment_requests.slot, metavar="TYPE[:optional]"
    )
    create.add_argument("--pre-step", action="append", metavar="TEXT", help="repeat, in order")
    create.add_argument("--post-step", action="append", metavar="TEXT", help="repeat, in order")
    moves: list[tuple[RequestAction, str]] = [
        ("submit", "submit a draft for approval"),
        ("revert", "back to draft, clearing decisions and ticks"),
        ("complete", "close an approved request"),
        ("cancel", "cancel a request"),
    ]
    parsers = [show, create]
    for action, help_ in moves:
        move = leaf(requests, action, deployment_requests.mover(action), help_)
        move.add_argument("request_id", metavar="ID")
        parsers.append(move)
    decisions: tuple[Decision, ...] = ("approve", "reject")
    for decision in decisions:
        decide = leaf(
            requests, decision, deployment_requests.decider(decision), f"{decision} a slot"
        )
        decide.add_argument("request_id", metavar="ID")
        decide.add_argument(
            "slot", metavar="SLOT", help="a slot id, or a type: its first pending slot"
        )
        decide.add_argument("--comment")
        parsers.append(decide)
    tick = leaf(requests, "tick", deployment_requests.tick_step, "tick a checklist step")
    tick.add_argument("request_id", metavar="ID")
    tick.add_argument("step", metavar="STEP", help="a step id, pre:N, post:N, or N (pre)")
    _add_json(*parsers, tick)


def _add_approvals(approvals: Any, leaf: Leaf) -> None:
    add = leaf(approvals, "add", governance.add_approval, "sign a version off")
    add.add_argument("--type", dest="approval_type", required=True, choices=APPROVAL_TYPES)
    add.add_argument("--environment", help="where it counts (default: anywhere)")
    add.add_argument("--comment")
    listing = leaf(approvals, "list", governance.list_approvals, "a version's sign-offs")
    revoke = leaf(approvals, "revoke", governance.revoke_approval, "withdraw a sign-off")
    revoke.add_argument("approval_id", metavar="APPROVAL_ID")
    for parser in (add, listing, revoke):
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("--version-id", metavar="ID")
        which.add_argument("--product", help="with --version")
        parser.add_argument("--version", help="with --product")
    _add_json(add, listing, revoke)


def _tracker(kind: str) -> Handler:
    def handler(args: dict[str, Any], settings: Settings) -> int:
        return run_track(kind, args, settings)

    return handler


def _tolerant_streams() -> None:
    # A non-UTF-8 console must not turn an emoji into a crash after the event was sent.
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="replace")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    _tolerant_streams()
    args = vars(build_parser().parse_args(argv))
    if args["command"] == "version":
        say(f"versioner {client_version()}")
        return ExitCode.OK
    handler: Handler = args.pop("handler")
    if args.get("api_key"):
        warn("⚠️ Warning: passing the API key with --api-key shows it in process lists.")
        warn("   Prefer VERSIONER_API_KEY or the config file.")
    try:
        settings = resolve(args, dict(os.environ), Path.home(), Path.cwd())
        return handler(args, settings)
    except UsageError as exc:
        warn(f"Error: {exc}")
        return ExitCode.ERROR
    except KeyboardInterrupt:
        return 130
