"""Version approvals: who may sign off which type, by id or by names, in an environment, revoked."""

from uuid import UUID, uuid4

import pytest

from tests.support.policy import (
    ADMIN,
    CI,
    VIEWER,
    Policy,
    audit_entries,
    outbox,
    recorded_build,
    refused,
    result,
)
from versioner.common.governance import VersionApprovalPublic
from versioner.common.messages.actor import Actor
from versioner.common.messages.domain import VersionApproved
from versioner.common.messages.management import (
    ApproveVersion,
    GetProduct,
    ListVersionApprovals,
    RevokeVersionApproval,
    UpdateProduct,
)
from versioner.common.resources import Page, ProductPublic
from versioner.common.roles import ApprovalType, Role


def _user(role: Role, name: str) -> Actor:
    return Actor(kind="user", id=uuid4(), name=name, role=role)


SECURITY = _user(Role.SECURITY, "sam")
QA = _user(Role.QA, "quinn")


async def _version(policy: Policy) -> UUID:
    return recorded_build(await policy.build("api", "2.0.0", scm_sha="abc1234")).version_id


def _by_id(
    version_id: UUID,
    approval_type: ApprovalType = ApprovalType.SECURITY,
    *,
    by: Actor = SECURITY,
    environment: str | None = None,
) -> ApproveVersion:
    return ApproveVersion(
        actor=by,
        version_id=version_id,
        approval_type=approval_type,
        environment=environment,
        comment="pen test passed",
    )


async def _approve(policy: Policy, request: ApproveVersion) -> VersionApprovalPublic:
    return result(await policy.ask(request), VersionApprovalPublic)


async def test_an_approval_by_version_id_is_recorded(policy: Policy) -> None:
    version_id = await _version(policy)
    approval = await _approve(policy, _by_id(version_id))
    assert approval.version_id == version_id
    assert (approval.product_name, approval.version) == ("api", "2.0.0")
    assert approval.approval_type == "security"
    assert approval.environment is None
    assert approval.comment == "pen test passed"
    assert (approval.approved_by, approval.approver_role) == ("sam", "security")
    assert approval.created_at == policy.clock.now()
    assert approval.revoked_at is None


async def test_an_approval_by_product_and_version_names_is_recorded(policy: Policy) -> None:
    version_id = await _version(policy)
    request = ApproveVersion(
        actor=QA, product="api", version="2.0.0", approval_type=ApprovalType.QA
    )
    approval = await _approve(policy, request)
    assert (approval.version_id, approval.approval_type) == (version_id, "qa")


async def test_an_approval_by_a_products_old_name_finds_the_version(policy: Policy) -> None:
    version_id = await _version(policy)
    product = result(await policy.ask(GetProduct(actor=ADMIN, ref="api")), ProductPublic)
    rename = UpdateProduct(actor=ADMIN, product_id=product.id, name="core-api")
    result(await policy.ask(rename), ProductPublic)
    request = ApproveVersion(
        actor=QA, product="api", version="2.0.0", approval_type=ApprovalType.QA
    )
    approval = await _approve(policy, request)
    assert (approval.version_id, approval.product_name) == (version_id, "core-api")


async def test_an_approval_for_an_environment_keeps_it(policy: Policy) -> None:
    version_id = await _version(policy)
    approval = await _approve(policy, _by_id(version_id, environment="staging"))
    assert approval.environment == "staging"


async def test_an_approval_is_audited_and_announced(policy: Policy) -> None:
    version_id = await _version(policy)
    approval = await _approve(policy, _by_id(version_id, environment="staging"))
    [entry] = await audit_entries(policy.ctx, "version.approved")
    assert (entry.actor, entry.at, entry.subject_id) == (
        "user:sam",
        policy.clock.now(),
        str(version_id),
    )
    assert entry.summary == "sam approved api 2.0.0 (security) for staging"
    assert entry.data["approval_id"] == str(approval.id)
    [row] = await outbox(policy.ctx, "version.approved")
    event = VersionApproved.model_validate_json(row.body)
    assert event.approval == approval
    assert event.actor == "user:sam"


async def test_an_unknown_version_is_404(policy: Policy) -> None:
    await _version(policy)
    refused(await policy.ask(_by_id(uuid4())), 404)
    by_name = ApproveVersion(
        actor=QA, product="api", version="9.9.9", approval_type=ApprovalType.QA
    )
    refused(await policy.ask(by_name), 404)
    assert await outbox(policy.ctx, "version.approved") == []


async def test_an_approval_naming_no_version_is_422(policy: Policy) -> None:
    refused(await policy.ask(ApproveVersion(actor=QA, approval_type=ApprovalType.QA)), 422)


