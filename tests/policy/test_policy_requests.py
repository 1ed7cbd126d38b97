"""Deployment Requests: the lifecycle, who decides slots and ticks steps, and what they gate.

The standard request here ships api 1.0.0 to production with a required `qa` slot, an
optional `security` slot, one pre-deploy step and one post-deploy step; a developer creates it.
"""

from collections.abc import Sequence
from typing import Literal
from uuid import uuid4

import pytest

from tests.support.policy import (
    ADMIN,
    BOOTSTRAP_TOKEN,
    CI,
    VIEWER,
    Policy,
    audit_entries,
    detail_of,
    outbox,
    recorded,
    refused,
    result,
)
from versioner.common.errors import ErrorDetail
from versioner.common.governance import DeploymentRequestPublic, RequestItemIn, SlotIn
from versioner.common.messages.actor import SYSTEM, Actor
from versioner.common.messages.domain import RequestEventOccurred
from versioner.common.messages.management import (
    Authenticate,
    Authenticated,
    CompleteStep,
    CreateRequest,
    CreateUser,
    DecideSlot,
    GetEnvironment,
    GetProduct,
    GetRequest,
    ListRequests,
    MoveRequest,
    RedeemInvite,
    UpdateEnvironment,
    UpdateProduct,
    UpdateRequest,
)
from versioner.common.resources import (
    EnvironmentPublic,
    Page,
    ProductPublic,
    TokenIssued,
    UserInvited,
)
from versioner.common.roles import ApprovalType, Role
from versioner.policy.store.tables import OutboxMessage

Action = Literal["submit", "revert", "complete", "cancel"]
State = Literal["draft", "in_progress", "approved", "rejected", "completed", "cancelled"]


def _user(role: Role, name: str) -> Actor:
    return Actor(kind="user", id=uuid4(), name=name, role=role)


DEV = _user(Role.DEVELOPER, "dev")
QA = _user(Role.QA, "quinn")
SECURITY = _user(Role.SECURITY, "sam")
PRODUCT = _user(Role.PRODUCT, "paula")
RELEASE_MANAGER = _user(Role.RELEASE_MANAGER, "rita")
QA_T, SECURITY_T = ApprovalType.QA, ApprovalType.SECURITY
STANDARD_SLOTS = ((QA_T, False), (SECURITY_T, True))


async def _create(
    policy: Policy,
    *,
    by: Actor = DEV,
    name: str = "release 42",
    items: Sequence[tuple[str, str]] = (("api", "1.0.0"),),
    environments: Sequence[str] = ("production",),
    slots: Sequence[tuple[ApprovalType, bool]] = STANDARD_SLOTS,
    pre_steps: Sequence[str] = ("back up the database",),
    post_steps: Sequence[str] = ("smoke test",),
) -> DeploymentRequestPublic:
    request = CreateRequest(
        actor=by,
        name=name,
        description="the quarterly release",
        items=[RequestItemIn(product=p, version=v) for p, v in items],
        environments=list(environments),
        approval_slots=[SlotIn(approval_type=t, optional=o) for t, o in slots],
        pre_steps=list(pre_steps),
        post_steps=list(post_steps),
    )
    return result(await policy.ask(request), DeploymentRequestPublic)


async def _move(
    policy: Policy, dr: DeploymentRequestPublic, action: Action, by: Actor = DEV
) -> DeploymentRequestPublic:
    moved = MoveRequest(actor=by, request_id=dr.id, action=action)
    return result(await policy.ask(moved), DeploymentRequestPublic)


async def _decide(
    policy: Policy,
    dr: DeploymentRequestPublic,
    index: int,
    by: Actor,
    decision: Literal["approve", "reject"] = "approve",
    comment: str | None = None,
) -> DeploymentRequestPublic:
    decide = DecideSlot(
        actor=by,
        request_id=dr.id,
        slot_id=dr.approval_slots[index].id,
        decision=decision,
        comment=comment,
    )
    return result(await policy.ask(decide), DeploymentRequestPublic)


