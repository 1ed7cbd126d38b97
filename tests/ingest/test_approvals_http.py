"""Version approvals over HTTP: by id and by percent-encoded names, who may sign off what,
revoking, and what a version_approval rule makes of them."""

from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest

from tests.support.flows import FORBIDDEN, NOT_FOUND, build_body, deploy_body, is_utc
from tests.support.stack import Stack

APPROVAL_FIELDS = {
    "id",
    "version_id",
    "product_name",
    "version",
    "approval_type",
    "environment",
    "comment",
    "approved_by",
    "approver_role",
    "created_at",
    "revoked_at",
}
# API.md: who fills each type (admin and release_manager fill every one), among the roles that
# may approve a version at all (developer is not one: code_review is a DR slot's business).
FILLERS = {
    "uat": {"product"},
    "qa": {"qa"},
    "performance": {"sre", "qa"},
    "security": {"security"},
    "code_review": set(),
    "compliance": {"compliance"},
}
EVERY_TYPE = {"admin", "release_manager"}


async def built(stack: Stack, headers: dict[str, str], product: str, version: str) -> str:
    """A completed build; the version's id."""
    response = await stack.http.post(
        "/build-events/", json=build_body(product_name=product, version=version), headers=headers
    )
    assert response.status_code == 200, response.text
    version_id: str = response.json()["version_id"]
    return version_id


async def approve(stack: Stack, headers: dict[str, str], path: str, **body: Any) -> httpx.Response:
    """POST an approval to `path` (…/approvals)."""
    return await stack.http.post(path, json={"approval_type": "qa", **body}, headers=headers)


@pytest.mark.databases("sqlite")
async def test_approve_by_id_answers_201_with_the_sign_off(
    stack: Stack, ci: dict[str, str]
) -> None:
    version_id = await built(stack, ci, "api", "1.4.0")
    qa = stack.auth(await stack.user("qa", name="quinn"))
    for path in (f"/versions/{version_id}/approvals", f"/versions/{version_id}/approvals/"):
        response = await approve(stack, qa, path, environment="staging", comment="regression green")
        assert response.status_code == 201, response.text
        body = response.json()
        assert set(body) == APPROVAL_FIELDS
        UUID(body["id"])
        assert body["version_id"] == version_id
        assert (body["product_name"], body["version"]) == ("api", "1.4.0")
        assert (body["approval_type"], body["environment"]) == ("qa", "staging")
        assert body["comment"] == "regression green"
        assert (body["approved_by"], body["approver_role"]) == ("quinn", "qa")
        assert is_utc(body["created_at"])
        assert body["revoked_at"] is None
    listed = await stack.http.get(f"/versions/{version_id}/approvals", headers=ci)
    assert listed.status_code == 200
    assert listed.headers["x-total-count"] == "2"
    assert len(listed.json()) == 2


@pytest.mark.databases("sqlite")
async def test_approve_by_percent_encoded_product_and_version(
    stack: Stack, ci: dict[str, str]
) -> None:
    version_id = await built(stack, ci, "org/api", "1.4.0+build.7")
    other_id = await built(stack, ci, "api", "1.4.0+build.7")
    security = stack.auth(await stack.user("security"))
    for path in (
        "/versions/org%2Fapi/1.4.0%2Bbuild.7/approvals",
        "/versions/org%2Fapi/1.4.0%2Bbuild.7/approvals/",
    ):
        response = await approve(stack, security, path, approval_type="security")
        assert response.status_code == 201, response.text
        assert response.json()["version_id"] == version_id
        assert response.json()["product_name"] == "org/api"
        assert response.json()["version"] == "1.4.0+build.7"
    plain = await approve(
        stack, security, "/versions/api/1.4.0%2Bbuild.7/approvals", approval_type="security"
    )
    assert plain.status_code == 201, plain.text
    assert plain.json()["version_id"] == other_id
    for missing in ("/versions/org%2Fapi/9.9.9/approvals", "/versions/org%2Fweb/1.4.0/approvals"):
        response = await approve(stack, security, missing, approval_type="security")
        assert response.status_code == 404, response.text
        assert response.json() == NOT_FOUND
    listed = await stack.http.get(f"/versions/{version_id}/approvals", headers=ci)
    assert [a["approval_type"] for a in listed.json()] == ["security", "security"]


@pytest.mark.databases("sqlite")
async def test_approve_a_version_with_a_slash_by_name(stack: Stack, ci: dict[str, str]) -> None:
    version_id = await built(stack, ci, "org/api", "release/2.0")
    for path in (
        "/versions/org%2Fapi/release%2F2.0/approvals",
        "/versions/org%2Fapi/release%2F2.0/approvals/",
        # Slashes left unencoded in the product still work: the version is the last segment.
        "/versions/org/api/release%2F2.0/approvals",
    ):
        response = await approve(stack, stack.admin, path)
        assert response.status_code == 201, (path, response.text)
        assert response.json()["version_id"] == version_id


