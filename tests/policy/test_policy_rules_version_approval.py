"""`version_approval` rules: named sign-offs on the version, anywhere or in one environment."""

from uuid import UUID, uuid4

from tests.support.policy import (
    ADMIN,
    Policy,
    detail_of,
    recorded,
    recorded_build,
    refused,
    result,
)
from versioner.common.errors import ErrorDetail
from versioner.common.governance import VersionApprovalPublic
from versioner.common.messages.actor import Actor
from versioner.common.messages.management import (
    ApproveVersion,
    CreateRule,
    GetEnvironment,
    RevokeVersionApproval,
    UpdateEnvironment,
)
from versioner.common.resources import EnvironmentPublic
from versioner.common.roles import ApprovalType, Role
from versioner.common.rules import RulePublic

SECURITY = Actor(kind="user", id=uuid4(), name="sam", role=Role.SECURITY)
QA = Actor(kind="user", id=uuid4(), name="quinn", role=Role.QA)


async def _requires(
    policy: Policy, *types: str, environment: str | None = None, name: str = "signed off"
) -> RulePublic:
    request = CreateRule(
        actor=ADMIN,
        name=name,
        rule_type="version_approval",
        environments=["production"],
        config={"approval_types": list(types), "environment": environment},
    )
    return result(await policy.ask(request), RulePublic)


async def _version(policy: Policy) -> UUID:
    return recorded_build(await policy.build("api", "2.0.0", scm_sha="abc1234")).version_id


async def _approve(
    policy: Policy,
    approval_type: ApprovalType,
    *,
    by: Actor = SECURITY,
    environment: str | None = None,
) -> VersionApprovalPublic:
    request = ApproveVersion(
        actor=by,
        product="api",
        version="2.0.0",
        approval_type=approval_type,
        environment=environment,
    )
    return result(await policy.ask(request), VersionApprovalPublic)


async def _blocked(policy: Policy) -> ErrorDetail:
    return detail_of(refused(await policy.start("api", "2.0.0", "production"), 428))


async def _allowed(policy: Policy) -> None:
    recorded(await policy.start("api", "2.0.0", "production"))


async def test_a_missing_approval_is_quality_approval_required(policy: Policy) -> None:
    version_id = await _version(policy)
    await _requires(policy, "security", "qa")
    detail = await _blocked(policy)
    assert detail.code == "QUALITY_APPROVAL_REQUIRED"
    assert detail.retry_after is None
    assert detail.details["rule_name"] == "signed off"
    assert detail.details["missing_approvals"] == ["security", "qa"]
    assert detail.details["environment"] is None
    assert detail.details["version_id"] == str(version_id)
    assert detail.details["approver_roles"] == ["admin", "qa", "release_manager", "security"]
    assert detail.message.startswith("api 2.0.0 needs security, qa sign-off before production. ")
    assert "admin, qa, release_manager or security" in detail.message
    assert detail.message.endswith(f"can approve it: POST /versions/{version_id}/approvals.")
    [violation] = detail.details["violations"]
    assert violation["rule_type"] == "version_approval"


async def test_only_the_missing_types_are_named(policy: Policy) -> None:
    await _version(policy)
    await _requires(policy, "security", "qa")
    await _approve(policy, ApprovalType.SECURITY)
    assert (await _blocked(policy)).details["missing_approvals"] == ["qa"]


async def test_every_type_approved_lets_through(policy: Policy) -> None:
    await _version(policy)
    await _requires(policy, "security", "qa")
    await _approve(policy, ApprovalType.SECURITY)
    await _approve(policy, ApprovalType.QA, by=QA)
    await _allowed(policy)


async def test_without_an_environment_an_approval_given_anywhere_counts(policy: Policy) -> None:
    await _version(policy)
    await policy.deploy("api", "2.0.0", "staging")
    await _requires(policy, "security")
    await _approve(policy, ApprovalType.SECURITY, environment="staging")
    await _allowed(policy)


async def test_with_an_environment_an_approval_given_there_counts(policy: Policy) -> None:
    await _version(policy)
    await policy.deploy("api", "2.0.0", "staging")
    await _requires(policy, "security", environment="staging")
    await _approve(policy, ApprovalType.SECURITY, environment="staging")
    await _allowed(policy)


async def test_with_an_environment_an_approval_given_nowhere_in_particular_does_not_count(
    policy: Policy,
) -> None:
    await _version(policy)
    await policy.deploy("api", "2.0.0", "staging")
    await _requires(policy, "security", environment="staging")
    await _approve(policy, ApprovalType.SECURITY)
    detail = await _blocked(policy)
    assert detail.details["environment"] == "staging"
    assert detail.message.startswith("api 2.0.0 needs security sign-off in staging before ")


async def test_with_an_environment_an_approval_given_elsewhere_does_not_count(
    policy: Policy,
) -> None:
    await _version(policy)
    await policy.deploy("api", "2.0.0", "test")
    await policy.deploy("api", "2.0.0", "staging")
    await _requires(policy, "security", environment="staging")
    await _approve(policy, ApprovalType.SECURITY, environment="test")
    assert (await _blocked(policy)).code == "QUALITY_APPROVAL_REQUIRED"


async def test_an_approval_for_an_environment_under_its_old_name_counts(policy: Policy) -> None:
    await _version(policy)
    await policy.deploy("api", "2.0.0", "stage")
    await _approve(policy, ApprovalType.SECURITY, environment="stage")
    stage = result(await policy.ask(GetEnvironment(actor=ADMIN, ref="stage")), EnvironmentPublic)
    renamed = UpdateEnvironment(actor=ADMIN, environment_id=stage.id, name="staging")
    result(await policy.ask(renamed), EnvironmentPublic)
    await _requires(policy, "security", environment="staging")
    await _allowed(policy)


async def test_an_approval_for_an_environment_not_seen_yet_counts_once_it_appears(
    policy: Policy,
) -> None:
    await _version(policy)
    await _approve(policy, ApprovalType.SECURITY, environment="staging")
    await policy.deploy("api", "2.0.0", "staging")
    await _requires(policy, "security", environment="staging")
    await _allowed(policy)


async def test_a_revoked_approval_does_not_count(policy: Policy) -> None:
    await _version(policy)
    await _requires(policy, "security")
    approval = await _approve(policy, ApprovalType.SECURITY)
    await _allowed(policy)
    recorded(await policy.report("api", "2.0.0", "production", "completed"))
    revoke = RevokeVersionApproval(actor=SECURITY, approval_id=approval.id)
    result(await policy.ask(revoke), VersionApprovalPublic)
    assert (await _blocked(policy)).code == "QUALITY_APPROVAL_REQUIRED"


async def test_an_approval_of_another_version_does_not_count(policy: Policy) -> None:
    await _version(policy)
    recorded_build(await policy.build("api", "1.9.0"))
    await _requires(policy, "security")
    other = ApproveVersion(
        actor=SECURITY, product="api", version="1.9.0", approval_type=ApprovalType.SECURITY
    )
    result(await policy.ask(other), VersionApprovalPublic)
    assert (await _blocked(policy)).code == "QUALITY_APPROVAL_REQUIRED"


async def test_two_approval_rules_are_listed_by_name(policy: Policy) -> None:
    await _version(policy)
    await _requires(policy, "security", name="z security")
    await _requires(policy, "qa", name="a qa")
    detail = await _blocked(policy)
    assert [v["rule_name"] for v in detail.details["violations"]] == ["a qa", "z security"]