def _decision(
    dr: DeploymentRequestPublic,
    index: int,
    by: Actor,
    decision: Literal["approve", "reject"] = "approve",
) -> DecideSlot:
    return DecideSlot(
        actor=by, request_id=dr.id, slot_id=dr.approval_slots[index].id, decision=decision
    )


def _tick_request(dr: DeploymentRequestPublic, by: Actor = DEV) -> CompleteStep:
    return CompleteStep(actor=by, request_id=dr.id, step_id=dr.pre_steps[0].id)


async def _tick(
    policy: Policy, dr: DeploymentRequestPublic, by: Actor = DEV
) -> DeploymentRequestPublic:
    return result(await policy.ask(_tick_request(dr, by)), DeploymentRequestPublic)


async def _get(policy: Policy, dr: DeploymentRequestPublic) -> DeploymentRequestPublic:
    return result(
        await policy.ask(GetRequest(actor=VIEWER, request_id=dr.id)), DeploymentRequestPublic
    )


async def _into(
    policy: Policy,
    state: State,
    *,
    name: str = "release 42",
    items: Sequence[tuple[str, str]] = (("api", "1.0.0"),),
    environments: Sequence[str] = ("production",),
    pre_steps: Sequence[str] = ("back up the database",),
    post_steps: Sequence[str] = ("smoke test",),
) -> DeploymentRequestPublic:
    """The standard request brought to `state`, ticked and decided where it can be."""
    dr = await _create(
        policy,
        name=name,
        items=items,
        environments=environments,
        pre_steps=pre_steps,
        post_steps=post_steps,
    )
    if state == "draft":
        return dr
    if state == "cancelled":
        return await _move(policy, dr, "cancel")
    dr = await _move(policy, dr, "submit")
    dr = await _tick(policy, dr)
    if state == "in_progress":
        return await _decide(policy, dr, 1, SECURITY)
    dr = await _decide(policy, dr, 0, QA, "reject" if state == "rejected" else "approve")
    if state == "completed":
        dr = await _move(policy, dr, "complete")
    assert dr.status == state
    return dr


def _events(rows: list[OutboxMessage]) -> list[RequestEventOccurred]:
    return [RequestEventOccurred.model_validate_json(row.body) for row in rows]


async def _blocked(policy: Policy, version: str = "1.0.0") -> ErrorDetail:
    return detail_of(refused(await policy.start("api", version, "production"), 428))


# --- create and change a draft -------------------------------------------------------------


async def test_a_new_request_is_a_draft_with_its_parts(policy: Policy) -> None:
    dr = await _create(policy)
    assert dr.status == "draft"
    assert dr.created_by == "dev"
    assert dr.created_at == policy.clock.now()
    assert dr.submitted_at is None
    assert [(i.product, i.version) for i in dr.items] == [("api", "1.0.0")]
    assert dr.environments == ["production"]
    assert [(s.approval_type, s.optional, s.status) for s in dr.approval_slots] == [
        ("qa", False, "pending"),
        ("security", True, "pending"),
    ]
    assert [s.text for s in dr.pre_steps] == ["back up the database"]
    assert [s.text for s in dr.post_steps] == ["smoke test"]
    assert dr.pre_steps[0].completed_at is None


async def test_a_new_request_is_audited_and_announced(policy: Policy) -> None:
    dr = await _create(policy)
    [entry] = await audit_entries(policy.ctx, "dr.created")
    assert (entry.actor, entry.subject_id) == ("user:dev", str(dr.id))
    [event] = _events(await outbox(policy.ctx, "dr.created"))
    assert event.request.id == dr.id
    assert event.actor == "user:dev"


@pytest.mark.parametrize(
    "actor",
    [
        pytest.param(VIEWER, id="viewer"),
        pytest.param(QA, id="qa"),
        pytest.param(CI, id="api-key"),
    ],
)
async def test_only_request_managers_may_create_requests(policy: Policy, actor: Actor) -> None:
    refused(await policy.ask(CreateRequest(actor=actor, name="mine")), 403)


