"""Break-glass overrides over HTTP, and the audit log that keeps them: who may override, what
the 200 carries, what a refused override leaves behind (nothing), who may read the audit log
and how it filters."""

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tests.support.flows import FORBIDDEN, ROLES, deploy_body, is_utc
from tests.support.stack import Stack

FLOW_NAME = "staging before production"
FLOW_MESSAGE = "1.4.0 must be deployed to staging before production."
OVERRIDERS = ("admin", "release_manager", "sre")
AUDIT_READERS = ("admin", "release_manager", "security", "compliance")
AUDIT_FIELDS = {"id", "at", "actor", "action", "subject_id", "summary", "data"}


async def flow_rule(stack: Stack, **fields: Any) -> dict[str, Any]:
    """An enabled flow rule: production after staging."""
    response = await stack.http.post(
        "/deployment-rules/",
        json={
            "name": FLOW_NAME,
            "rule_type": "flow",
            "config": {"prerequisites": ["staging"], "target": "production"},
            **fields,
        },
        headers=stack.admin,
    )
    assert response.status_code == 201, response.text
    rule: dict[str, Any] = response.json()
    return rule


async def deploy(stack: Stack, headers: dict[str, str], **fields: Any) -> httpx.Response:
    """api 1.4.0 to production, a start unless told otherwise."""
    return await stack.http.post(
        "/deployment-events/", json=deploy_body(**{"version": "1.4.0", **fields}), headers=headers
    )


async def nothing_recorded(stack: Stack) -> None:
    """No deployment, no violation: a refused override leaves no trace but the refusal."""
    deployments = await stack.http.get("/deployments/", headers=stack.admin)
    assert deployments.json() == []
    violations = await stack.http.get("/deployment-rules/violations", headers=stack.admin)
    assert violations.json() == []
    audit = await stack.http.get("/audit/", params={"kind": "deployment."}, headers=stack.admin)
    assert audit.json() == []


# Break-glass -------------------------------------------------------------------------------


async def test_an_sre_override_lets_one_deployment_through(stack: Stack) -> None:
    await flow_rule(stack)
    sre = stack.auth(await stack.user("sre", name="sasha"))
    response = await deploy(stack, sre, override_reason="hotfix for the outage")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "started"
    violation = {
        "code": "FLOW_VIOLATION",
        "rule_name": FLOW_NAME,
        "rule_type": "flow",
        "message": FLOW_MESSAGE,
        "retry_after": None,
        "details": {"prerequisites": ["staging"], "strict_order": True, "missing": ["staging"]},
    }
    assert body["extra_metadata"]["preflight_status"] == {
        "status": "passed",
        "rules_evaluated": [
            {
                "rule_name": FLOW_NAME,
                "rule_type": "flow",
                "status": "enabled",
                "evaluation_result": "failed",
                "code": "FLOW_VIOLATION",
                "error_message": FLOW_MESSAGE,
            }
        ],
        "override": {
            "by": "sasha",
            "reason": "hotfix for the outage",
            "violations": [violation],
        },
    }

    log = await stack.http.get(
        "/deployment-rules/violations", params={"outcome": "overridden"}, headers=sre
    )
    [entry] = log.json()
    assert (entry["deployment_id"], entry["code"]) == (body["id"], "FLOW_VIOLATION")
    assert entry["actor"] == "user:sasha"
    audit = await stack.http.get(
        "/audit/", params={"kind": "deployment.overridden"}, headers=stack.admin
    )
    [overridden] = audit.json()
    assert overridden["actor"] == "user:sasha"
    assert overridden["subject_id"] == body["id"]
    assert overridden["data"]["reason"] == "hotfix for the outage"
    assert [v["code"] for v in overridden["data"]["violations"]] == ["FLOW_VIOLATION"]

    # One deployment: the next start is gated again.
    assert (await deploy(stack, sre, status="completed")).status_code == 200
    assert (await deploy(stack, sre)).status_code == 428


