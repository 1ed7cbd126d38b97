"""The platform team's commands: state, events, deployments, catalog, users, keys, tokens."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from versioner.client.client import VersionerClient
from versioner.client.errors import ApiError, NetworkError
from versioner.client.report import say, warn
from versioner.client.settings import ExitCode, Settings, UsageError, client_for, parse_bool

Args = Mapping[str, Any]
Handler = Callable[[Args, Settings], int]


def call_api(
    settings: Settings, call: Callable[[VersionerClient], int], *, needs_key: bool = True
) -> int:
    """Run `call` with a client; network and API errors become exit codes 1 and 4."""
    if needs_key and not settings.api_key:
        raise UsageError("an API key or personal token is required: set VERSIONER_API_KEY")
    try:
        with client_for(settings) as client:
            return call(client)
    except NetworkError as exc:
        warn(f"Error: {exc}")
        return ExitCode.ERROR
    except ApiError as exc:
        if exc.retryable:
            warn(f"Error: the API answered HTTP {exc.status_code} after every retry: {exc.message}")
            return ExitCode.ERROR
        warn(f"API error (HTTP {exc.status_code}): {exc.message}")
        return ExitCode.API_ERROR


def dump_json(data: object) -> int:
    """Print the server's JSON as it came (`--json`)."""
    say(json.dumps(data, indent=2, ensure_ascii=False))
    return ExitCode.OK


def cell_text(value: object) -> str:
    """How a table shows a value: `-` for nothing, yes/no for booleans."""
    if value is None or value == "":
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _width(text: str) -> int:
    # Emoji such as ✅ take two columns in a terminal; variation selectors take none.
    return sum(
        0
        if unicodedata.category(c) in ("Mn", "Me", "Cf")
        else 2
        if unicodedata.east_asian_width(c) in ("W", "F")
        else 1
        for c in text
    )


def print_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """Print rows as left-aligned columns under upper-case headers."""
    cells = [[cell_text(v) for v in row] for row in rows]
    widths = [max([_width(h), *(_width(r[i]) for r in cells)]) for i, h in enumerate(headers)]
    for row in [list(headers), *cells]:
        padded = (c + " " * (w - _width(c)) for c, w in zip(row, widths, strict=True))
        say("  ".join(padded).rstrip())


def split_names(value: object) -> list[str]:
    """A comma-separated flag (`--environment a,b`) as its names, blanks dropped."""
    return [p.strip() for p in value.split(",") if p.strip()] if isinstance(value, str) else []


def show_state(args: Args, settings: Settings) -> int:
    """`versioner state`: the product-by-environment matrix, `*` marking drift."""

    def call(client: VersionerClient) -> int:
        state = client.state(
            split_names(args.get("products")), split_names(args.get("environments"))
        )
        if args.get("json"):
            return dump_json(state)
        envs = [e["name"] for e in state["environments"]]
        rows = []
        for product in state["products"]:
            row: list[object] = [("* " if product["drift"] else "  ") + product["product"]]
            for env in envs:
                cell = product["cells"].get(env)
                text = cell["version"] if cell else None
                latest = cell.get("latest") if cell else None
                if latest:
                    text = f"{text or '-'} ({latest['version']} {latest['status']})"
                row.append(text)
            rows.append(row)
        if not rows:
            say("No deployments yet.")
            return ExitCode.OK
        print_table(["  PRODUCT", *envs], rows)
        if any(p["drift"] for p in state["products"]):
            say()
            say("* drift: the environments shown run different versions")
        return ExitCode.OK

    return call_api(settings, call)


def show_event(args: Args, settings: Settings) -> int:
    """`versioner events show ID`: what became of an event."""

    def call(client: VersionerClient) -> int:
        event = client.get_event(args["event_id"])
        if args.get("json"):
            return dump_json(event)
        for key, value in event.items():
            shown = (
                json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) else value
            )
            say(f"{key}: {cell_text(shown)}")
        return ExitCode.OK

    return call_api(settings, call)


def list_deployments(args: Args, settings: Settings) -> int:
    """`versioner deployments list`."""

    def call(client: VersionerClient) -> int:
        deployments = client.list_deployments(
            product=args.get("product"),
            environment=args.get("environment"),
            status=args.get("status"),
            limit=args.get("limit"),
        )
        if args.get("json"):
            return dump_json(deployments)
        keys = ("id", "product_name", "environment_name", "version", "status", "deployed_at")
        headers = ["ID", "PRODUCT", "ENVIRONMENT", "VERSION", "STATUS", "DEPLOYED AT", "BY"]
        rows = [[d.get(k) for k in (*keys, "deployed_by")] for d in deployments]
        print_table(headers, rows)
        return ExitCode.OK

    return call_api(settings, call)


def abort_deployment(args: Args, settings: Settings) -> int:
    """`versioner deployments abort ID`."""

    def call(client: VersionerClient) -> int:
        deployment = client.abort_deployment(args["deployment_id"])
        say(f"✓ Deployment {deployment.get('id', args['deployment_id'])} aborted")
        return ExitCode.OK

    return call_api(settings, call)