@pytest.mark.parametrize(
    "actor",
    [
        pytest.param(ADMIN, id="admin"),
        pytest.param(RELEASE_MANAGER, id="release_manager"),
        pytest.param(PRODUCT, id="product"),
        pytest.param(DEV, id="developer"),
    ],
)
async def test_request_managers_may_create_requests(policy: Policy, actor: Actor) -> None:
    dr = await _create(policy, by=actor)
    assert dr.created_by == actor.name


async def test_a_draft_changes(policy: Policy) -> None:
    dr = await _create(policy)
    update = UpdateRequest(
        actor=DEV,
        request_id=dr.id,
        items=[RequestItemIn(product="web", version="2.0.0")],
        environments=["staging", "production"],
        approval_slots=[SlotIn(approval_type=SECURITY_T)],
        pre_steps=["freeze the schema", "tell support"],
    )
    changed = result(await policy.ask(update), DeploymentRequestPublic)
    assert [(i.product, i.version) for i in changed.items] == [("web", "2.0.0")]
    assert changed.environments == ["staging", "production"]
    assert [s.approval_type for s in changed.approval_slots] == ["security"]
    assert [s.text for s in changed.pre_steps] == ["freeze the schema", "tell support"]
    assert [s.text for s in changed.post_steps] == ["smoke test"]


@pytest.mark.parametrize("state", ["in_progress", "approved", "rejected", "completed", "cancelled"])
async def test_a_request_out_of_draft_does_not_change(policy: Policy, state: State) -> None:
    dr = await _into(policy, state)
    update = UpdateRequest(
        actor=DEV, request_id=dr.id, items=[RequestItemIn(product="web", version="2.0.0")]
    )
    refused(await policy.ask(update), 409)
    assert [(i.product, i.version) for i in (await _get(policy, dr)).items] == [("api", "1.0.0")]


# --- moves ---------------------------------------------------------------------------------


async def test_submit_moves_a_draft_to_in_progress(policy: Policy) -> None:
    dr = await _create(policy)
    policy.clock.advance(minutes=1)
    submitted = await _move(policy, dr, "submit")
    assert submitted.status == "in_progress"
    assert submitted.submitted_at == policy.clock.now()
    [entry] = await audit_entries(policy.ctx, "dr.submit")
    assert entry.data == {"from": "draft", "to": "in_progress"}
    [event] = _events(await outbox(policy.ctx, "dr.activated"))
    assert event.request.status == "in_progress"


async def test_submit_without_items_is_422(policy: Policy) -> None:
    dr = await _create(policy, items=())
    failure = refused(
        await policy.ask(MoveRequest(actor=DEV, request_id=dr.id, action="submit")), 422
    )
    assert failure.body.detail == [
        {
            "loc": ["body", "items"],
            "msg": "a Deployment Request needs at least one item to be submitted",
            "type": "value_error",
        }
    ]
    assert (await _get(policy, dr)).status == "draft"


async def test_approving_every_required_slot_approves_the_request(policy: Policy) -> None:
    dr = await _create(policy, slots=((QA_T, False), (SECURITY_T, False), (ApprovalType.UAT, True)))
    dr = await _move(policy, dr, "submit")
    assert (await _decide(policy, dr, 0, QA)).status == "in_progress"
    approved = await _decide(policy, dr, 1, SECURITY)
    assert approved.status == "approved"
    assert approved.approval_slots[2].status == "pending"


async def test_rejecting_a_required_slot_rejects_the_request(policy: Policy) -> None:
    dr = await _move(policy, await _create(policy), "submit")
    rejected = await _decide(policy, dr, 0, QA, "reject", comment="fails login")
    assert rejected.status == "rejected"
    assert rejected.approval_slots[0].comment == "fails login"
    [event] = _events(await outbox(policy.ctx, "dr.rejected"))
    assert (event.approval_type, event.slot_status, event.comments) == (
        "qa",
        "rejected",
        "fails login",
    )


