"""`dr_required` rules: an in-progress or approved Deployment Request with the named types."""

from collections.abc import Sequence
from typing import Literal
from uuid import uuid4

from tests.support.policy import ADMIN, Policy, detail_of, recorded, refused, result
from versioner.common.errors import ErrorDetail
from versioner.common.governance import DeploymentRequestPublic, RequestItemIn, SlotIn
from versioner.common.messages.actor import Actor
from versioner.common.messages.management import CreateRequest, CreateRule, DecideSlot, MoveRequest
from versioner.common.roles import ApprovalType, Role
from versioner.common.rules import RulePublic

DEVELOPER = Actor(kind="user", id=uuid4(), name="dev", role=Role.DEVELOPER)
QA = Actor(kind="user", id=uuid4(), name="quinn", role=Role.QA)
SECURITY = Actor(kind="user", id=uuid4(), name="sam", role=Role.SECURITY)
QA_T, SECURITY_T = ApprovalType.QA, ApprovalType.SECURITY


async def _requires(policy: Policy, *types: ApprovalType) -> RulePublic:
    request = CreateRule(
        actor=ADMIN,
        name="needs a DR",
        rule_type="dr_required",
        environments=["production"],
        config={"approval_types": [str(t) for t in types]},
    )
    return result(await policy.ask(request), RulePublic)


async def _request(
    policy: Policy,
    slots: Sequence[tuple[ApprovalType, bool]],
    *,
    version: str = "1.0.0",
    environment: str = "production",
    submit: bool = True,
) -> DeploymentRequestPublic:
    """A request for api `version` in `environment` with these (type, optional) slots."""
    dr = result(
        await policy.ask(
            CreateRequest(
                actor=DEVELOPER,
                name="release",
                items=[RequestItemIn(product="api", version=version)],
                environments=[environment],
                approval_slots=[SlotIn(approval_type=t, optional=o) for t, o in slots],
            )
        ),
        DeploymentRequestPublic,
    )
    if submit:
        dr = await _move(policy, dr, "submit")
    return dr


async def _move(
    policy: Policy,
    dr: DeploymentRequestPublic,
    action: Literal["submit", "revert", "complete", "cancel"],
) -> DeploymentRequestPublic:
    moved = MoveRequest(actor=DEVELOPER, request_id=dr.id, action=action)
    return result(await policy.ask(moved), DeploymentRequestPublic)


async def _decide(
    policy: Policy,
    dr: DeploymentRequestPublic,
    index: int,
    by: Actor,
    decision: Literal["approve", "reject"] = "approve",
) -> DeploymentRequestPublic:
    slot = dr.approval_slots[index]
    decide = DecideSlot(actor=by, request_id=dr.id, slot_id=slot.id, decision=decision)
    return result(await policy.ask(decide), DeploymentRequestPublic)


async def _blocked(policy: Policy, version: str = "1.0.0") -> ErrorDetail:
    return detail_of(refused(await policy.start("api", version, "production"), 428))


def _codes(detail: ErrorDetail) -> list[str]:
    return [v["code"] for v in detail.details["violations"]]


async def test_no_request_at_all_is_dr_required(policy: Policy) -> None:
    await _requires(policy, QA_T, SECURITY_T)
    detail = await _blocked(policy)
    assert detail.code == "DR_REQUIRED"
    assert detail.retry_after is None
    assert detail.details["rule_name"] == "needs a DR"
    assert detail.details["approval_types"] == ["qa", "security"]
    assert detail.message == (
        "production needs a Deployment Request in progress or approved, with qa, security "
        "approval slots, covering api 1.0.0. Create one (POST /deployment-requests/) and "
        "submit it."
    )
    [violation] = detail.details["violations"]
    assert (violation["rule_name"], violation["rule_type"]) == ("needs a DR", "dr_required")


async def test_a_draft_request_does_not_count(policy: Policy) -> None:
    await _requires(policy, QA_T)
    await _request(policy, [(QA_T, False)], submit=False)
    assert _codes(await _blocked(policy)) == ["DR_REQUIRED"]


async def test_an_in_progress_request_with_the_types_satisfies_it(policy: Policy) -> None:
    await _requires(policy, QA_T, SECURITY_T)
    # Optional slots: the request's own checks have nothing to say, only the rule's.
    await _request(policy, [(SECURITY_T, True), (QA_T, True)])
    recorded(await policy.start("api", "1.0.0", "production"))


async def test_an_in_progress_request_with_pending_slots_blocks_only_on_its_slots(
    policy: Policy,
) -> None:
    await _requires(policy, QA_T)
    await _request(policy, [(QA_T, False)])
    assert _codes(await _blocked(policy)) == ["APPROVAL_REQUIRED"]


async def test_a_request_lacking_one_of_the_types_does_not_satisfy_it(policy: Policy) -> None:
    await _requires(policy, QA_T, SECURITY_T)
    await _request(policy, [(QA_T, True)])
    assert _codes(await _blocked(policy)) == ["DR_REQUIRED"]


async def test_an_approved_request_satisfies_it(policy: Policy) -> None:
    await _requires(policy, QA_T, SECURITY_T)
    dr = await _request(policy, [(QA_T, False), (SECURITY_T, False)])
    await _decide(policy, dr, 0, QA)
    assert (await _decide(policy, dr, 1, SECURITY)).status == "approved"
    recorded(await policy.start("api", "1.0.0", "production"))


async def test_a_rejected_request_does_not_satisfy_it(policy: Policy) -> None:
    await _requires(policy, QA_T)
    dr = await _request(policy, [(QA_T, False)])
    assert (await _decide(policy, dr, 0, QA, "reject")).status == "rejected"
    assert _codes(await _blocked(policy)) == ["DR_REQUIRED", "APPROVAL_REQUIRED"]


async def test_a_completed_request_no_longer_satisfies_it(policy: Policy) -> None:
    await _requires(policy, QA_T)
    dr = await _request(policy, [(QA_T, False)])
    await _decide(policy, dr, 0, QA)
    await _move(policy, dr, "complete")
    assert _codes(await _blocked(policy)) == ["DR_REQUIRED"]


async def test_a_request_for_another_version_does_not_satisfy_it(policy: Policy) -> None:
    await _requires(policy, QA_T)
    await _request(policy, [(QA_T, True)], version="0.9.0")
    assert _codes(await _blocked(policy)) == ["DR_REQUIRED"]


async def test_a_request_for_another_environment_does_not_satisfy_it(policy: Policy) -> None:
    await _requires(policy, QA_T)
    await _request(policy, [(QA_T, True)], environment="staging")
    assert _codes(await _blocked(policy)) == ["DR_REQUIRED"]


async def test_the_rule_outside_its_scope_asks_for_nothing(policy: Policy) -> None:
    await _requires(policy, QA_T)
    recorded(await policy.start("api", "1.0.0", "staging"))