@pytest.mark.databases("sqlite")
async def test_who_may_override(stack: Stack) -> None:
    await flow_rule(stack)
    for role in ("admin", "release_manager", "sre", "developer"):
        headers = stack.auth(await stack.user(role))
        response = await deploy(stack, headers, override_reason=f"{role} says so")
        if role in OVERRIDERS:
            assert response.status_code == 200, (role, response.text)
            override = response.json()["extra_metadata"]["preflight_status"]["override"]
            assert override["reason"] == f"{role} says so"
            assert (await deploy(stack, headers, status="aborted")).status_code == 200
        else:
            # A developer sends events, but may not break the glass.
            assert response.status_code == 403, (role, response.text)
            assert response.json() == FORBIDDEN
            assert (await deploy(stack, headers)).status_code == 428


async def test_an_api_key_override_is_403_and_nothing_is_recorded(
    stack: Stack, ci: dict[str, str]
) -> None:
    await flow_rule(stack)
    attempts: list[dict[str, Any]] = [
        {"override_reason": "ci wants it"},
        {"extra_metadata": {"override_reason": "ci wants it"}},
        {"override_reason": "ci wants it", "status": "completed"},
    ]
    for fields in attempts:
        response = await deploy(stack, ci, **fields)
        assert response.status_code == 403, (fields, response.text)
        assert response.json() == FORBIDDEN
    await nothing_recorded(stack)
    products = await stack.http.get("/products/", headers=ci)
    assert products.json() == []


@pytest.mark.databases("sqlite")
async def test_an_override_through_metadata_as_versioners_clients_send_it(
    stack: Stack,
) -> None:
    await flow_rule(stack)
    sre = stack.auth(await stack.user("sre"))
    response = await deploy(
        stack, sre, extra_metadata={"override_reason": "  rollback  ", "vi_gh_run": "7"}
    )
    assert response.status_code == 200, response.text
    metadata = response.json()["extra_metadata"]
    assert metadata["preflight_status"]["override"]["reason"] == "rollback"
    assert metadata["vi_gh_run"] == "7"


@pytest.mark.databases("sqlite")
async def test_a_blank_override_reason_is_no_override(stack: Stack, ci: dict[str, str]) -> None:
    await flow_rule(stack)
    response = await deploy(stack, ci, override_reason="   ")
    assert response.status_code == 428, response.text


@pytest.mark.databases("sqlite")
async def test_an_override_with_nothing_to_override_is_a_plain_start(stack: Stack) -> None:
    sre = stack.auth(await stack.user("sre"))
    response = await deploy(stack, sre, override_reason="just in case")
    assert response.status_code == 200, response.text
    assert response.json()["extra_metadata"]["preflight_status"] == {
        "status": "passed",
        "rules_evaluated": [],
        "override": None,
    }
    audit = await stack.http.get(
        "/audit/", params={"kind": "deployment.overridden"}, headers=stack.admin
    )
    assert audit.json() == []


async def test_an_override_never_passes_a_deployment_in_progress_or_a_sha_clash(
    stack: Stack, ci: dict[str, str]
) -> None:
    await flow_rule(stack)
    sre = stack.auth(await stack.user("sre"))
    built = await stack.http.post(
        "/build-events/",
        json={"product_name": "api", "version": "1.4.0", "status": "completed", "scm_sha": "a1"},
        headers=ci,
    )
    assert built.status_code == 200, built.text
    clash = await deploy(stack, sre, scm_sha="b2", override_reason="ship it")
    assert clash.status_code == 428, clash.text
    assert [v["code"] for v in clash.json()["detail"]["details"]["violations"]] == [
        "VERSION_CONFLICT",
        "FLOW_VIOLATION",
    ]
    running = await deploy(stack, sre, override_reason="ship it")
    assert running.status_code == 200, running.text
    second = await deploy(stack, sre, version="1.5.0", override_reason="ship that too")
    assert second.status_code == 428, second.text
    detail = second.json()["detail"]
    assert [v["code"] for v in detail["details"]["violations"]] == [
        "DEPLOYMENT_IN_PROGRESS",
        "FLOW_VIOLATION",
    ]
    assert detail["details"]["conflicting_deployment_id"] == running.json()["id"]
    deployments = await stack.http.get("/deployments/", headers=ci)
    assert [d["id"] for d in deployments.json()] == [running.json()["id"]]