async def test_rejecting_an_optional_slot_is_only_advice(policy: Policy) -> None:
    dr = await _move(policy, await _create(policy), "submit")
    assert (await _decide(policy, dr, 1, SECURITY, "reject")).status == "in_progress"
    assert (await _decide(policy, dr, 0, QA)).status == "approved"


async def test_an_approved_request_completes(policy: Policy) -> None:
    dr = await _into(policy, "approved")
    policy.clock.advance(hours=1)
    completed = await _move(policy, dr, "complete", by=RELEASE_MANAGER)
    assert completed.status == "completed"
    assert completed.closed_at == policy.clock.now()
    [entry] = await audit_entries(policy.ctx, "dr.complete")
    assert entry.actor == "user:rita"
    assert len(await outbox(policy.ctx, "dr.completed")) == 1


@pytest.mark.parametrize(
    "slots", [pytest.param((), id="no-slot"), pytest.param(((QA_T, True),), id="optional-only")]
)
async def test_a_request_with_no_required_slot_is_approved_on_submit_and_completes(
    policy: Policy, slots: tuple[tuple[ApprovalType, bool], ...]
) -> None:
    dr = await _move(policy, await _create(policy, slots=slots), "submit")
    assert dr.status == "approved"
    await _tick(policy, dr)
    assert (await _move(policy, dr, "complete")).status == "completed"


@pytest.mark.parametrize("state", ["in_progress", "approved", "rejected"])
async def test_revert_clears_decisions_and_ticks(policy: Policy, state: State) -> None:
    dr = await _into(policy, state)
    assert any(s.status != "pending" for s in dr.approval_slots)
    assert dr.pre_steps[0].completed_at is not None
    reverted = await _move(policy, dr, "revert")
    assert reverted.status == "draft"
    for slot in reverted.approval_slots:
        assert (slot.status, slot.decided_by, slot.decided_role, slot.decided_at) == (
            "pending",
            None,
            None,
            None,
        )
        assert slot.comment is None
    for step in reverted.pre_steps:
        assert (step.completed_by, step.completed_at) == (None, None)
    [entry] = await audit_entries(policy.ctx, "dr.revert")
    assert entry.data == {"from": state, "to": "draft"}
    assert len(await outbox(policy.ctx, "dr.deactivated")) == 1


async def test_a_reverted_request_is_submitted_and_decided_again(policy: Policy) -> None:
    dr = await _move(policy, await _into(policy, "rejected"), "revert")
    dr = await _move(policy, dr, "submit")
    assert (await _decide(policy, dr, 0, QA)).status == "approved"


@pytest.mark.parametrize("state", ["draft", "in_progress", "approved", "rejected"])
async def test_cancel_closes_any_request_not_closed(policy: Policy, state: State) -> None:
    dr = await _into(policy, state)
    cancelled = await _move(policy, dr, "cancel")
    assert cancelled.status == "cancelled"
    assert cancelled.closed_at == policy.clock.now()
    assert len(await outbox(policy.ctx, "dr.cancelled")) == 1


FORBIDDEN_MOVES = [
    ("draft", "revert"),
    ("draft", "complete"),
    ("in_progress", "submit"),
    ("in_progress", "complete"),
    ("approved", "submit"),
    ("rejected", "submit"),
    ("rejected", "complete"),
    ("completed", "submit"),
    ("completed", "revert"),
    ("completed", "complete"),
    ("completed", "cancel"),
    ("cancelled", "submit"),
    ("cancelled", "revert"),
    ("cancelled", "complete"),
    ("cancelled", "cancel"),
]


@pytest.mark.parametrize(("state", "action"), FORBIDDEN_MOVES)
async def test_every_other_move_is_409(policy: Policy, state: State, action: Action) -> None:
    dr = await _into(policy, state)
    failure = refused(
        await policy.ask(MoveRequest(actor=DEV, request_id=dr.id, action=action)), 409
    )
    assert failure.body.detail == f"Deployment Request release 42 is {state}; it cannot {action}"
    assert (await _get(policy, dr)).status == state


