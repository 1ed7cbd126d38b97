"""Deployment Rules over HTTP: CRUD and who may do it, bad configs, the windows preview, the
violations log, and what a deployment sees (the 428 as Versioner's Action parses it, the
report-only 200)."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest

from tests.support.databases import sqlite_url
from tests.support.flows import FORBIDDEN, NOT_FOUND, ROLES, deploy_body, is_utc
from tests.support.stack import Stack, memory_stack
from versioner.policy.store.clock import FrozenClock

RULE_MANAGERS = ("admin", "release_manager", "sre")
FLOW_NAME = "staging before production"
# Christmas freeze, local times in Berlin (CET, UTC+1).
FREEZE = {
    "kind": "deny",
    "timezone": "Europe/Berlin",
    "reason": "Christmas freeze",
    "windows": [{"start": "2026-12-23T00:00", "end": "2027-01-02T00:00"}],
}
IN_THE_FREEZE = datetime(2026, 12, 24, 12, 0, tzinfo=UTC)
RULE_FIELDS = {
    "id",
    "name",
    "rule_type",
    "mode",
    "products",
    "environments",
    "config",
    "created_by",
    "created_at",
    "updated_at",
}


def flow(name: str = FLOW_NAME, **config: Any) -> dict[str, Any]:
    """A flow rule guarding production behind staging."""
    return {
        "name": name,
        "rule_type": "flow",
        "config": {"prerequisites": ["staging"], "target": "production", **config},
    }


def freeze(name: str = "christmas freeze", **config: Any) -> dict[str, Any]:
    """A one-time deny window over Christmas."""
    return {"name": name, "rule_type": "schedule", "config": {**FREEZE, **config}}


async def create_rule(
    stack: Stack, body: dict[str, Any], headers: dict[str, str] | None = None
) -> dict[str, Any]:
    """POST a rule (as the admin by default); it must be created."""
    response = await stack.http.post(
        "/deployment-rules/", json=body, headers=headers or stack.admin
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def deploy(stack: Stack, headers: dict[str, str], **fields: Any) -> httpx.Response:
    """Send a deployment event (a start by default)."""
    return await stack.http.post("/deployment-events/", json=deploy_body(**fields), headers=headers)


async def completed_in(stack: Stack, headers: dict[str, str], environment: str) -> None:
    """Start and complete api 1.0.0 in an environment."""
    for status in ("started", "completed"):
        response = await deploy(stack, headers, environment_name=environment, status=status)
        assert response.status_code == 200, response.text


@pytest.fixture
async def frozen(tmp_path: Path) -> AsyncIterator[tuple[Stack, FrozenClock]]:
    """The stack on SQLite, policy's clock frozen in the middle of the Christmas freeze."""
    clock = FrozenClock(IN_THE_FREEZE)
    async with memory_stack(sqlite_url(tmp_path), clock=clock) as running:
        yield running, clock


@pytest.fixture
async def frozen_now(tmp_path: Path) -> AsyncIterator[tuple[Stack, FrozenClock]]:
    """The stack on SQLite, policy's clock frozen at the wall clock's present (to move it on).

    Soak counts from ingest's receipt time of the completion, which is the wall clock's.
    """
    clock = FrozenClock(datetime.now(UTC))
    async with memory_stack(sqlite_url(tmp_path), clock=clock) as running:
        yield running, clock


# Creating ----------------------------------------------------------------------------------


