"""`versioner rules|requests|approvals|audit`: method, path, query and body; output; exit codes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from tests.support.client import FakeApi, Runner

AT = "2026-05-01T10:00:00Z"
RULE = {
    "id": "r-1",
    "name": "staging before production",
    "rule_type": "flow",
    "mode": "enabled",
    "products": [],
    "environments": ["production"],
    "config": {"prerequisites": ["staging"], "target": "production", "min_soak_minutes": 60},
    "created_by": "ada",
    "created_at": AT,
    "updated_at": AT,
}
WINDOWS = {
    "rule_id": "r-1",
    "kind_of_windows": "deny",
    "windows": [
        {
            "start": "2026-12-22T23:00:00Z",
            "end": "2027-01-01T23:00:00Z",
            "local_start": "2026-12-23T00:00:00",
            "local_end": "2027-01-02T00:00:00",
            "timezone": "Europe/Berlin",
        }
    ],
}
VIOLATION = {
    "id": 12,
    "event_id": "e-1",
    "deployment_id": None,
    "product": "api",
    "version": "1.4.0",
    "environment": "production",
    "rule_id": "r-1",
    "rule_name": "staging before production",
    "rule_type": "flow",
    "code": "FLOW_VIOLATION",
    "message": "1.4.0 must be deployed to staging before production",
    "outcome": "blocked",
    "actor": "ci",
    "at": AT,
}


def slot(slot_id: str, kind: str, status: str = "pending", **decided: Any) -> dict[str, Any]:
    """An approval slot as the API shows it."""
    fields = {"decided_by": None, "decided_role": None, "decided_at": None, "comment": None}
    return {"id": slot_id, "approval_type": kind, "optional": False, "status": status} | (
        fields | decided
    )


def step(step_id: str, text: str, by: str | None = None) -> dict[str, Any]:
    """A checklist step, ticked when `by` is given."""
    return {"id": step_id, "text": text, "completed_by": by, "completed_at": AT if by else None}


def progress(product: str, version: str, environment: str, status: str) -> dict[str, Any]:
    """One product × environment cell of a request."""
    return {
        "product": product,
        "version": version,
        "environment": environment,
        "status": status,
        "deployment_id": None,
    }


REQUEST: dict[str, Any] = {
    "id": "dr-1",
    "name": "release 14",
    "description": "the Q2 release",
    "status": "in_progress",
    "created_by": "ada",
    "items": [{"product": "api", "version": "1.4.0"}, {"product": "web", "version": "2.0"}],
    "environments": ["staging", "production"],
    "approval_slots": [
        slot("s-1", "qa", "approved", decided_by="grace", decided_role="qa", comment="looks good"),
        slot("s-2", "qa"),
        slot("s-3", "security") | {"optional": True},
    ],
    "pre_steps": [step("st-1", "Freeze merges", by="ada"), step("st-2", "Notify support")],
    "post_steps": [step("st-3", "Smoke test")],
    "progress": [
        progress("api", "1.4.0", "staging", "deployed"),
        progress("api", "1.4.0", "production", "in_progress"),
        progress("web", "2.0", "staging", "failed"),
        progress("web", "2.0", "production", "not_deployed"),
    ],
    "created_at": AT,
    "updated_at": AT,
    "submitted_at": AT,
    "closed_at": None,
}
APPROVAL = {
    "id": "a-1",
    "version_id": "v-1",
    "product_name": "api",
    "version": "1.4.0",
    "approval_type": "qa",
    "environment": "staging",
    "comment": "ok",
    "approved_by": "grace",
    "approver_role": "qa",
    "created_at": AT,
    "revoked_at": None,
}
AUDIT = {
    "id": 7,
    "at": AT,
    "actor": "ada",
    "action": "rule.mode_changed",
    "subject_id": "r-1",
    "summary": "staging before production: enabled → report_only",
    "data": {},
}
FREEZE = {"kind": "deny", "windows": [{"start": "2026-12-23T00:00", "end": "2027-01-02T00:00"}]}
FLOW = {"prerequisites": ["test", "staging"], "target": "production", "min_soak_minutes": 60}


@pytest.mark.parametrize(
    ("args", "method", "path", "query", "body", "reply", "shown"),
    [
        (["rules", "list", "--limit", "5"], "GET", "/deployment-rules/", {"limit": ["5"]}, None,
         [RULE], "staging before production"),
        (["rules", "show", "r-1"], "GET", "/deployment-rules/r-1", {}, None, RULE,
         '"min_soak_minutes": 60'),
        (["rules", "create", "--name", "freeze", "--type", "schedule", "--product", "api",
          "--product", "web", "--environment", "production", "--config", json.dumps(FREEZE)],
         "POST", "/deployment-rules/", {},
         {"name": "freeze", "rule_type": "schedule", "mode": "enabled",
          "products": ["api", "web"], "environments": ["production"], "config": FREEZE},
         RULE | {"name": "freeze"}, "'freeze' created"),
        (["rules", "create", "--name", "flow", "--type", "flow", "--prerequisite", "test",
          "--prerequisite", "staging", "--target", "production", "--min-soak-minutes", "60"],
         "POST", "/deployment-rules/", {},
         {"name": "flow", "rule_type": "flow", "mode": "enabled", "products": [],
          "environments": [], "config": FLOW},
         RULE, "created"),
        (["rules", "create", "--name", "dr", "--type", "dr_required", "--mode", "report_only",
          "--approval-type", "qa", "--approval-type", "security"],
         "POST", "/deployment-rules/", {},
         {"name": "dr", "rule_type": "dr_required", "mode": "report_only", "products": [],
          "environments": [], "config": {"approval_types": ["qa", "security"]}},
         RULE, "created"),
        (["rules", "create", "--name", "weekend", "--type", "schedule", "--timezone",
          "Europe/Berlin", "--rrule", "FREQ=WEEKLY;BYDAY=FR", "--duration-minutes", "900",
          "--window", "2026-12-23T00:00/2027-01-02T00:00", "--config", '{"reason": "quiet"}'],
         "POST", "/deployment-rules/", {},
         {"name": "weekend", "rule_type": "schedule", "mode": "enabled", "products": [],
          "environments": [],
          "config": {"reason": "quiet", "timezone": "Europe/Berlin",
                     "windows": [{"start": "2026-12-23T00:00", "end": "2027-01-02T00:00"}],
                     "rrule": "FREQ=WEEKLY;BYDAY=FR", "duration_minutes": 900}},
         RULE, "created"),
        (["rules", "mode", "r-1", "report_only"], "PATCH", "/deployment-rules/r-1", {},
         {"mode": "report_only"}, RULE | {"mode": "report_only"}, "is now report_only"),
        (["rules", "update", "r-1", "--name", "flow 2", "--all-products", "--environment",
          "production", "--config", json.dumps(FLOW)], "PATCH", "/deployment-rules/r-1", {},
         {"name": "flow 2", "products": [], "environments": ["production"], "config": FLOW},
         RULE, "r-1) updated"),
        (["rules", "delete", "r-1"], "DELETE", "/deployment-rules/r-1", {}, None, None,
         "r-1 deleted"),
        (["rules", "windows", "r-1", "--count", "3"], "GET", "/deployment-rules/r-1/windows",
         {"count": ["3"]}, None, WINDOWS, "2026-12-23T00:00:00"),
        (["rules", "violations", "--rule", "r-1", "--product", "api", "--environment", "prod",
          "--since", "2026-05-01T00:00:00Z", "--outcome", "blocked", "--limit", "5",
          "--before", "40"], "GET", "/deployment-rules/violations",
         {"rule": ["r-1"], "product": ["api"], "environment": ["prod"],
          "since": ["2026-05-01T00:00:00Z"], "outcome": ["blocked"], "limit": ["5"],
          "before": ["40"]}, None, [VIOLATION], "FLOW_VIOLATION"),
        (["requests", "list", "--status", "in_progress", "--awaiting-me"], "GET",
         "/deployment-requests/", {"status": ["in_progress"], "awaiting": ["me"]}, None,
         [REQUEST], "api@1.4.0, web@2.0"),
        (["requests", "list"], "GET", "/deployment-requests/", {}, None, [REQUEST],
         "release 14"),
        (["requests", "show", "dr-1"], "GET", "/deployment-requests/dr-1", {}, None, REQUEST,
         "Notify support"),
        (["requests", "create", "--name", "release 14", "--description", "the Q2 release",
          "--item", "api@1.4.0", "--item", "@scope/web@2.0", "--environment", "staging",
          "--environment", "production", "--slot", "qa", "--slot", "security:optional",
          "--pre-step", "Freeze merges", "--pre-step", "Notify support",
          "--post-step", "Smoke test"], "POST", "/deployment-requests/", {},
         {"name": "release 14", "description": "the Q2 release",
          "items": [{"product": "api", "version": "1.4.0"},
                    {"product": "@scope/web", "version": "2.0"}],
          "environments": ["staging", "production"],
          "approval_slots": [{"approval_type": "qa", "optional": False},
                             {"approval_type": "security", "optional": True}],
          "pre_steps": ["Freeze merges", "Notify support"], "post_steps": ["Smoke test"]},
         REQUEST | {"status": "draft"}, "versioner requests submit dr-1"),
        (["requests", "submit", "dr-1"], "POST", "/deployment-requests/dr-1/submit", {}, {},
         REQUEST, "is now in_progress"),
        (["requests", "revert", "dr-1"], "POST", "/deployment-requests/dr-1/revert", {}, {},
         REQUEST | {"status": "draft"}, "reverted to draft"),
        (["requests", "complete", "dr-1"], "POST", "/deployment-requests/dr-1/complete", {}, {},
         REQUEST | {"status": "completed"}, "is now completed"),
        (["requests", "cancel", "dr-1"], "POST", "/deployment-requests/dr-1/cancel", {}, {},
         REQUEST | {"status": "cancelled"}, "is now cancelled"),
        (["requests", "approve", "dr-1", "s-2", "--comment", "fine"], "POST",
         "/deployment-requests/dr-1/slots/s-2/decision", {},
         {"decision": "approve", "comment": "fine"}, REQUEST, "qa slot s-2 approved"),
        (["requests", "reject", "dr-1", "s-3"], "POST",
         "/deployment-requests/dr-1/slots/s-3/decision", {},
         {"decision": "reject", "comment": None}, REQUEST | {"status": "rejected"},
         "security slot s-3 rejected"),
        (["requests", "tick", "dr-1", "st-3"], "POST",
         "/deployment-requests/dr-1/steps/st-3/complete", {}, {}, REQUEST,
         "'Smoke test' ticked"),
        (["approvals", "add", "--version-id", "v-1", "--type", "qa", "--environment", "staging",
          "--comment", "ok"], "POST", "/versions/v-1/approvals", {},
         {"approval_type": "qa", "environment": "staging", "comment": "ok"}, APPROVAL,
         "qa approval of api 1.4.0 in staging recorded"),
        (["approvals", "add", "--product", "product/with/slash", "--version", "1.0+b 2",
          "--type", "security"], "POST", "/versions/product%2Fwith%2Fslash/1.0%2Bb%202/approvals",
         {}, {"approval_type": "security", "environment": None, "comment": None}, APPROVAL,
         "recorded (a-1)"),
        (["approvals", "list", "--version-id", "v-1"], "GET", "/versions/v-1/approvals", {},
         None, [APPROVAL, APPROVAL | {"id": "a-2", "environment": None}], "any"),
        (["approvals", "revoke", "--version-id", "v-1", "a-1"], "DELETE",
         "/versions/v-1/approvals/a-1", {}, None, APPROVAL | {"revoked_at": AT},
         "revoked (a-1)"),
        (["approvals", "list", "--product", "org/api", "--version", "1.0+b"], "GET",
         "/versions/org%2Fapi/1.0%2Bb/approvals", {}, None, [APPROVAL], "qa"),
        (["approvals", "revoke", "--product", "org/api", "--version", "1.0+b", "a-1"], "DELETE",
         "/versions/org%2Fapi/1.0%2Bb/approvals/a-1", {}, None, APPROVAL | {"revoked_at": AT},
         "revoked (a-1)"),
        (["audit", "--since", "2026-05-01", "--kind", "rule.", "--actor", "ada", "--limit", "2",
          "--before", "9"], "GET", "/audit/",
         {"since": ["2026-05-01"], "kind": ["rule."], "actor": ["ada"], "limit": ["2"],
          "before": ["9"]}, None, [AUDIT], "enabled → report_only"),
    ],
)  # fmt: skip
def test_command_calls_the_api(
    cli: Runner,
    api: FakeApi,
    args: list[str],
    method: str,
    path: str,
    query: dict[str, list[str]],
    body: Any,
    reply: Any,
    shown: str,
) -> None:
    api.reply(204 if reply is None else 200, reply)
    result = cli(*args)
    assert result.code == 0, result.stderr
    (request,) = api.requests
    assert (request.method, request.path, request.query, request.body) == (
        method,
        path,
        query,
        body,
    )
    assert request.headers["authorization"].startswith("Bearer sk_local_")
    assert shown in result.stdout


def test_approving_a_type_reads_the_request_for_its_first_pending_slot(
    cli: Runner, api: FakeApi
) -> None:
    api.reply(200, REQUEST)
    api.reply(200, REQUEST)
    result = cli("requests", "approve", "dr-1", "qa", "--comment", "tested")
    assert result.code == 0, result.stderr
    read, decide = api.requests
    assert (read.method, read.path) == ("GET", "/deployment-requests/dr-1")
    # s-1 is the first qa slot but it is decided already.
    assert (decide.method, decide.path, decide.body) == (
        "POST",
        "/deployment-requests/dr-1/slots/s-2/decision",
        {"decision": "approve", "comment": "tested"},
    )


def test_a_type_without_a_pending_slot_sends_no_decision(cli: Runner, api: FakeApi) -> None:
    api.reply(200, REQUEST)
    result = cli("requests", "reject", "dr-1", "uat")
    assert result.code == 1
    assert "no pending uat slot" in result.stderr
    assert [r.method for r in api.requests] == ["GET"]


@pytest.mark.parametrize(
    ("step_arg", "step_id"), [("2", "st-2"), ("pre:1", "st-1"), ("post:1", "st-3")]
)
def test_a_step_number_is_resolved_from_the_request(
    cli: Runner, api: FakeApi, step_arg: str, step_id: str
) -> None:
    api.reply(200, REQUEST)
    api.reply(200, REQUEST)
    result = cli("requests", "tick", "dr-1", step_arg)
    assert result.code == 0, result.stderr
    read, tick = api.requests
    assert (read.method, read.path) == ("GET", "/deployment-requests/dr-1")
    assert (tick.method, tick.path) == (
        "POST",
        f"/deployment-requests/dr-1/steps/{step_id}/complete",
    )


def test_a_step_number_out_of_range_exits_1(cli: Runner, api: FakeApi) -> None:
    api.reply(200, REQUEST)
    result = cli("requests", "tick", "dr-1", "post:2")
    assert result.code == 1
    assert "1 post-deploy step" in result.stderr
    assert len(api.requests) == 1


def test_show_renders_slots_steps_and_the_progress_grid(cli: Runner, api: FakeApi) -> None:
    api.reply(200, REQUEST)
    result = cli("requests", "show", "dr-1")
    assert result.code == 0, result.stderr
    lines = result.stdout.splitlines()
    grid = lines.index(next(line for line in lines if line.startswith("PRODUCT")))
    assert lines[grid].split() == ["PRODUCT", "VERSION", "staging", "production"]
    assert lines[grid + 1].split() == ["api", "1.4.0", "✅", "🟡"]
    assert lines[grid + 2].split() == ["web", "2.0", "🔴", "❌"]
    assert "✅ deployed" in lines[grid + 3]
    # Emoji take two columns: the production column starts at the same place on every row.
    starts = {
        line.index(mark) for line, mark in zip(lines[grid + 1 : grid + 3], "🟡❌", strict=True)
    }
    assert len(starts) == 1
    slot_line = next(line for line in lines if " s-1 " in line)
    assert slot_line.split()[:4] == ["✅", "s-1", "qa", "approved"]
    assert "looks good" in slot_line
    assert "security (optional)" in result.stdout
    step_line = next(line for line in lines if line.startswith("pre:1"))
    assert "Freeze merges" in step_line
    assert "ada" in step_line
    assert "items:        api@1.4.0, web@2.0" in result.stdout


@pytest.mark.parametrize(
    ("args", "reply"),
    [
        (["rules", "list", "--json"], [RULE]),
        (["rules", "show", "r-1", "--json"], RULE),
        (["rules", "mode", "r-1", "disabled", "--json"], RULE),
        (["rules", "windows", "r-1", "--json"], WINDOWS),
        (["rules", "violations", "--json"], [VIOLATION]),
        (["requests", "list", "--json"], [REQUEST]),
        (["requests", "show", "dr-1", "--json"], REQUEST),
        (["requests", "submit", "dr-1", "--json"], REQUEST),
        (["requests", "approve", "dr-1", "s-2", "--json"], REQUEST),
        (["approvals", "add", "--version-id", "v-1", "--type", "qa", "--json"], APPROVAL),
        (["approvals", "list", "--version-id", "v-1", "--json"], [APPROVAL]),
        (["audit", "--json"], [AUDIT]),
    ],
)
def test_json_output_is_the_servers(cli: Runner, api: FakeApi, args: list[str], reply: Any) -> None:
    api.reply(200, reply)
    result = cli(*args)
    assert result.code == 0, result.stderr
    assert json.loads(result.stdout) == reply


@pytest.mark.parametrize(
    ("args", "status", "detail"),
    [
        (["rules", "create", "--name", "x", "--type", "flow", "--config", "{}"], 422,
         [{"loc": ["body", "config", "target"], "msg": "Field required", "type": "missing"}]),
        (["rules", "show", "r-9"], 404, "Not found"),
        (["requests", "submit", "dr-1"], 409, "a completed request cannot be submitted"),
        (["requests", "approve", "dr-1", "s-1"], 403,
         "You do not have permission to perform this action"),
        (["approvals", "add", "--product", "api", "--version", "9", "--type", "qa"], 404,
         "Not found"),
        (["approvals", "revoke", "--version-id", "v-1", "a-1"], 404, "Not found"),
        (["audit"], 403, "You do not have permission to perform this action"),
    ],
)  # fmt: skip
def test_api_errors_exit_4_with_the_detail(
    cli: Runner, api: FakeApi, args: list[str], status: int, detail: Any
) -> None:
    api.reply(status, {"detail": detail})
    result = cli(*args)
    assert result.code == 4
    expected = "body.config.target: Field required" if isinstance(detail, list) else detail
    assert f"HTTP {status}" in result.stderr
    assert expected in result.stderr
    assert len(api.requests) == 1


def test_server_errors_exit_1_after_retries(cli: Runner, api: FakeApi) -> None:
    api.reply(503, {"detail": "busy"}, times=4)
    assert cli("requests", "list").code == 1
    assert len(api.requests) == 4


def test_rule_config_from_a_file_with_the_settings_file_before_the_command(
    cli: Runner, api: FakeApi, tmp_path: Path
) -> None:
    config = tmp_path / "flow.json"
    config.write_text(json.dumps(FLOW), encoding="utf-8")
    settings = tmp_path / "settings.yaml"
    settings.write_text("api_key: sk_from_the_settings_file\n", encoding="utf-8")
    api.reply(201, RULE)
    result = cli(
        "--config",
        str(settings),
        "rules",
        "create",
        "--name",
        "flow",
        "--type",
        "flow",
        "--config",
        f"@{config}",
        "--target",
        "prod",
        env={"VERSIONER_API_KEY": ""},
    )
    assert result.code == 0, result.stderr
    (request,) = api.requests
    assert request.body["config"] == FLOW | {"target": "prod"}
    assert request.headers["authorization"] == "Bearer sk_from_the_settings_file"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["rules", "create", "--name", "x", "--type", "flow"], "give --config"),
        (["rules", "create", "--name", "x", "--type", "schedule", "--target", "prod"],
         "--target applies to flow rules"),
        (["rules", "create", "--name", "x", "--type", "flow", "--config", "[1]"],
         "must be a JSON object"),
        (["rules", "create", "--name", "x", "--type", "flow", "--config", "{nope"],
         "not valid JSON"),
        (["rules", "create", "--name", "x", "--type", "flow", "--config", "@/nonexistent.json"],
         "cannot read"),
        (["rules", "create", "--name", "x", "--type", "nightly", "--config", "{}"], "invalid"),
        (["rules", "update", "r-1"], "give at least one"),
        (["rules", "mode", "r-1", "sometimes"], "invalid choice"),
        (["rules", "violations", "--since", "yesterday"], "not an ISO 8601 time"),
        (["requests", "create", "--name", "x", "--item", "api"], "PRODUCT@VERSION"),
        (["requests", "create", "--name", "x", "--slot", "qa:maybe"], "TYPE:optional"),
        (["requests", "create", "--name", "x", "--slot", "legal"], "unknown approval type"),
        (["requests", "list", "--status", "open"], "invalid choice"),
        (["approvals", "add", "--product", "api", "--type", "qa"], "--product P --version V"),
        (["approvals", "add", "--version-id", "v-1", "--product", "api", "--type", "qa"],
         "not allowed with"),
        (["approvals", "add", "--version-id", "v-1", "--version", "1", "--type", "qa"],
         "--version goes with --product"),
        (["approvals", "add", "--version-id", "v-1", "--type", "legal"], "invalid choice"),
        (["approvals", "list"], "--version-id"),
        (["approvals", "list", "--product", "api"], "--product P --version V"),
        (["approvals", "revoke", "--version-id", "v-1", "--version", "1", "a-1"],
         "--version goes with --product"),
    ],
)  # fmt: skip
def test_bad_arguments_exit_1_without_a_request(
    cli: Runner, api: FakeApi, args: list[str], message: str
) -> None:
    result = cli(*args)
    assert result.code == 1
    assert message in result.stderr
    assert api.requests == []


def test_governance_commands_need_a_key(cli: Runner, api: FakeApi) -> None:
    result = cli("rules", "list", env={"VERSIONER_API_KEY": ""})
    assert result.code == 1
    assert "API key" in result.stderr
    assert api.requests == []
