"""The platform team's commands: right method, path and body; output; exit codes."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from tests.support.client import FakeApi, Runner

USER = {
    "id": "u-1",
    "name": "Ada",
    "email": "ada@example.com",
    "role": "sre",
    "slack_user_id": None,
    "active": True,
}


@pytest.mark.parametrize(
    ("args", "method", "path", "body", "reply", "shown"),
    [
        (["events", "show", "evt-1"], "GET", "/events/evt-1", None,
         {"status": "recorded", "record_id": "dep-1"}, "recorded"),
        (["deployments", "abort", "dep-1"], "POST", "/deployments/dep-1/abort", {},
         {"id": "dep-1", "status": "aborted"}, "dep-1 aborted"),
        (["products", "list"], "GET", "/products/", None,
         [{"id": "p-1", "name": "api"}], "api"),
        (["products", "rename", "p-1", "api-v2"], "PATCH", "/products/p-1", {"name": "api-v2"},
         {"id": "p-1", "name": "api-v2"}, "api-v2"),
        (["environments", "list"], "GET", "/environments/", None,
         [{"id": "e-1", "name": "prod-eu", "type": "production"}], "production"),
        (["environments", "rename", "e-1", "prod"], "PATCH", "/environments/e-1", {"name": "prod"},
         {"id": "e-1", "name": "prod"}, "prod"),
        (["admin", "users", "list"], "GET", "/users/", None, [USER], "ada@example.com"),
        (["admin", "users", "create", "--name", "Ada", "--email", "ada@example.com",
          "--role", "sre", "--slack-user-id", "U123"], "POST", "/users/",
         {"name": "Ada", "email": "ada@example.com", "role": "sre", "slack_user_id": "U123"},
         USER | {"invite_token": "inv_abc"}, "versioner redeem inv_abc"),
        (["admin", "users", "update", "u-1", "--role", "admin", "--active", "false"], "PATCH",
         "/users/u-1", {"role": "admin", "active": False}, USER, "u-1 updated"),
        (["admin", "api-keys", "list"], "GET", "/api-keys/", None,
         [{"id": "k-1", "name": "ci", "created_at": "2026-01-01T00:00:00Z",
           "last_used_at": None}], "ci"),
        (["admin", "api-keys", "create", "ci"], "POST", "/api-keys/", {"name": "ci"},
         {"id": "k-1", "name": "ci", "key": "sk_local_k1_secret"}, "sk_local_k1_secret"),
        (["admin", "api-keys", "revoke", "k-1"], "DELETE", "/api-keys/k-1", None, None,
         "k-1 revoked"),
        (["token", "rotate"], "POST", "/users/me/token", {}, {"token": "pat_new"}, "pat_new"),
    ],
)  # fmt: skip
def test_command_calls_the_api(
    cli: Runner,
    api: FakeApi,
    args: list[str],
    method: str,
    path: str,
    body: Any,
    reply: Any,
    shown: str,
) -> None:
    api.reply(204 if reply is None else 200, reply)
    result = cli(*args)
    assert result.code == 0, result.stderr
    (request,) = api.requests
    assert (request.method, request.path, request.body) == (method, path, body)
    assert request.headers["authorization"].startswith("Bearer sk_local_")
    assert shown in result.stdout


def test_redeem_needs_no_credentials(cli: Runner, api: FakeApi) -> None:
    api.reply(200, {"token": "pat_personal"})
    result = cli("redeem", "inv_abc", env={"VERSIONER_API_KEY": ""})
    assert result.code == 0
    assert result.stdout.strip() == "pat_personal"
    (request,) = api.requests
    assert (request.method, request.path, request.body) == (
        "POST",
        "/users/redeem",
        {"invite_token": "inv_abc"},
    )
    assert "authorization" not in request.headers


def test_deployments_list_passes_filters(cli: Runner, api: FakeApi) -> None:
    row = {
        "id": "dep-1",
        "product_name": "api",
        "environment_name": "prod",
        "version": "1.4.0",
        "status": "completed",
        "deployed_at": "2026-05-01T10:00:00Z",
        "deployed_by": "grace",
    }
    api.reply(200, [row])
    args = ("--product", "api", "--environment", "prod", "--status", "completed", "--limit", "5")
    result = cli("deployments", "list", *args)
    assert result.code == 0
    assert api.requests[0].path == "/deployments/"
    assert api.requests[0].query == {
        "product": ["api"],
        "environment": ["prod"],
        "status": ["completed"],
        "limit": ["5"],
    }
    header, line = result.stdout.splitlines()
    assert header.split() == [
        "ID",
        "PRODUCT",
        "ENVIRONMENT",
        "VERSION",
        "STATUS",
        "DEPLOYED",
        "AT",
        "BY",
    ]
    assert line.split() == list(row.values())


def cell(version: str | None, latest: dict[str, str] | None = None) -> dict[str, Any]:
    """One `/state/` cell."""
    return {
        "version": version,
        "deployment_id": "d",
        "deployed_at": None,
        "deployed_by": None,
        "status": "completed",
        "latest": latest,
    }


STATE = {
    "environments": [
        {"name": "staging", "type": "staging"},
        {"name": "prod", "type": "production"},
    ],
    "products": [
        {
            "product": "api",
            "product_id": "p-1",
            "drift": True,
            "cells": {"staging": cell("1.4.0"), "prod": cell("1.3.0")},
        },
        {
            "product": "web",
            "product_id": "p-2",
            "drift": False,
            "cells": {
                "staging": cell("2.0", {"version": "2.1", "status": "failed", "deployment_id": "x"})
            },
        },
    ],
}


def test_state_table_marks_drift(cli: Runner, api: FakeApi) -> None:
    api.reply(200, STATE)
    result = cli("state", "--products", "api,web", "--environments", "staging,prod")
    assert result.code == 0
    assert api.requests[0].path == "/state/"
    assert api.requests[0].query == {"products": ["api,web"], "environments": ["staging,prod"]}
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["PRODUCT", "staging", "prod"]
    assert lines[1].split() == ["*", "api", "1.4.0", "1.3.0"]
    assert lines[2].split() == ["web", "2.0", "(2.1", "failed)", "-"]
    assert "* drift" in result.stdout


def test_state_json_is_raw(cli: Runner, api: FakeApi) -> None:
    api.reply(200, STATE)
    result = cli("state", "--json")
    assert json.loads(result.stdout) == STATE
    assert api.requests[0].query == {}


@pytest.mark.parametrize(
    ("status", "detail"),
    [
        (403, "You do not have permission to perform this action"),
        (409, "demoting the last admin is not allowed"),
        (404, "Not found"),
    ],
)
def test_api_errors_exit_4_with_detail(cli: Runner, api: FakeApi, status: int, detail: str) -> None:
    api.reply(status, {"detail": detail})
    result = cli("admin", "users", "update", "u-1", "--role", "viewer")
    assert result.code == 4
    assert detail in result.stderr


def test_server_errors_exit_1_after_retries(cli: Runner, api: FakeApi) -> None:
    api.reply(500, {"detail": "boom"}, times=4)
    assert cli("products", "list").code == 1
    assert len(api.requests) == 4


def test_network_failure_exits_1(cli: Runner, unused_url: str) -> None:
    assert cli("state", env={"VERSIONER_API_URL": unused_url}).code == 1


@pytest.mark.parametrize(
    "args",
    [
        ["admin", "users", "update", "u-1"],
        ["admin", "users", "update", "u-1", "--active", "sometimes"],
        ["admin", "users", "create", "--name", "Ada"],
        ["products", "rename", "p-1"],
        ["admin"],
        ["nonsense"],
    ],
)
def test_bad_arguments_exit_1(cli: Runner, api: FakeApi, args: list[str]) -> None:
    assert cli(*args).code == 1
    assert api.requests == []


def test_commands_need_a_key(cli: Runner, api: FakeApi) -> None:
    result = cli("products", "list", env={"VERSIONER_API_KEY": ""})
    assert result.code == 1
    assert api.requests == []