APPROVERS = [
    pytest.param(ApprovalType.SECURITY, Role.SECURITY, True, id="security-security"),
    pytest.param(ApprovalType.QA, Role.QA, True, id="qa-qa"),
    pytest.param(ApprovalType.PERFORMANCE, Role.SRE, True, id="sre-performance"),
    pytest.param(ApprovalType.UAT, Role.PRODUCT, True, id="product-uat"),
    pytest.param(ApprovalType.COMPLIANCE, Role.COMPLIANCE, True, id="compliance-compliance"),
    pytest.param(ApprovalType.SECURITY, Role.RELEASE_MANAGER, True, id="rm-security"),
    pytest.param(ApprovalType.CODE_REVIEW, Role.ADMIN, True, id="admin-review"),
    pytest.param(ApprovalType.SECURITY, Role.QA, False, id="qa-not-security"),
    pytest.param(ApprovalType.UAT, Role.SRE, False, id="sre-not-uat"),
    pytest.param(ApprovalType.SECURITY, Role.DEVELOPER, False, id="developer-never"),
    pytest.param(ApprovalType.CODE_REVIEW, Role.DEVELOPER, False, id="developer-not-even-review"),
    pytest.param(ApprovalType.QA, Role.BILLING, False, id="billing-never"),
    pytest.param(ApprovalType.QA, Role.VIEWER, False, id="viewer-never"),
]


@pytest.mark.parametrize(("approval_type", "role", "may"), APPROVERS)
async def test_only_a_role_that_may_fill_the_type_approves_a_version(
    policy: Policy, approval_type: ApprovalType, role: Role, may: bool
) -> None:
    version_id = await _version(policy)
    reply = await policy.ask(_by_id(version_id, approval_type, by=_user(role, "someone")))
    if may:
        assert result(reply, VersionApprovalPublic).approver_role == role
    else:
        refused(reply, 403)
        assert await audit_entries(policy.ctx, "version.approved") == []


async def test_an_api_key_never_approves_a_version(policy: Policy) -> None:
    version_id = await _version(policy)
    refused(await policy.ask(_by_id(version_id, by=CI)), 403)


async def test_a_revoked_approval_is_marked_and_audited(policy: Policy) -> None:
    version_id = await _version(policy)
    approval = await _approve(policy, _by_id(version_id))
    policy.clock.advance(hours=2)
    revoked = result(
        await policy.ask(RevokeVersionApproval(actor=SECURITY, approval_id=approval.id)),
        VersionApprovalPublic,
    )
    assert revoked.revoked_at == policy.clock.now()
    [entry] = await audit_entries(policy.ctx, "version.approval_revoked")
    assert (entry.actor, entry.at) == ("user:sam", policy.clock.now())
    assert entry.data == {"approval_id": str(approval.id)}


async def test_revoking_twice_is_409(policy: Policy) -> None:
    version_id = await _version(policy)
    approval = await _approve(policy, _by_id(version_id))
    revoke = RevokeVersionApproval(actor=SECURITY, approval_id=approval.id)
    result(await policy.ask(revoke), VersionApprovalPublic)
    refused(await policy.ask(revoke), 409)


async def test_revoking_needs_a_role_that_may_fill_the_type(policy: Policy) -> None:
    version_id = await _version(policy)
    approval = await _approve(policy, _by_id(version_id))
    refused(await policy.ask(RevokeVersionApproval(actor=QA, approval_id=approval.id)), 403)
    refused(await policy.ask(RevokeVersionApproval(actor=VIEWER, approval_id=approval.id)), 403)
    other_security = _user(Role.SECURITY, "sue")
    revoke = RevokeVersionApproval(actor=other_security, approval_id=approval.id)
    assert result(await policy.ask(revoke), VersionApprovalPublic).revoked_at is not None


async def test_revoking_through_another_version_is_404(policy: Policy) -> None:
    version_id = await _version(policy)
    other = recorded_build(await policy.build("api", "1.9.0")).version_id
    approval = await _approve(policy, _by_id(version_id))
    revoke = RevokeVersionApproval(actor=SECURITY, approval_id=approval.id, version_id=other)
    refused(await policy.ask(revoke), 404)
    listed = result(
        await policy.ask(ListVersionApprovals(actor=CI, version_id=version_id)),
        Page[VersionApprovalPublic],
    )
    assert listed.items[0].revoked_at is None


async def test_revoking_an_unknown_approval_is_404(policy: Policy) -> None:
    refused(await policy.ask(RevokeVersionApproval(actor=ADMIN, approval_id=uuid4())), 404)


async def test_a_versions_approvals_are_listed_newest_first_revoked_ones_too(
    policy: Policy,
) -> None:
    version_id = await _version(policy)
    first = await _approve(policy, _by_id(version_id))
    policy.clock.advance(minutes=1)
    second = await _approve(policy, _by_id(version_id, ApprovalType.QA, by=QA))
    result(
        await policy.ask(RevokeVersionApproval(actor=SECURITY, approval_id=first.id)),
        VersionApprovalPublic,
    )
    page = result(
        await policy.ask(ListVersionApprovals(actor=CI, product="api", version="2.0.0")),
        Page[VersionApprovalPublic],
    )
    assert [a.id for a in page.items] == [second.id, first.id]
    assert page.items[1].revoked_at is not None
    assert page.total == 2