@pytest.mark.databases("sqlite")
async def test_list_and_revoke_naming_the_version(stack: Stack, ci: dict[str, str]) -> None:
    version_id = await built(stack, ci, "org/api", "release/2.0")
    await built(stack, ci, "org/api", "2.0")
    named = "/versions/org%2Fapi/release%2F2.0/approvals"
    approval = await approve(stack, stack.admin, named)
    assert approval.status_code == 201, approval.text
    for path in (named, named + "/", "/versions/org/api/release%2F2.0/approvals"):
        listed = await stack.http.get(path, headers=ci)
        assert listed.status_code == 200, (path, listed.text)
        assert [a["id"] for a in listed.json()] == [approval.json()["id"]]
        assert listed.json()[0]["version_id"] == version_id
    empty = await stack.http.get("/versions/org%2Fapi/2.0/approvals", headers=ci)
    assert empty.json() == []
    unknown = await stack.http.get("/versions/org%2Fapi/9.9/approvals", headers=ci)
    assert unknown.status_code == 404
    # Another version's path does not revoke it.
    wrong = await stack.http.delete(
        f"/versions/org%2Fapi/2.0/approvals/{approval.json()['id']}", headers=stack.admin
    )
    assert wrong.status_code == 404, wrong.text
    revoked = await stack.http.delete(f"{named}/{approval.json()['id']}", headers=stack.admin)
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["version_id"] == version_id
    assert is_utc(revoked.json()["revoked_at"])


@pytest.mark.databases("sqlite")
async def test_who_may_approve_which_type(stack: Stack, ci: dict[str, str]) -> None:
    version_id = await built(stack, ci, "api", "1.4.0")
    path = f"/versions/{version_id}/approvals"
    tokens = {
        role: stack.auth(await stack.user(role))
        for role in (
            "admin",
            "release_manager",
            "product",
            "developer",
            "sre",
            "qa",
            "security",
            "compliance",
            "billing",
            "viewer",
        )
    }
    for approval_type, fillers in FILLERS.items():
        for role, headers in tokens.items():
            response = await approve(stack, headers, path, approval_type=approval_type)
            if role in fillers | EVERY_TYPE:
                assert response.status_code == 201, (approval_type, role, response.text)
                assert response.json()["approver_role"] == role
            else:
                assert response.status_code == 403, (approval_type, role, response.text)
                assert response.json() == FORBIDDEN
        by_key = await approve(stack, ci, path, approval_type=approval_type)
        assert by_key.status_code == 403
    listed = await stack.http.get(path, headers=stack.admin)
    expected = sum(len(f | EVERY_TYPE) for f in FILLERS.values())
    assert listed.headers["x-total-count"] == str(expected)


@pytest.mark.databases("sqlite")
async def test_a_developer_may_not_approve_security(stack: Stack, ci: dict[str, str]) -> None:
    await built(stack, ci, "api", "1.4.0")
    developer = stack.auth(await stack.user("developer"))
    response = await approve(
        stack, developer, "/versions/api/1.4.0/approvals", approval_type="security"
    )
    assert response.status_code == 403, response.text
    assert response.json() == FORBIDDEN
    audit = await stack.http.get(
        "/audit/", params={"kind": "version.approved"}, headers=stack.admin
    )
    assert audit.json() == []


@pytest.mark.databases("sqlite")
async def test_an_unknown_approval_type_is_422(stack: Stack, ci: dict[str, str]) -> None:
    version_id = await built(stack, ci, "api", "1.4.0")
    for path in (f"/versions/{version_id}/approvals", "/versions/api/1.4.0/approvals"):
        response = await approve(stack, stack.admin, path, approval_type="gut_feeling")
        assert response.status_code == 422, response.text
        [error] = response.json()["detail"]
        assert error["loc"] == ["body", "approval_type"]


@pytest.mark.databases("sqlite")
async def test_unknown_versions_are_404(stack: Stack) -> None:
    for path in (f"/versions/{uuid4()}/approvals", "/versions/nothing/1.0/approvals"):
        response = await approve(stack, stack.admin, path)
        assert response.status_code == 404, response.text
        assert response.json() == NOT_FOUND