@pytest.mark.parametrize("action", ["submit", "revert", "complete", "cancel"])
async def test_moves_need_a_request_manager(policy: Policy, action: Action) -> None:
    dr = await _into(policy, "approved")
    refused(await policy.ask(MoveRequest(actor=QA, request_id=dr.id, action=action)), 403)


async def test_moving_an_unknown_request_is_404(policy: Policy) -> None:
    refused(await policy.ask(MoveRequest(actor=DEV, request_id=uuid4(), action="submit")), 404)


# --- slot decisions ------------------------------------------------------------------------


async def test_a_decision_records_who_when_and_why(policy: Policy) -> None:
    dr = await _move(policy, await _create(policy), "submit")
    policy.clock.advance(minutes=7)
    decided = await _decide(policy, dr, 0, QA, comment="all green")
    slot = decided.approval_slots[0]
    assert (slot.status, slot.decided_by, slot.decided_role, slot.comment) == (
        "approved",
        "quinn",
        "qa",
        "all green",
    )
    assert slot.decided_at == policy.clock.now()
    [entry] = await audit_entries(policy.ctx, "dr.slot_approved")
    assert (entry.actor, entry.at) == ("user:quinn", policy.clock.now())
    [event] = _events(await outbox(policy.ctx, "dr.approved"))
    assert (event.approval_type, event.approver_role, event.slot_status) == (
        "qa",
        "qa",
        "approved",
    )


DECIDERS = [
    pytest.param(ApprovalType.QA, Role.QA, True, id="qa-fills-qa"),
    pytest.param(ApprovalType.UAT, Role.PRODUCT, True, id="product-fills-uat"),
    pytest.param(ApprovalType.PERFORMANCE, Role.SRE, True, id="sre-fills-performance"),
    pytest.param(ApprovalType.PERFORMANCE, Role.QA, True, id="qa-fills-performance"),
    pytest.param(ApprovalType.CODE_REVIEW, Role.DEVELOPER, True, id="developer-fills-review"),
    pytest.param(ApprovalType.COMPLIANCE, Role.COMPLIANCE, True, id="compliance-fills-its"),
    pytest.param(ApprovalType.SECURITY, Role.RELEASE_MANAGER, True, id="rm-fills-any"),
    pytest.param(ApprovalType.SECURITY, Role.ADMIN, True, id="admin-fills-any"),
    pytest.param(ApprovalType.SECURITY, Role.DEVELOPER, False, id="developer-not-security"),
    pytest.param(ApprovalType.QA, Role.SECURITY, False, id="security-not-qa"),
    pytest.param(ApprovalType.UAT, Role.SRE, False, id="sre-not-uat"),
    pytest.param(ApprovalType.QA, Role.BILLING, False, id="billing-nothing"),
    pytest.param(ApprovalType.QA, Role.VIEWER, False, id="viewer-nothing"),
]


@pytest.mark.parametrize(("approval_type", "role", "may"), DECIDERS)
async def test_only_a_role_that_may_fill_the_type_decides_a_slot(
    policy: Policy, approval_type: ApprovalType, role: Role, may: bool
) -> None:
    dr = await _create(policy, by=PRODUCT, slots=((approval_type, False),))
    dr = await _move(policy, dr, "submit")
    reply = await policy.ask(_decision(dr, 0, _user(role, "someone")))
    if may:
        assert result(reply, DeploymentRequestPublic).status == "approved"
    else:
        refused(reply, 403)
        assert (await _get(policy, dr)).approval_slots[0].status == "pending"


async def test_an_api_key_never_decides_a_slot(policy: Policy) -> None:
    dr = await _move(policy, await _create(policy), "submit")
    refused(await policy.ask(_decision(dr, 0, CI)), 403)