def list_products(args: Args, settings: Settings) -> int:
    """`versioner products list`."""

    def call(client: VersionerClient) -> int:
        products = client.list_products()
        if args.get("json"):
            return dump_json(products)
        print_table(["ID", "NAME"], [[p["id"], p["name"]] for p in products])
        return ExitCode.OK

    return call_api(settings, call)


def rename_product(args: Args, settings: Settings) -> int:
    """`versioner products rename ID NEW_NAME`."""

    def call(client: VersionerClient) -> int:
        product = client.rename_product(args["record_id"], args["new_name"])
        say(f"✓ Product {product.get('id', args['record_id'])} is now {args['new_name']!r}")
        return ExitCode.OK

    return call_api(settings, call)


def list_environments(args: Args, settings: Settings) -> int:
    """`versioner environments list`."""

    def call(client: VersionerClient) -> int:
        environments = client.list_environments()
        if args.get("json"):
            return dump_json(environments)
        rows = [[e["id"], e["name"], e.get("type")] for e in environments]
        print_table(["ID", "NAME", "TYPE"], rows)
        return ExitCode.OK

    return call_api(settings, call)


def rename_environment(args: Args, settings: Settings) -> int:
    """`versioner environments rename ID NEW_NAME`."""

    def call(client: VersionerClient) -> int:
        env = client.rename_environment(args["record_id"], args["new_name"])
        say(f"✓ Environment {env.get('id', args['record_id'])} is now {args['new_name']!r}")
        return ExitCode.OK

    return call_api(settings, call)


def list_users(args: Args, settings: Settings) -> int:
    """`versioner admin users list`."""

    def call(client: VersionerClient) -> int:
        users = client.list_users()
        if args.get("json"):
            return dump_json(users)
        keys = ("id", "name", "email", "role", "active", "slack_user_id")
        print_table(
            ["ID", "NAME", "EMAIL", "ROLE", "ACTIVE", "SLACK"],
            [[u.get(k) for k in keys] for u in users],
        )
        return ExitCode.OK

    return call_api(settings, call)


def create_user(args: Args, settings: Settings) -> int:
    """`versioner admin users create`: prints the invite token the new user redeems."""

    def call(client: VersionerClient) -> int:
        user = client.create_user(
            args["name"], args["email"], args["role"], args.get("slack_user_id")
        )
        say(f"✓ User {user['id']} created ({user.get('role', args['role'])})")
        say(f"  Invite token (one use, 24 h): {user['invite_token']}")
        say(f"  They run: versioner redeem {user['invite_token']}")
        return ExitCode.OK

    return call_api(settings, call)


def update_user(args: Args, settings: Settings) -> int:
    """`versioner admin users update ID`: changes only the given fields."""
    active_text = args.get("active")
    active = parse_bool(active_text, "--active") if active_text is not None else None
    fields = {k: args.get(k) for k in ("role", "email", "slack_user_id")}
    if active is None and not any(fields.values()):
        raise UsageError("give at least one of --role, --email, --slack-user-id, --active")

    def call(client: VersionerClient) -> int:
        user = client.update_user(
            args["user_id"],
            role=fields["role"],
            email=fields["email"],
            slack_user_id=fields["slack_user_id"],
            active=active,
        )
        say(f"✓ User {user.get('id', args['user_id'])} updated")
        return ExitCode.OK

    return call_api(settings, call)


def list_api_keys(args: Args, settings: Settings) -> int:
    """`versioner admin api-keys list` (never shows secrets)."""

    def call(client: VersionerClient) -> int:
        keys = client.list_api_keys()
        if args.get("json"):
            return dump_json(keys)
        rows = [[k["id"], k["name"], k.get("created_at"), k.get("last_used_at")] for k in keys]
        print_table(["ID", "NAME", "CREATED", "LAST USED"], rows)
        return ExitCode.OK

    return call_api(settings, call)


def create_api_key(args: Args, settings: Settings) -> int:
    """`versioner admin api-keys create NAME`: prints the key, shown this once."""

    def call(client: VersionerClient) -> int:
        key = client.create_api_key(args["name"])
        warn(f"✓ API key {key['id']} ({key['name']}) created; it is shown only this once:")
        say(key["key"])
        return ExitCode.OK

    return call_api(settings, call)


def revoke_api_key(args: Args, settings: Settings) -> int:
    """`versioner admin api-keys revoke ID`."""

    def call(client: VersionerClient) -> int:
        client.revoke_api_key(args["key_id"])
        say(f"✓ API key {args['key_id']} revoked")
        return ExitCode.OK

    return call_api(settings, call)


def redeem(args: Args, settings: Settings) -> int:
    """`versioner redeem INVITE_TOKEN`: prints the personal token (no credentials needed)."""

    def call(client: VersionerClient) -> int:
        token = client.redeem_invite(args["invite_token"])
        warn("✓ Your personal token, shown only this once (keep it in VERSIONER_API_KEY):")
        say(token["token"])
        return ExitCode.OK

    return call_api(replace(settings, api_key=None), call, needs_key=False)


def rotate_token(args: Args, settings: Settings) -> int:
    """`versioner token rotate`: prints the new personal token; the old one stops working."""

    def call(client: VersionerClient) -> int:
        token = client.rotate_token()
        warn("✓ Token rotated; the old one no longer works. The new one, shown only this once:")
        say(token["token"])
        return ExitCode.OK

    return call_api(settings, call)