async def test_delete_revokes_and_the_rule_blocks_again(stack: Stack, ci: dict[str, str]) -> None:
    version_id = await built(stack, ci, "api", "1.4.0")
    rule = await stack.http.post(
        "/deployment-rules/",
        json={
            "name": "security sign-off",
            "rule_type": "version_approval",
            "config": {"approval_types": ["security"]},
        },
        headers=stack.admin,
    )
    assert rule.status_code == 201, rule.text
    blocked = await stack.http.post(
        "/deployment-events/", json=deploy_body(version="1.4.0"), headers=ci
    )
    assert blocked.status_code == 428, blocked.text
    detail = blocked.json()["detail"]
    assert detail["code"] == "QUALITY_APPROVAL_REQUIRED"
    assert detail["details"]["missing_approvals"] == ["security"]
    assert detail["details"]["approver_roles"] == ["admin", "release_manager", "security"]
    assert detail["details"]["version_id"] == version_id

    security = stack.auth(await stack.user("security", name="sam"))
    approval = await approve(
        stack, security, f"/versions/{version_id}/approvals", approval_type="security"
    )
    assert approval.status_code == 201, approval.text
    through = await stack.http.post(
        "/deployment-events/", json=deploy_body(version="1.4.0"), headers=ci
    )
    assert through.status_code == 200, through.text
    aborted = await stack.http.post(
        "/deployment-events/", json=deploy_body(version="1.4.0", status="aborted"), headers=ci
    )
    assert aborted.status_code == 200

    path = f"/versions/{version_id}/approvals/{approval.json()['id']}"
    # Revoking takes a role that may fill the type.
    for role in ("developer", "qa"):
        refused = await stack.http.delete(path, headers=stack.auth(await stack.user(role)))
        assert refused.status_code == 403, refused.text
    assert (await stack.http.delete(path, headers=ci)).status_code == 403
    revoked = await stack.http.delete(path, headers=security)
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["id"] == approval.json()["id"]
    assert is_utc(revoked.json()["revoked_at"])
    again = await stack.http.delete(path + "/", headers=stack.admin)
    assert again.status_code == 409, again.text
    missing = await stack.http.delete(
        f"/versions/{version_id}/approvals/{uuid4()}", headers=stack.admin
    )
    assert missing.status_code == 404

    listed = await stack.http.get(f"/versions/{version_id}/approvals", headers=ci)
    [shown] = listed.json()
    assert shown["revoked_at"] == revoked.json()["revoked_at"]
    blocked_again = await stack.http.post(
        "/deployment-events/", json=deploy_body(version="1.4.0"), headers=ci
    )
    assert blocked_again.status_code == 428, blocked_again.text
    assert blocked_again.json()["detail"]["code"] == "QUALITY_APPROVAL_REQUIRED"
    audit = await stack.http.get("/audit/", params={"kind": "version."}, headers=stack.admin)
    assert [e["action"] for e in audit.json()] == [
        "version.approval_revoked",
        "version.approved",
    ]


async def version_approval_rule_for_staging(stack: Stack) -> None:
    """A rule: production needs a qa sign-off given for staging."""
    rule = await stack.http.post(
        "/deployment-rules/",
        json={
            "name": "qa in staging",
            "rule_type": "version_approval",
            "environments": ["production"],
            "config": {"approval_types": ["qa"], "environment": "staging"},
        },
        headers=stack.admin,
    )
    assert rule.status_code == 201, rule.text


@pytest.mark.databases("sqlite")
async def test_an_approval_for_an_environment_counts_only_there(
    stack: Stack, ci: dict[str, str]
) -> None:
    version_id = await built(stack, ci, "api", "1.4.0")
    await version_approval_rule_for_staging(stack)
    for status in ("started", "completed"):
        staged = await stack.http.post(
            "/deployment-events/",
            json=deploy_body(version="1.4.0", environment_name="staging", status=status),
            headers=ci,
        )
        assert staged.status_code == 200, staged.text
    qa = stack.auth(await stack.user("qa"))
    path = f"/versions/{version_id}/approvals"
    for environment in (None, "test"):
        assert (await approve(stack, qa, path, environment=environment)).status_code == 201
        blocked = await stack.http.post(
            "/deployment-events/", json=deploy_body(version="1.4.0"), headers=ci
        )
        assert blocked.status_code == 428, blocked.text
        assert "in staging" in blocked.json()["detail"]["message"]
    assert (await approve(stack, qa, path, environment="staging")).status_code == 201
    through = await stack.http.post(
        "/deployment-events/", json=deploy_body(version="1.4.0"), headers=ci
    )
    assert through.status_code == 200, through.text


@pytest.mark.databases("sqlite")
async def test_an_approval_for_an_environment_not_seen_yet_counts_once_it_is(
    stack: Stack, ci: dict[str, str]
) -> None:
    version_id = await built(stack, ci, "api", "1.4.0")
    await version_approval_rule_for_staging(stack)
    qa = stack.auth(await stack.user("qa"))
    approval = await approve(stack, qa, f"/versions/{version_id}/approvals", environment="staging")
    assert approval.status_code == 201, approval.text
    for status in ("started", "completed"):
        staged = await stack.http.post(
            "/deployment-events/",
            json=deploy_body(version="1.4.0", environment_name="staging", status=status),
            headers=ci,
        )
        assert staged.status_code == 200, staged.text
    through = await stack.http.post(
        "/deployment-events/", json=deploy_body(version="1.4.0"), headers=ci
    )
    assert through.status_code == 200, through.text


@pytest.mark.databases("sqlite")
async def test_revoking_under_another_versions_path_is_404(
    stack: Stack, ci: dict[str, str]
) -> None:
    approved_id = await built(stack, ci, "api", "1.4.0")
    other_id = await built(stack, ci, "api", "1.5.0")
    approval = await approve(stack, stack.admin, f"/versions/{approved_id}/approvals")
    assert approval.status_code == 201, approval.text
    response = await stack.http.delete(
        f"/versions/{other_id}/approvals/{approval.json()['id']}", headers=stack.admin
    )
    assert response.status_code == 404, response.text
    listed = await stack.http.get(f"/versions/{approved_id}/approvals", headers=ci)
    assert listed.json()[0]["revoked_at"] is None