# The audit log -----------------------------------------------------------------------------


@pytest.mark.databases("sqlite")
async def test_who_may_read_the_audit_log(stack: Stack, ci: dict[str, str]) -> None:
    for role in ROLES:
        response = await stack.http.get("/audit/", headers=stack.auth(await stack.user(role)))
        if role in AUDIT_READERS:
            assert response.status_code == 200, (role, response.text)
            assert isinstance(response.json(), list)
        else:
            assert response.status_code == 403, (role, response.text)
            assert response.json() == FORBIDDEN
    by_key = await stack.http.get("/audit/", headers=ci)
    assert by_key.status_code == 403
    assert by_key.json() == FORBIDDEN
    assert (await stack.http.get("/audit/")).status_code == 401


@pytest.mark.databases("sqlite")
async def test_the_audit_log_is_a_bare_array_newest_first(stack: Stack) -> None:
    rule = await flow_rule(stack)
    await stack.http.patch(
        f"/deployment-rules/{rule['id']}", json={"mode": "report_only"}, headers=stack.admin
    )
    bare = await stack.http.get("/audit", headers=stack.admin)
    slashed = await stack.http.get("/audit/", headers=stack.admin)
    assert bare.status_code == slashed.status_code == 200
    assert bare.json() == slashed.json()
    entries = bare.json()
    assert bare.headers["x-total-count"] == str(len(entries))
    assert all(set(e) == AUDIT_FIELDS for e in entries)
    assert all(is_utc(e["at"]) for e in entries)
    ids = [e["id"] for e in entries]
    assert ids == sorted(ids, reverse=True)
    assert [e["action"] for e in entries[:2]] == ["rule.mode_changed", "rule.created"]
    changed, created = entries[:2]
    assert changed["actor"] == created["actor"] == "user:admin"
    assert changed["subject_id"] == created["subject_id"] == rule["id"]
    assert changed["data"] == {"from": "enabled", "to": "report_only"}
    assert "report_only" in changed["summary"]
    assert created["data"]["rule"]["name"] == FLOW_NAME

    page = await stack.http.get("/audit/", params={"limit": 1}, headers=stack.admin)
    assert [e["id"] for e in page.json()] == ids[:1]
    assert page.headers["x-total-count"] == str(len(ids))
    rest = await stack.http.get("/audit/", params={"before": ids[0]}, headers=stack.admin)
    assert [e["id"] for e in rest.json()] == ids[1:]
    for bad in ({"before": "0"}, {"before": "x"}, {"kind": "k" * 65}, {"since": "yesterday"}):
        refused = await stack.http.get("/audit/", params=bad, headers=stack.admin)
        assert refused.status_code == 422, (bad, refused.text)


