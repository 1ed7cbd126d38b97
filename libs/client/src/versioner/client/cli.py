"""The `versioner` command line, compatible with Versioner's Go CLI.

Settings, highest first: flags; then environment variables and the config file
(`--config`, else `~/.versioner/config.yaml`, else `./config.yaml`; keys `api_key`, `api_url`,
`ui_url`, `fail_on_api_error`, and any event field such as `product`); then CI
auto-detection; then defaults.

- `VERSIONER_API_URL`: default `http://127.0.0.1:8000`, where a self-hosted ingest listens out
  of the box (Versioner's hosted `https://api.versioner.io` makes no sense here).
- `VERSIONER_API_KEY`: an API key (`sk_…`) or a personal token (`pat_…`).
- `VERSIONER_UI_URL`: base of the links printed and put in job summaries; default the API URL,
  since the dashboard is served by the same process.
- `VERSIONER_FAIL_ON_API_ERROR`: default `true`.
- `VERSIONER_PRODUCT`, `VERSIONER_VERSION`, `VERSIONER_ENVIRONMENT`, and `VERSIONER_<FIELD>`
  for every other event flag (`VERSIONER_SCM_SHA`, `VERSIONER_DEPLOY_URL`, …), as viper does.
- `VERSIONER_RETRY_DELAYS`: seconds to wait before each retry of a network error, 5xx or 429,
  comma-separated, default `1,2,4` (four attempts); `0,0,0` for tests, empty for no retry.

Exit codes: 0 recorded or accepted; 1 bad arguments or configuration, network failure, 5xx/429
after retries; 2 `track build` failed; 4 another API error; 5 deployment blocked by policy.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from versioner.client import commands
from versioner.client.client import client_version
from versioner.client.report import say, warn
from versioner.client.settings import ExitCode, Settings, UsageError, resolve
from versioner.client.track import run_track

Handler = Callable[[dict[str, Any], Settings], int]


class _Parser(argparse.ArgumentParser):
    """argparse exits 2 on bad usage; Versioner's CLI exits 1."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(ExitCode.ERROR, f"{self.prog}: error: {message}\n")


def _global_options() -> _Parser:
    # Defaults are SUPPRESS so a global flag given before the command survives the subparser.
    opts = _Parser(add_help=False, argument_default=argparse.SUPPRESS)
    opts.add_argument("--api-url", help="Versioner API URL (env VERSIONER_API_URL)")
    opts.add_argument("--api-key", help="API key; prefer VERSIONER_API_KEY (flags show in ps)")
    opts.add_argument("--ui-url", help="base URL for links (env VERSIONER_UI_URL)")
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
    root = _Parser(prog="versioner", parents=[opts], description="Track builds and deployments.")
    commands_ = root.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def leaf(group: Any, name: str, handler: Handler, help_: str) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = group.add_parser(name, parents=[opts], help=help_)
        parser.set_defaults(handler=handler)
        return parser

    def branch(group: Any, name: str, help_: str) -> Any:
        parser = group.add_parser(name, parents=[opts], help=help_)
        return parser.add_subparsers(dest=f"{name}_command", metavar="COMMAND", required=True)

    track = branch(commands_, "track", "send a build or deployment event")
    for kind in ("build", "deployment"):
        parser = leaf(track, kind, _tracker(kind), f"track a {kind} event")
        _add_event_flags(parser, kind)
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
    return root


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