async def test_the_creator_never_decides_a_slot_even_as_admin(policy: Policy) -> None:
    dr = await _move(policy, await _create(policy, by=ADMIN), "submit")
    refused(await policy.ask(_decision(dr, 0, ADMIN)), 403)
    other_admin = _user(Role.ADMIN, "another admin")
    assert (await _decide(policy, dr, 0, other_admin)).status == "approved"


async def test_self_approval_is_refused_for_real_users(policy: Policy) -> None:
    admin = result(
        await policy.ask(Authenticate(actor=SYSTEM, token=BOOTSTRAP_TOKEN)), Authenticated
    ).actor
    invited = result(
        await policy.ask(CreateUser(actor=admin, name="quinn", role=Role.QA)), UserInvited
    )
    token = result(
        await policy.ask(RedeemInvite(actor=SYSTEM, invite_token=invited.invite_token)),
        TokenIssued,
    ).token
    qa = result(await policy.ask(Authenticate(actor=SYSTEM, token=token)), Authenticated).actor
    dr = await _move(policy, await _create(policy, by=admin), "submit", by=admin)
    refused(await policy.ask(_decision(dr, 0, admin)), 403)
    decided = await _decide(policy, dr, 0, qa)
    assert (decided.status, decided.approval_slots[0].decided_by) == ("approved", "quinn")


async def test_deciding_a_decided_slot_is_409(policy: Policy) -> None:
    dr = await _move(policy, await _create(policy), "submit")
    await _decide(policy, dr, 1, SECURITY)
    failure = refused(await policy.ask(_decision(dr, 1, SECURITY, "reject")), 409)
    assert failure.body.detail == "The security slot is already approved"


@pytest.mark.parametrize("state", ["draft", "rejected", "completed", "cancelled"])
async def test_slots_of_a_request_not_open_for_decisions_are_409(
    policy: Policy, state: State
) -> None:
    dr = await _into(policy, state)
    refused(await policy.ask(_decision(dr, 1, SECURITY)), 409)


async def test_a_slot_of_another_request_is_404(policy: Policy) -> None:
    one = await _move(policy, await _create(policy, name="one"), "submit")
    other = await _move(policy, await _create(policy, name="other"), "submit")
    decide = DecideSlot(
        actor=QA, request_id=one.id, slot_id=other.approval_slots[0].id, decision="approve"
    )
    refused(await policy.ask(decide), 404)


async def test_awaiting_me_lists_requests_with_a_slot_the_caller_may_decide(
    policy: Policy,
) -> None:
    mine = await _move(policy, await _create(policy, name="needs qa"), "submit")
    await _move(
        policy,
        await _create(policy, name="needs uat", slots=((ApprovalType.UAT, False),)),
        "submit",
    )
    await _create(policy, name="still a draft")
    page = result(
        await policy.ask(ListRequests(actor=QA, awaiting_me=True)), Page[DeploymentRequestPublic]
    )
    assert [dr.id for dr in page.items] == [mine.id]
    creator = result(
        await policy.ask(ListRequests(actor=DEV, awaiting_me=True)), Page[DeploymentRequestPublic]
    )
    assert creator.items == []


# --- steps ---------------------------------------------------------------------------------


async def test_a_tick_records_who_and_when(policy: Policy) -> None:
    dr = await _move(policy, await _create(policy), "submit")
    policy.clock.advance(minutes=3)
    ticked = await _tick(policy, dr, by=RELEASE_MANAGER)
    step = ticked.pre_steps[0]
    assert (step.completed_by, step.completed_at) == ("rita", policy.clock.now())
    [entry] = await audit_entries(policy.ctx, "dr.step_completed")
    assert (entry.actor, entry.at) == ("user:rita", policy.clock.now())
    assert entry.data["phase"] == "pre"


async def test_ticking_a_ticked_step_is_409(policy: Policy) -> None:
    dr = await _move(policy, await _create(policy), "submit")
    await _tick(policy, dr)
    failure = refused(await policy.ask(_tick_request(dr, RELEASE_MANAGER)), 409)
    assert failure.body.detail == "The step was completed by dev already"