async def test_audit_filters_since_kind_and_actor(stack: Stack, ci: dict[str, str]) -> None:
    sre_token = await stack.user("sre", name="sasha")
    sre = stack.auth(sre_token)
    rule = await flow_rule(stack)
    middle = datetime.now(UTC)
    await stack.http.patch(
        f"/deployment-rules/{rule['id']}", json={"mode": "disabled"}, headers=sre
    )
    await stack.http.patch(
        f"/deployment-rules/{rule['id']}", json={"name": "renamed flow"}, headers=sre
    )
    assert (await deploy(stack, ci)).status_code == 200

    async def actions(**params: str) -> list[tuple[str, str]]:
        response = await stack.http.get("/audit/", params=params, headers=stack.admin)
        assert response.status_code == 200, response.text
        assert response.headers["x-total-count"] == str(len(response.json()))
        return [(e["action"], e["actor"]) for e in response.json()]

    since = middle.isoformat().replace("+00:00", "Z")
    assert await actions(since=since) == [
        ("deployment.verdict", "api_key:ci"),
        ("rule.updated", "user:sasha"),
        ("rule.mode_changed", "user:sasha"),
    ]
    assert await actions(kind="rule.created") == [("rule.created", "user:admin")]
    assert await actions(kind="rule.") == [
        ("rule.updated", "user:sasha"),
        ("rule.mode_changed", "user:sasha"),
        ("rule.created", "user:admin"),
    ]
    # An exact kind is not a prefix.
    assert await actions(kind="rule") == []
    assert await actions(actor="user:sasha") == [
        ("rule.updated", "user:sasha"),
        ("rule.mode_changed", "user:sasha"),
        ("invite.redeemed", "user:sasha"),
    ]
    assert await actions(actor="api_key:ci") == [("deployment.verdict", "api_key:ci")]
    assert await actions(actor="user:nobody") == []
    assert await actions(kind="rule.", actor="user:sasha", since=since) == [
        ("rule.updated", "user:sasha"),
        ("rule.mode_changed", "user:sasha"),
    ]
    future = datetime(2100, 1, 1, tzinfo=UTC).isoformat()
    assert await actions(since=future) == []


@pytest.mark.databases("sqlite")
async def test_the_actor_filter_is_exact_and_kind_optional(stack: Stack) -> None:
    sam = stack.auth(await stack.user("sre", name="sam"))
    samantha = stack.auth(await stack.user("sre", name="samantha"))
    under = stack.auth(await stack.user("sre", name="s_m"))
    for name, headers in (("by sam", sam), ("by samantha", samantha), ("by s_m", under)):
        created = await stack.http.post(
            "/deployment-rules/",
            json={"name": name, "rule_type": "dr_required", "config": {"approval_types": ["qa"]}},
            headers=headers,
        )
        assert created.status_code == 201, created.text

    async def actors(actor: str) -> list[str]:
        response = await stack.http.get(
            "/audit/", params={"actor": actor, "kind": "rule.created"}, headers=stack.admin
        )
        assert response.status_code == 200, response.text
        return [e["actor"] for e in response.json()]

    assert await actors("user:sam") == ["user:sam"]
    # A bare name matches that caller of any kind, never a longer name.
    assert await actors("sam") == ["user:sam"]
    assert await actors("samantha") == ["user:samantha"]
    # `_` and `%` are characters, not wildcards.
    assert await actors("s_m") == ["user:s_m"]
    assert await actors("s%") == []
    assert await actors("user:") == []


@pytest.mark.databases("sqlite")
async def test_approvals_steps_and_decisions_are_audited(stack: Stack) -> None:
    dev = stack.auth(await stack.user("developer", name="dana"))
    qa = stack.auth(await stack.user("qa", name="quinn"))
    created = await stack.http.post(
        "/deployment-requests/",
        json={
            "name": "release 1.4",
            "items": [{"product": "api", "version": "1.4.0"}],
            "environments": ["production"],
            "approval_slots": [{"approval_type": "qa"}],
            "pre_steps": ["announce"],
        },
        headers=dev,
    )
    request = created.json()
    await stack.http.post(f"/deployment-requests/{request['id']}/submit", headers=dev)
    await stack.http.post(
        f"/deployment-requests/{request['id']}/steps/{request['pre_steps'][0]['id']}/complete",
        headers=dev,
    )
    decided = await stack.http.post(
        f"/deployment-requests/{request['id']}/slots/{request['approval_slots'][0]['id']}/decision",
        json={"decision": "approve", "comment": "green"},
        headers=qa,
    )
    assert decided.status_code == 200, decided.text
    response = await stack.http.get("/audit/", params={"kind": "dr."}, headers=stack.admin)
    entries = response.json()
    assert [(e["action"], e["actor"]) for e in entries] == [
        ("dr.slot_approved", "user:quinn"),
        ("dr.step_completed", "user:dana"),
        ("dr.submit", "user:dana"),
        ("dr.created", "user:dana"),
    ]
    assert all(e["subject_id"] == request["id"] for e in entries)
    assert entries[0]["data"]["comment"] == "green"