@pytest.mark.databases("sqlite")
async def test_create_answers_201_with_the_rule(stack: Stack) -> None:
    response = await stack.http.post(
        "/deployment-rules/",
        json={**flow(min_soak_minutes=0.5), "products": ["api", "api"], "environments": []},
        headers=stack.admin,
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == RULE_FIELDS
    UUID(body["id"])
    assert body["name"] == FLOW_NAME
    assert body["rule_type"] == "flow"
    assert body["mode"] == "enabled"
    assert body["products"] == ["api"]
    assert body["environments"] == []
    assert body["config"] == {
        "prerequisites": ["staging"],
        "target": "production",
        "strict_order": True,
        "min_soak_minutes": 0.5,
    }
    assert body["created_by"] == "user:admin"
    assert is_utc(body["created_at"])
    assert body["updated_at"] == body["created_at"]


@pytest.mark.databases("sqlite")
async def test_create_answers_with_and_without_a_slash(stack: Stack) -> None:
    for path in ("/deployment-rules", "/deployment-rules/"):
        response = await stack.http.post(path, json=flow(f"created at {path}"), headers=stack.admin)
        assert response.status_code == 201, response.text


@pytest.mark.databases("sqlite")
async def test_only_admin_release_manager_and_sre_manage_rules(stack: Stack) -> None:
    for role in ROLES:
        headers = stack.auth(await stack.user(role))
        response = await stack.http.post(
            "/deployment-rules/", json=flow(f"rule by {role}"), headers=headers
        )
        existing = await create_rule(stack, flow(f"the admin's, for {role}"))
        path = f"/deployment-rules/{existing['id']}"
        patched = await stack.http.patch(path, json={"mode": "disabled"}, headers=headers)
        deleted = await stack.http.delete(path, headers=headers)
        # Every role reads rules.
        assert (await stack.http.get("/deployment-rules/", headers=headers)).status_code == 200
        if role in RULE_MANAGERS:
            assert response.status_code == 201, (role, response.text)
            assert response.json()["created_by"].startswith(f"user:{role}-")
            assert patched.status_code == 200, (role, patched.text)
            assert deleted.status_code == 204, (role, deleted.text)
        else:
            for refused in (response, patched, deleted):
                assert refused.status_code == 403, (role, refused.text)
                assert refused.json() == FORBIDDEN
            unchanged = await stack.http.get(path, headers=stack.admin)
            assert unchanged.json()["mode"] == "enabled"
    names = {
        r["name"] for r in (await stack.http.get("/deployment-rules/", headers=stack.admin)).json()
    }
    assert {n for n in names if n.startswith("rule by")} == {f"rule by {r}" for r in RULE_MANAGERS}


@pytest.mark.databases("sqlite")
async def test_an_api_key_reads_rules_but_may_not_manage_them(
    stack: Stack, ci: dict[str, str]
) -> None:
    rule = await create_rule(stack, flow())
    refused = [
        await stack.http.post("/deployment-rules/", json=flow("ci's"), headers=ci),
        await stack.http.patch(
            f"/deployment-rules/{rule['id']}", json={"mode": "report_only"}, headers=ci
        ),
        await stack.http.delete(f"/deployment-rules/{rule['id']}", headers=ci),
    ]
    for response in refused:
        assert response.status_code == 403, response.text
        assert response.json() == FORBIDDEN
    listed = await stack.http.get("/deployment-rules/", headers=ci)
    assert [r["id"] for r in listed.json()] == [rule["id"]]
    one = await stack.http.get(f"/deployment-rules/{rule['id']}", headers=ci)
    assert one.json()["mode"] == "enabled"


# Bad rules and the location each 422 must name.
BAD_RULES: list[tuple[str, dict[str, Any], list[str | int]]] = [
    ("unknown rule_type", {**flow(), "rule_type": "freeze"}, ["body", "rule_type"]),
    ("unknown mode", {**flow(), "mode": "on"}, ["body", "mode"]),
    ("bad timezone", freeze(timezone="Mars/Olympus_Mons"), ["body", "config", "timezone"]),
    ("flow environments scope", {**flow(), "environments": ["staging"]}, ["body", "environments"]),
    ("flow target among prerequisites", flow(target="staging"), ["body", "config"]),
    ("negative soak", flow(min_soak_minutes=-1), ["body", "config", "min_soak_minutes"]),
    ("unknown config key", flow(colour="red"), ["body", "config", "colour"]),
    (
        "no approval types",
        {"name": "no types", "rule_type": "dr_required", "config": {"approval_types": []}},
        ["body", "config", "approval_types"],
    ),
    (
        "unknown approval type",
        {"name": "odd", "rule_type": "dr_required", "config": {"approval_types": ["vibes"]}},
        ["body", "config", "approval_types", 0],
    ),
    ("no windows", freeze(windows=[]), ["body", "config"]),
    (
        "window ends before it starts",
        freeze(windows=[{"start": "2026-12-23T00:00", "end": "2026-12-22T00:00"}]),
        ["body", "config", "windows", 0],
    ),
    (
        "window with an offset",
        freeze(windows=[{"start": "2026-12-23T00:00+01:00", "end": "2027-01-02T00:00"}]),
        ["body", "config", "windows", 0, "start"],
    ),
    ("bad rrule", freeze(rrule="FREQ=SOMETIMES", duration_minutes=60), ["body", "config", "rrule"]),
    ("rrule without duration", freeze(rrule="FREQ=DAILY"), ["body", "config"]),
    ("blank name", {"name": " ", "rule_type": "flow", "config": {}}, ["body", "name"]),
]


@pytest.mark.databases("sqlite")
async def test_a_bad_rule_is_422_naming_the_field(stack: Stack) -> None:
    for case, body, loc in BAD_RULES:
        response = await stack.http.post("/deployment-rules/", json=body, headers=stack.admin)
        assert response.status_code == 422, (case, response.text)
        errors = response.json()["detail"]
        assert isinstance(errors, list), case
        assert any(error["loc"][: len(loc)] == loc for error in errors), (case, errors)
    listed = await stack.http.get("/deployment-rules/", headers=stack.admin)
    assert listed.json() == []


@pytest.mark.databases("sqlite")
async def test_a_flow_rule_may_be_scoped_to_its_target(stack: Stack) -> None:
    rule = await create_rule(stack, {**flow(), "environments": ["production"]})
    assert rule["environments"] == ["production"]


@pytest.mark.databases("sqlite")
async def test_a_second_rule_of_the_same_name_is_409(stack: Stack) -> None:
    await create_rule(stack, flow())
    again = await stack.http.post("/deployment-rules/", json=freeze(FLOW_NAME), headers=stack.admin)
    assert again.status_code == 409, again.text
    assert again.json() == {"detail": f"A rule named {FLOW_NAME} exists"}
    # Names are case-sensitive.
    other = await stack.http.post(
        "/deployment-rules/", json=flow(FLOW_NAME.upper()), headers=stack.admin
    )
    assert other.status_code == 201, other.text
    # A rename onto a taken name is 409 too.
    renamed = await stack.http.patch(
        f"/deployment-rules/{other.json()['id']}",
        json={"name": FLOW_NAME},
        headers=stack.admin,
    )
    assert renamed.status_code == 409, renamed.text
    listed = await stack.http.get("/deployment-rules/", headers=stack.admin)
    assert sorted(r["name"] for r in listed.json()) == [FLOW_NAME.upper(), FLOW_NAME]


# Reading -----------------------------------------------------------------------------------


@pytest.mark.databases("sqlite")
async def test_the_list_is_a_bare_array_newest_first_with_the_total(stack: Stack) -> None:
    names = [f"rule {n}" for n in range(5)]
    for name in names:
        await create_rule(stack, flow(name))
    bare = await stack.http.get("/deployment-rules", headers=stack.admin)
    slashed = await stack.http.get("/deployment-rules/", headers=stack.admin)
    for response in (bare, slashed):
        assert response.status_code == 200, response.text
        assert response.headers["x-total-count"] == "5"
        assert isinstance(response.json(), list)
        assert [r["name"] for r in response.json()] == names[::-1]
        assert all(set(r) == RULE_FIELDS for r in response.json())
    assert bare.json() == slashed.json()

    page = await stack.http.get("/deployment-rules/", params={"limit": 2}, headers=stack.admin)
    assert [r["name"] for r in page.json()] == ["rule 4", "rule 3"]
    assert page.headers["x-total-count"] == "5"
    after = await stack.http.get(
        "/deployment-rules/",
        params={"limit": 2, "before": page.json()[-1]["id"]},
        headers=stack.admin,
    )
    assert [r["name"] for r in after.json()] == ["rule 2", "rule 1"]
    assert after.headers["x-total-count"] == "5"


@pytest.mark.databases("sqlite")
async def test_one_rule_and_the_404s(stack: Stack) -> None:
    rule = await create_rule(stack, flow())
    for path in (f"/deployment-rules/{rule['id']}", f"/deployment-rules/{rule['id']}/"):
        one = await stack.http.get(path, headers=stack.admin)
        assert one.status_code == 200, one.text
        assert one.json() == rule
    for missing in (str(uuid4()), "not-a-rule"):
        response = await stack.http.get(f"/deployment-rules/{missing}", headers=stack.admin)
        assert response.status_code == 404
        assert response.json() == NOT_FOUND
        for method in ("PATCH", "DELETE"):
            changed = await stack.http.request(
                method,
                f"/deployment-rules/{missing}",
                json={"mode": "disabled"} if method == "PATCH" else None,
                headers=stack.admin,
            )
            assert changed.status_code == 404, changed.text


@pytest.mark.databases("sqlite")
async def test_rules_need_a_credential(stack: Stack) -> None:
    for method, path in (
        ("GET", "/deployment-rules/"),
        ("POST", "/deployment-rules/"),
        ("GET", "/deployment-rules/violations"),
    ):
        response = await stack.http.request(method, path, json=flow())
        assert response.status_code == 401, (method, path, response.text)


# Changing ----------------------------------------------------------------------------------


async def test_a_mode_switch_applies_to_the_next_deployment_and_is_audited(
    stack: Stack, ci: dict[str, str]
) -> None:
    rule = await create_rule(stack, flow())
    blocked = await deploy(stack, ci, version="1.4.0")
    assert blocked.status_code == 428, blocked.text

    switched = await stack.http.patch(
        f"/deployment-rules/{rule['id']}", json={"mode": "report_only"}, headers=stack.admin
    )
    assert switched.status_code == 200, switched.text
    assert switched.json()["mode"] == "report_only"
    assert switched.json()["config"] == rule["config"]
    assert switched.json()["updated_at"] >= rule["updated_at"]
    reported = await deploy(stack, ci, version="1.4.0")
    assert reported.status_code == 200, reported.text
    [entry] = reported.json()["extra_metadata"]["preflight_status"]["rules_evaluated"]
    assert (entry["rule_name"], entry["status"]) == (FLOW_NAME, "report_only")
    assert (await deploy(stack, ci, version="1.4.0", status="failed")).status_code == 200

    disabled = await stack.http.patch(
        f"/deployment-rules/{rule['id']}/", json={"mode": "disabled"}, headers=stack.admin
    )
    assert disabled.json()["mode"] == "disabled"
    quiet = await deploy(stack, ci, version="1.4.0")
    assert quiet.status_code == 200, quiet.text
    assert quiet.json()["extra_metadata"]["preflight_status"]["rules_evaluated"] == []
    assert (await deploy(stack, ci, version="1.4.0", status="failed")).status_code == 200

    enabled = await stack.http.patch(
        f"/deployment-rules/{rule['id']}", json={"mode": "enabled"}, headers=stack.admin
    )
    assert enabled.json()["mode"] == "enabled"
    assert (await deploy(stack, ci, version="1.4.0")).status_code == 428

    audit = await stack.http.get(
        "/audit/", params={"kind": "rule.mode_changed"}, headers=stack.admin
    )
    assert [(e["data"]["from"], e["data"]["to"]) for e in audit.json()] == [
        ("disabled", "enabled"),
        ("report_only", "disabled"),
        ("enabled", "report_only"),
    ]
    assert all(e["subject_id"] == rule["id"] for e in audit.json())


@pytest.mark.databases("sqlite")
async def test_a_config_change_applies_to_the_next_deployment(
    stack: Stack, ci: dict[str, str]
) -> None:
    rule = await create_rule(stack, flow())
    assert (await deploy(stack, ci)).status_code == 428
    changed = await stack.http.patch(
        f"/deployment-rules/{rule['id']}",
        json={"config": {"prerequisites": ["staging"], "target": "canary"}},
        headers=stack.admin,
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["config"]["target"] == "canary"
    assert (await deploy(stack, ci)).status_code == 200
    bad = await stack.http.patch(
        f"/deployment-rules/{rule['id']}",
        json={"environments": ["staging"]},
        headers=stack.admin,
    )
    assert bad.status_code == 422, bad.text
    assert bad.json()["detail"][0]["loc"] == ["body", "environments"]


async def test_delete_is_204_and_the_rule_stops_applying(stack: Stack, ci: dict[str, str]) -> None:
    rule = await create_rule(stack, flow())
    assert (await deploy(stack, ci)).status_code == 428
    deleted = await stack.http.delete(f"/deployment-rules/{rule['id']}", headers=stack.admin)
    assert deleted.status_code == 204
    assert deleted.content == b""
    gone = await stack.http.get(f"/deployment-rules/{rule['id']}", headers=stack.admin)
    assert gone.status_code == 404
    again = await stack.http.delete(f"/deployment-rules/{rule['id']}/", headers=stack.admin)
    assert again.status_code == 404
    assert (await deploy(stack, ci)).status_code == 200
    # Its violations stay in the log.
    log = await stack.http.get("/deployment-rules/violations", headers=stack.admin)
    assert [v["rule_name"] for v in log.json()] == [FLOW_NAME]
    audit = await stack.http.get("/audit/", params={"kind": "rule.deleted"}, headers=stack.admin)
    assert [e["subject_id"] for e in audit.json()] == [rule["id"]]


# The windows preview -----------------------------------------------------------------------


async def test_windows_preview_of_a_recurring_rule(
    frozen: tuple[Stack, FrozenClock],
) -> None:
    stack, _ = frozen
    rule = await create_rule(
        stack,
        {
            "name": "friday evenings",
            "rule_type": "schedule",
            "config": {
                "timezone": "Europe/Berlin",
                "rrule": "FREQ=WEEKLY;BYDAY=FR;BYHOUR=17;BYMINUTE=0",
                "dtstart": "2026-01-02T17:00",
                "duration_minutes": 900,
            },
        },
    )
    for path in (
        f"/deployment-rules/{rule['id']}/windows",
        f"/deployment-rules/{rule['id']}/windows/",
    ):
        response = await stack.http.get(path, params={"count": 3}, headers=stack.admin)
        assert response.status_code == 200, response.text
        assert response.json() == {
            "rule_id": rule["id"],
            "kind_of_windows": "deny",
            "windows": [
                {
                    "start": f"{day}T16:00:00Z",
                    "end": f"{next_day}T07:00:00Z",
                    "local_start": f"{day}T17:00:00",
                    "local_end": f"{next_day}T08:00:00",
                    "timezone": "Europe/Berlin",
                }
                for day, next_day in (
                    ("2026-12-25", "2026-12-26"),
                    ("2027-01-01", "2027-01-02"),
                    ("2027-01-08", "2027-01-09"),
                )
            ],
        }


async def test_windows_preview_starts_with_the_window_in_force(
    frozen: tuple[Stack, FrozenClock],
) -> None:
    stack, _ = frozen
    rule = await create_rule(stack, freeze())
    response = await stack.http.get(
        f"/deployment-rules/{rule['id']}/windows", params={"count": 3}, headers=stack.admin
    )
    assert response.status_code == 200, response.text
    assert response.json()["windows"] == [
        {
            "start": "2026-12-22T23:00:00Z",
            "end": "2027-01-01T23:00:00Z",
            "local_start": "2026-12-23T00:00:00",
            "local_end": "2027-01-02T00:00:00",
            "timezone": "Europe/Berlin",
        }
    ]


async def test_windows_preview_across_a_spring_forward(tmp_path: Path) -> None:
    # Berlin skips 02:00-03:00 on 2027-03-28: that night's window starts at 03:30 local and
    # still lasts 60 minutes of elapsed time.
    clock = FrozenClock(datetime(2027, 3, 27, 0, 0, tzinfo=UTC))
    async with memory_stack(sqlite_url(tmp_path), clock=clock) as stack:
        rule = await create_rule(
            stack,
            {
                "name": "nightly batch",
                "rule_type": "schedule",
                "config": {
                    "timezone": "Europe/Berlin",
                    "rrule": "FREQ=DAILY;BYHOUR=2;BYMINUTE=30",
                    "dtstart": "2027-01-01T02:30",
                    "duration_minutes": 60,
                },
            },
        )
        response = await stack.http.get(
            f"/deployment-rules/{rule['id']}/windows", params={"count": 3}, headers=stack.admin
        )
    assert [
        (w["start"], w["end"], w["local_start"], w["local_end"]) for w in response.json()["windows"]
    ] == [
        (
            "2027-03-27T01:30:00Z",
            "2027-03-27T02:30:00Z",
            "2027-03-27T02:30:00",
            "2027-03-27T03:30:00",
        ),
        (
            "2027-03-28T01:30:00Z",
            "2027-03-28T02:30:00Z",
            "2027-03-28T03:30:00",
            "2027-03-28T04:30:00",
        ),
        (
            "2027-03-29T00:30:00Z",
            "2027-03-29T01:30:00Z",
            "2027-03-29T02:30:00",
            "2027-03-29T03:30:00",
        ),
    ]


@pytest.mark.databases("sqlite")
async def test_windows_preview_refusals(stack: Stack, ci: dict[str, str]) -> None:
    schedule = await create_rule(stack, freeze())
    flow_rule = await create_rule(stack, flow())
    # API keys read rules, windows included.
    ok = await stack.http.get(f"/deployment-rules/{schedule['id']}/windows", headers=ci)
    assert ok.status_code == 200, ok.text
    not_schedule = await stack.http.get(f"/deployment-rules/{flow_rule['id']}/windows", headers=ci)
    assert not_schedule.status_code == 422, not_schedule.text
    for count in ("0", "1001", "many"):
        bad = await stack.http.get(
            f"/deployment-rules/{schedule['id']}/windows",
            params={"count": count},
            headers=ci,
        )
        assert bad.status_code == 422, bad.text
        assert bad.json()["detail"][0]["loc"] == ["query", "count"]
    missing = await stack.http.get(f"/deployment-rules/{uuid4()}/windows", headers=ci)
    assert missing.status_code == 404


# What a deployment sees --------------------------------------------------------------------


async def test_a_flow_violation_is_428_as_the_action_parses_it(
    stack: Stack, ci: dict[str, str]
) -> None:
    await create_rule(stack, flow())
    response = await deploy(stack, ci, version="1.4.0")
    assert response.status_code == 428, response.text
    message = "1.4.0 must be deployed to staging before production."
    details = {"prerequisites": ["staging"], "strict_order": True, "missing": ["staging"]}
    violation = {
        "code": "FLOW_VIOLATION",
        "rule_name": FLOW_NAME,
        "rule_type": "flow",
        "message": message,
        "retry_after": None,
        "details": details,
    }
    assert response.json() == {
        "detail": {
            "error": "deployment_blocked",
            "code": "FLOW_VIOLATION",
            "message": message,
            "retry_after": None,
            "details": {**details, "rule_name": FLOW_NAME, "violations": [violation]},
        }
    }
    # A blocked attempt is not a deployment; it lives in the violations log.
    listed = await stack.http.get("/deployments/", headers=ci)
    assert listed.json() == []


async def test_a_schedule_window_is_428_with_retry_after_and_the_window(
    frozen: tuple[Stack, FrozenClock],
) -> None:
    stack, _ = frozen
    ci = stack.auth(await stack.api_key())
    await create_rule(stack, freeze())
    response = await deploy(stack, ci)
    assert response.status_code == 428, response.text
    detail = response.json()["detail"]
    assert detail["error"] == "deployment_blocked"
    assert detail["code"] == "NO_DEPLOY_WINDOW"
    assert detail["retry_after"] == "2027-01-01T23:00:00Z"
    assert is_utc(detail["retry_after"])
    assert "christmas freeze" in detail["message"]
    assert "Christmas freeze" in detail["message"]
    assert "Retry" in detail["message"]
    details = detail["details"]
    assert details["rule_name"] == "christmas freeze"
    assert details["window_name"] == "christmas freeze"
    assert details["window_start"] == "2026-12-22T23:00:00Z"
    assert details["window_end"] == "2027-01-01T23:00:00Z"
    assert details["reason"] == "Christmas freeze"
    assert details["timezone"] == "Europe/Berlin"
    [violation] = details["violations"]
    assert violation["rule_type"] == "schedule"
    assert violation["retry_after"] == "2027-01-01T23:00:00Z"


async def test_touching_deny_windows_retry_after_the_end_of_the_chain(tmp_path: Path) -> None:
    clock = FrozenClock(datetime(2027, 3, 27, 0, 0, tzinfo=UTC))
    async with memory_stack(sqlite_url(tmp_path), clock=clock) as stack:
        ci = stack.auth(await stack.api_key())
        await create_rule(
            stack,
            {
                "name": "migration weekend",
                "rule_type": "schedule",
                "config": {
                    "windows": [
                        {"start": "2027-03-26T00:00", "end": "2027-03-27T06:00"},
                        {"start": "2027-03-27T06:00", "end": "2027-03-28T00:00"},
                    ]
                },
            },
        )
        response = await deploy(stack, ci)
    assert response.status_code == 428, response.text
    detail = response.json()["detail"]
    assert detail["retry_after"] == "2027-03-28T00:00:00Z"
    assert detail["details"]["window_start"] == "2027-03-26T00:00:00Z"
    assert detail["details"]["window_end"] == "2027-03-28T00:00:00Z"


async def test_outside_an_allow_window_retry_after_is_the_next_opening(tmp_path: Path) -> None:
    # A Saturday; office hours are Monday to Thursday, 09:00-17:00 in Berlin (CEST from the 28th).
    clock = FrozenClock(datetime(2027, 3, 27, 12, 0, tzinfo=UTC))
    async with memory_stack(sqlite_url(tmp_path), clock=clock) as stack:
        ci = stack.auth(await stack.api_key())
        await create_rule(
            stack,
            {
                "name": "office hours",
                "rule_type": "schedule",
                "config": {
                    "kind": "allow",
                    "timezone": "Europe/Berlin",
                    "rrule": "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH;BYHOUR=9;BYMINUTE=0",
                    "dtstart": "2027-01-04T09:00",
                    "duration_minutes": 480,
                },
            },
        )
        blocked = await deploy(stack, ci)
        assert blocked.status_code == 428, blocked.text
        detail = blocked.json()["detail"]
        assert detail["code"] == "NO_DEPLOY_WINDOW"
        assert detail["retry_after"] == "2027-03-29T07:00:00Z"
        assert detail["details"]["window_kind"] == "allow"
        assert (detail["details"]["window_start"], detail["details"]["window_end"]) == (
            "2027-03-29T07:00:00Z",
            "2027-03-29T15:00:00Z",
        )
        clock.advance(days=2)
        assert (await deploy(stack, ci)).status_code == 200


@pytest.mark.databases("sqlite")
async def test_strict_order_of_prerequisites(stack: Stack, ci: dict[str, str]) -> None:
    await create_rule(
        stack,
        {
            "name": "test then staging",
            "rule_type": "flow",
            "config": {"prerequisites": ["test", "staging"], "target": "production"},
        },
    )
    await completed_in(stack, ci, "staging")
    missing = await deploy(stack, ci)
    assert missing.json()["detail"]["details"]["missing"] == ["test"]
    await completed_in(stack, ci, "test")
    out_of_order = await deploy(stack, ci)
    assert out_of_order.status_code == 428, out_of_order.text
    detail = out_of_order.json()["detail"]
    assert detail["code"] == "FLOW_VIOLATION"
    assert detail["details"]["order"] == "test → staging → production"
    assert detail["details"]["missing"] == []
    relaxed = await stack.http.get("/deployment-rules/", headers=stack.admin)
    await stack.http.patch(
        f"/deployment-rules/{relaxed.json()[0]['id']}",
        json={
            "config": {
                "prerequisites": ["test", "staging"],
                "target": "production",
                "strict_order": False,
            }
        },
        headers=stack.admin,
    )
    assert (await deploy(stack, ci)).status_code == 200


@pytest.mark.databases("sqlite")
async def test_deploying_again_in_order_satisfies_strict_order(
    stack: Stack, ci: dict[str, str]
) -> None:
    await create_rule(
        stack,
        {
            "name": "test then staging",
            "rule_type": "flow",
            "config": {"prerequisites": ["test", "staging"], "target": "production"},
        },
    )
    await completed_in(stack, ci, "staging")
    await completed_in(stack, ci, "test")
    assert (await deploy(stack, ci)).status_code == 428
    await completed_in(stack, ci, "staging")
    assert (await deploy(stack, ci)).status_code == 200


@pytest.mark.databases("sqlite")
async def test_a_renamed_environment_keeps_its_rules(stack: Stack, ci: dict[str, str]) -> None:
    await create_rule(stack, {**flow(), "environments": ["production"]})
    blocked = await deploy(stack, ci)
    assert blocked.status_code == 428
    environments = await stack.http.get("/environments/", headers=ci)
    [production] = [e for e in environments.json() if e["name"] == "production"]
    renamed = await stack.http.patch(
        f"/environments/{production['id']}", json={"name": "prod-eu"}, headers=stack.admin
    )
    assert renamed.status_code == 200, renamed.text
    for name in ("prod-eu", "production"):
        response = await deploy(stack, ci, environment_name=name)
        assert response.status_code == 428, (name, response.text)
        assert response.json()["detail"]["code"] == "FLOW_VIOLATION"
    log = await stack.http.get(
        "/deployment-rules/violations", params={"environment": "production"}, headers=ci
    )
    assert len(log.json()) == 3


async def test_every_violation_is_listed_in_order_and_retry_after_needs_them_all(
    frozen: tuple[Stack, FrozenClock],
) -> None:
    stack, _ = frozen
    ci = stack.auth(await stack.api_key())
    await create_rule(stack, flow())
    await create_rule(stack, freeze())
    await create_rule(
        stack,
        {"name": "needs a DR", "rule_type": "dr_required", "config": {"approval_types": ["qa"]}},
    )
    response = await deploy(stack, ci)
    assert response.status_code == 428, response.text
    detail = response.json()["detail"]
    codes = [v["code"] for v in detail["details"]["violations"]]
    assert codes == ["NO_DEPLOY_WINDOW", "DR_REQUIRED", "FLOW_VIOLATION"]
    assert [v["rule_name"] for v in detail["details"]["violations"]] == [
        "christmas freeze",
        "needs a DR",
        FLOW_NAME,
    ]
    # The first violation's summary and details lead; the flow has no retry time, so none.
    assert detail["code"] == "NO_DEPLOY_WINDOW"
    assert detail["details"]["rule_name"] == "christmas freeze"
    assert detail["details"]["window_end"] == "2027-01-01T23:00:00Z"
    assert detail["retry_after"] is None


async def test_soak_time_blocks_with_retry_after_until_it_has_passed(
    frozen_now: tuple[Stack, FrozenClock],
) -> None:
    stack, clock = frozen_now
    ci = stack.auth(await stack.api_key())
    await create_rule(stack, flow(min_soak_minutes=60))
    before = datetime.now(UTC)
    await completed_in(stack, ci, "staging")
    after = datetime.now(UTC)
    response = await deploy(stack, ci)
    assert response.status_code == 428, response.text
    detail = response.json()["detail"]
    assert detail["code"] == "INSUFFICIENT_SOAK_TIME"
    assert is_utc(detail["retry_after"])
    ready = datetime.fromisoformat(detail["retry_after"])
    assert before + timedelta(minutes=60) <= ready <= after + timedelta(minutes=60)
    assert detail["details"]["soak_environment"] == "staging"
    assert detail["details"]["min_soak_minutes"] == 60
    assert "Retry after" in detail["message"]

    # A deny window that outlasts the soak: both have a retry time, so the latest is given.
    window_end = (clock.now() + timedelta(hours=2)).replace(second=0, microsecond=0)
    window_start = clock.now() - timedelta(hours=1)
    await create_rule(
        stack,
        {
            "name": "maintenance",
            "rule_type": "schedule",
            "config": {
                "windows": [
                    {
                        "start": window_start.replace(tzinfo=None).isoformat(timespec="minutes"),
                        "end": window_end.replace(tzinfo=None).isoformat(timespec="minutes"),
                    }
                ]
            },
        },
    )
    both = await deploy(stack, ci)
    assert both.status_code == 428, both.text
    detail = both.json()["detail"]
    assert [v["code"] for v in detail["details"]["violations"]] == [
        "NO_DEPLOY_WINDOW",
        "INSUFFICIENT_SOAK_TIME",
    ]
    assert detail["retry_after"] == window_end.isoformat().replace("+00:00", "Z")

    clock.advance(minutes=61)
    still = await deploy(stack, ci)
    assert [v["code"] for v in still.json()["detail"]["details"]["violations"]] == [
        "NO_DEPLOY_WINDOW"
    ]
    clock.advance(hours=2)
    through = await deploy(stack, ci)
    assert through.status_code == 200, through.text


async def test_a_report_only_failure_goes_through_with_a_warning(
    stack: Stack, ci: dict[str, str]
) -> None:
    await create_rule(stack, {**flow(), "mode": "report_only"})
    response = await deploy(stack, ci, version="1.4.0")
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "started"
    assert response.json()["extra_metadata"]["preflight_status"] == {
        "status": "passed",
        "rules_evaluated": [
            {
                "rule_name": FLOW_NAME,
                "rule_type": "flow",
                "status": "report_only",
                "evaluation_result": "failed",
                "code": "FLOW_VIOLATION",
                "error_message": "1.4.0 must be deployed to staging before production.",
            }
        ],
        "override": None,
    }
    log = await stack.http.get("/deployment-rules/violations", headers=ci)
    [entry] = log.json()
    assert entry["outcome"] == "reported"
    assert entry["deployment_id"] == response.json()["id"]


@pytest.mark.databases("sqlite")
async def test_passing_rules_are_not_listed(stack: Stack, ci: dict[str, str]) -> None:
    await create_rule(stack, {**flow(), "mode": "report_only"})
    await completed_in(stack, ci, "staging")
    response = await deploy(stack, ci)
    assert response.status_code == 200, response.text
    assert response.json()["extra_metadata"]["preflight_status"] == {
        "status": "passed",
        "rules_evaluated": [],
        "override": None,
    }


# The violations log ------------------------------------------------------------------------


async def blocked_and_reported(stack: Stack, ci: dict[str, str]) -> dict[str, Any]:
    """A flow rule for everything, a report-only DR rule for web: three attempts logged."""
    flow_rule = await create_rule(stack, flow())
    await create_rule(
        stack,
        {
            "name": "web needs a DR",
            "rule_type": "dr_required",
            "mode": "report_only",
            "products": ["web"],
            "config": {"approval_types": ["qa"]},
        },
    )
    assert (await deploy(stack, ci, product_name="api")).status_code == 428
    assert (await deploy(stack, ci, product_name="web")).status_code == 428
    return flow_rule


async def test_violations_filters(stack: Stack, ci: dict[str, str]) -> None:
    await blocked_and_reported(stack, ci)
    middle = datetime.now(UTC)
    assert (await deploy(stack, ci, product_name="api", version="2.0.0")).status_code == 428

    async def entries(**params: Any) -> list[tuple[str, str, str, str]]:
        response = await stack.http.get("/deployment-rules/violations", params=params, headers=ci)
        assert response.status_code == 200, response.text
        listed = response.json()
        assert response.headers["x-total-count"] == str(len(listed))
        return [(v["product"], v["version"], v["rule_name"], v["outcome"]) for v in listed]

    everything = await entries()
    # Newest first; the two entries of web's attempt share its moment.
    assert everything[0] == ("api", "2.0.0", FLOW_NAME, "blocked")
    assert sorted(everything[1:3]) == [
        ("web", "1.0.0", FLOW_NAME, "blocked"),
        ("web", "1.0.0", "web needs a DR", "reported"),
    ]
    assert everything[3] == ("api", "1.0.0", FLOW_NAME, "blocked")
    assert await entries(rule="web needs a DR") == [("web", "1.0.0", "web needs a DR", "reported")]
    assert [e[0] for e in await entries(outcome="blocked")] == ["api", "web", "api"]
    assert len(await entries(outcome="reported")) == 1
    assert await entries(outcome="overridden") == []
    assert {e[0] for e in await entries(product="web")} == {"web"}
    assert len(await entries(product="web")) == 2
    assert len(await entries(environment="production")) == 4
    assert await entries(environment="staging") == []
    assert await entries(product="nobody") == []
    assert await entries(since=middle.isoformat().replace("+00:00", "Z")) == [
        ("api", "2.0.0", FLOW_NAME, "blocked")
    ]
    assert await entries(product="api", outcome="blocked", rule=FLOW_NAME) == [
        ("api", "2.0.0", FLOW_NAME, "blocked"),
        ("api", "1.0.0", FLOW_NAME, "blocked"),
    ]
    bad = await stack.http.get(
        "/deployment-rules/violations", params={"outcome": "ignored"}, headers=ci
    )
    assert bad.status_code == 422


@pytest.mark.databases("sqlite")
async def test_violations_entry_shape(stack: Stack, ci: dict[str, str]) -> None:
    rule = await create_rule(stack, flow())
    attempt = await deploy(stack, ci, version="1.4.0")
    assert attempt.status_code == 428
    response = await stack.http.get("/deployment-rules/violations/", headers=ci)
    [entry] = response.json()
    assert set(entry) == {
        "id",
        "event_id",
        "deployment_id",
        "product",
        "version",
        "environment",
        "rule_id",
        "rule_name",
        "rule_type",
        "code",
        "message",
        "outcome",
        "actor",
        "at",
    }
    assert isinstance(entry["id"], int)
    UUID(entry["event_id"])
    assert entry["deployment_id"] is None
    assert (entry["product"], entry["version"], entry["environment"]) == (
        "api",
        "1.4.0",
        "production",
    )
    assert (entry["rule_id"], entry["rule_name"], entry["rule_type"]) == (
        rule["id"],
        FLOW_NAME,
        "flow",
    )
    assert entry["code"] == "FLOW_VIOLATION"
    assert entry["message"] == attempt.json()["detail"]["message"]
    assert entry["outcome"] == "blocked"
    assert entry["actor"] == "api_key:ci"
    assert is_utc(entry["at"])


@pytest.mark.databases("sqlite")
async def test_violations_is_the_log_not_a_rule_id(stack: Stack, ci: dict[str, str]) -> None:
    for path in ("/deployment-rules/violations", "/deployment-rules/violations/"):
        response = await stack.http.get(path, headers=ci)
        assert response.status_code == 200, response.text
        assert response.json() == []
        assert response.headers["x-total-count"] == "0"
    # Only GET is the log; the other methods of a rule's path answer as for an unknown id.
    patched = await stack.http.patch(
        "/deployment-rules/violations", json={"mode": "disabled"}, headers=stack.admin
    )
    assert patched.status_code == 404


@pytest.mark.databases("sqlite")
async def test_violations_paging_with_an_integer_cursor(stack: Stack, ci: dict[str, str]) -> None:
    await create_rule(stack, flow())
    for n in range(3):
        assert (await deploy(stack, ci, version=f"1.0.{n}")).status_code == 428

    async def page(**params: Any) -> httpx.Response:
        return await stack.http.get("/deployment-rules/violations", params=params, headers=ci)

    first = await page(limit=2)
    assert [v["version"] for v in first.json()] == ["1.0.2", "1.0.1"]
    assert first.headers["x-total-count"] == "3"
    cursor = first.json()[-1]["id"]
    assert isinstance(cursor, int)
    rest = await page(limit=2, before=cursor)
    assert [v["version"] for v in rest.json()] == ["1.0.0"]
    assert rest.headers["x-total-count"] == "3"
    for bad in ("0", "-1", "abc", str(uuid4())):
        refused = await page(before=bad)
        assert refused.status_code == 422, (bad, refused.text)
        assert refused.json()["detail"][0]["loc"] == ["query", "before"]
    for limit in ("0", "1001"):
        assert (await page(limit=limit)).status_code == 422


@pytest.mark.databases("sqlite")
async def test_violations_filter_by_rule_id(stack: Stack, ci: dict[str, str]) -> None:
    flow_rule = await blocked_and_reported(stack, ci)
    response = await stack.http.get(
        "/deployment-rules/violations", params={"rule": flow_rule["id"]}, headers=ci
    )
    assert response.status_code == 200
    assert {v["rule_id"] for v in response.json()} == {flow_rule["id"]}
    assert len(response.json()) == 2