@pytest.mark.parametrize("state", ["draft", "completed", "cancelled"])
async def test_steps_tick_only_while_the_request_is_open(policy: Policy, state: State) -> None:
    dr = await _into(policy, state, pre_steps=("one", "two"))
    tick = CompleteStep(actor=DEV, request_id=dr.id, step_id=dr.pre_steps[1].id)
    refused(await policy.ask(tick), 409)


async def test_steps_are_ticked_by_request_managers_only(policy: Policy) -> None:
    dr = await _move(policy, await _create(policy), "submit")
    refused(await policy.ask(_tick_request(dr, QA)), 403)


# --- progress ------------------------------------------------------------------------------


async def test_progress_shows_each_item_in_each_environment(policy: Policy) -> None:
    dr = await _create(
        policy,
        items=(("api", "1.0.0"), ("web", "2.0.0")),
        environments=("staging", "production"),
    )
    staged = await policy.deploy("api", "1.0.0", "staging")
    recorded(await policy.start("api", "1.0.0", "production"))
    recorded(await policy.report("api", "1.0.0", "production", "failed"))
    running = recorded(await policy.start("web", "2.0.0", "staging"))
    await policy.deploy("web", "1.9.0", "production")
    progress = (await _get(policy, dr)).progress
    assert [(c.product, c.version, c.environment, c.status) for c in progress] == [
        ("api", "1.0.0", "staging", "deployed"),
        ("api", "1.0.0", "production", "failed"),
        ("web", "2.0.0", "staging", "in_progress"),
        ("web", "2.0.0", "production", "not_deployed"),
    ]
    assert progress[0].deployment_id == staged.id
    assert progress[2].deployment_id == running.id
    assert progress[3].deployment_id is None


# --- what an open request gates ------------------------------------------------------------


async def test_an_open_request_with_a_pending_required_slot_is_approval_required(
    policy: Policy,
) -> None:
    dr = await _create(policy, slots=((QA_T, False), (SECURITY_T, False)), pre_steps=())
    dr = await _move(policy, dr, "submit")
    await _decide(policy, dr, 0, QA)
    detail = await _blocked(policy)
    assert detail.code == "APPROVAL_REQUIRED"
    assert detail.retry_after is None
    assert detail.details["rule_name"] == "release 42"
    assert detail.details["request_id"] == str(dr.id)
    assert detail.details["required_approvals"] == 2
    assert detail.details["current_approvals"] == 1
    assert detail.details["pending"] == ["security"]
    assert detail.details["approver_roles"] == ["admin", "release_manager", "security"]
    assert detail.message.startswith(
        "Deployment Request 'release 42' still needs security approval before api 1.0.0 may "
        "go to production. Ask "
    )
    assert "admin, release_manager or security" in detail.message
    [violation] = detail.details["violations"]
    assert (violation["rule_name"], violation["rule_type"]) == ("release 42", "deployment_request")


async def test_an_open_request_with_a_pending_pre_step_is_checklist_incomplete(
    policy: Policy,
) -> None:
    dr = await _move(policy, await _create(policy), "submit")
    await _decide(policy, dr, 0, QA)
    detail = await _blocked(policy)
    assert detail.code == "CHECKLIST_INCOMPLETE"
    assert detail.details["pending_steps"] == ["back up the database"]
    assert detail.message == (
        "Deployment Request 'release 42' has 1 pre-deploy step left: back up the database. "
        "Tick them when done."
    )


async def test_an_in_progress_request_lists_both_slots_and_steps(policy: Policy) -> None:
    await _move(policy, await _create(policy), "submit")
    detail = await _blocked(policy)
    assert [v["code"] for v in detail.details["violations"]] == [
        "APPROVAL_REQUIRED",
        "CHECKLIST_INCOMPLETE",
    ]


async def test_an_approved_request_with_its_steps_done_lets_through(policy: Policy) -> None:
    dr = await _into(policy, "approved")
    assert dr.approval_slots[1].status == "pending"
    d = recorded(await policy.start("api", "1.0.0", "production"))
    assert d.extra_metadata["preflight_status"]["status"] == "passed"


async def test_post_steps_do_not_gate(policy: Policy) -> None:
    await _into(policy, "approved", post_steps=("one", "two"))
    recorded(await policy.start("api", "1.0.0", "production"))


async def test_a_rejected_request_blocks(policy: Policy) -> None:
    await _into(policy, "rejected")
    detail = await _blocked(policy)
    assert detail.code == "APPROVAL_REQUIRED"
    assert detail.details["status"] == "rejected"
    assert detail.details["rejected"] == ["qa"]
    assert detail.message == (
        "Deployment Request 'release 42' was rejected (qa). Revert it to draft and submit it "
        "again, or cancel it."
    )


@pytest.mark.parametrize("state", ["draft", "completed", "cancelled"])
async def test_a_request_not_open_never_covers(policy: Policy, state: State) -> None:
    await _into(policy, state)
    recorded(await policy.start("api", "1.0.0", "production"))


async def test_a_request_for_another_version_does_not_cover(policy: Policy) -> None:
    await _into(policy, "rejected", items=(("api", "0.9.0"),))
    recorded(await policy.start("api", "1.0.0", "production"))


async def test_a_request_for_another_environment_does_not_cover(policy: Policy) -> None:
    await _into(policy, "rejected", environments=("staging",))
    recorded(await policy.start("api", "1.0.0", "production"))


async def test_a_request_covers_each_of_its_items(policy: Policy) -> None:
    await _into(policy, "rejected", items=(("api", "1.0.0"), ("web", "2.0.0")))
    refused(await policy.start("web", "2.0.0", "production"), 428)


async def test_a_request_naming_a_products_old_name_still_covers(policy: Policy) -> None:
    await policy.deploy("api", "1.0.0", "staging")
    await _into(policy, "rejected")
    product = result(await policy.ask(GetProduct(actor=ADMIN, ref="api")), ProductPublic)
    rename = UpdateProduct(actor=ADMIN, product_id=product.id, name="core-api")
    result(await policy.ask(rename), ProductPublic)
    refused(await policy.start("core-api", "1.0.0", "production"), 428)


async def test_a_request_naming_an_environments_old_name_still_covers(policy: Policy) -> None:
    await policy.deploy("web", "1.0.0", "prod")
    await _into(policy, "rejected", environments=("prod",))
    environment = result(
        await policy.ask(GetEnvironment(actor=ADMIN, ref="prod")), EnvironmentPublic
    )
    rename = UpdateEnvironment(actor=ADMIN, environment_id=environment.id, name="production")
    result(await policy.ask(rename), EnvironmentPublic)
    refused(await policy.start("api", "1.0.0", "production"), 428)


async def test_two_covering_requests_are_listed_by_name(policy: Policy) -> None:
    await _into(policy, "rejected", name="zebra")
    await _into(policy, "rejected", name="aardvark")
    detail = await _blocked(policy)
    assert [v["rule_name"] for v in detail.details["violations"]] == ["aardvark", "zebra"]


async def test_a_decision_takes_effect_on_the_very_next_verdict(policy: Policy) -> None:
    dr = await _move(policy, await _create(policy, pre_steps=()), "submit")
    assert (await _blocked(policy)).code == "APPROVAL_REQUIRED"
    await _decide(policy, dr, 0, QA)
    recorded(await policy.start("api", "1.0.0", "production"))


async def test_a_revert_takes_effect_on_the_very_next_verdict(policy: Policy) -> None:
    dr = await _into(policy, "rejected")
    refused(await policy.start("api", "1.0.0", "production"), 428)
    await _move(policy, dr, "revert")
    recorded(await policy.start("api", "1.0.0", "production"))
