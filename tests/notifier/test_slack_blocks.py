"""Slack messages for domain events: what they say, their buttons, and Block Kit's limits."""

import copy
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from versioner.common import links
from versioner.common.errors import Violation
from versioner.common.governance import (
    DeploymentRequestPublic,
    RequestItemPublic,
    SlotPublic,
    VersionApprovalPublic,
)
from versioner.common.messages.domain import (
    BuildEventOccurred,
    DeploymentAttempt,
    DeploymentBlocked,
    DeploymentChanged,
    EventRejected,
    RequestEventOccurred,
    VersionApproved,
)
from versioner.common.resources import BuildPublic, DeploymentPublic
from versioner.common.roles import ApprovalType
from versioner.common.slack_actions import ApproveAction, FireAction, SlotAction, decode
from versioner.common.status import Status
from versioner.notifier import slack_blocks
from versioner.notifier.slack_blocks import (
    DEPLOY_BLOCK,
    MAX_BLOCKS,
    MAX_BUTTON_TEXT,
    MAX_ELEMENTS,
    MAX_TEXT,
    DeployButton,
    SlackMessage,
    acted,
    fired,
    render,
    thread_key,
)

URL = "https://versioner.example.com"
T0 = datetime(2025, 3, 4, 10, 30, tzinfo=UTC)
PRODUCT_ID = uuid4()
VERSION_ID = uuid4()
ENVIRONMENT_ID = uuid4()

# Builders: realistic records, any field overridden by keyword.


def a_build(**changes: Any) -> BuildPublic:
    fields: dict[str, Any] = {
        "id": uuid4(),
        "version_id": VERSION_ID,
        "product_id": PRODUCT_ID,
        "product_name": "payments-api",
        "version": "1.4.2",
        "status": Status.COMPLETED,
        "scm_sha": "9fceb02d0ae598e95dc970b74767f19372d61af8",
        "scm_repository": "acme/payments-api",
        "scm_branch": "main",
        "build_number": "412",
        "build_url": "https://github.com/acme/payments-api/actions/runs/412",
        "built_by": "octocat",
        "created_at": T0,
        "updated_at": T0,
    }
    return BuildPublic(**(fields | changes))


def a_deployment(**changes: Any) -> DeploymentPublic:
    fields: dict[str, Any] = {
        "id": uuid4(),
        "product_id": PRODUCT_ID,
        "version_id": VERSION_ID,
        "environment_id": ENVIRONMENT_ID,
        "product_name": "payments-api",
        "version": "1.4.2",
        "environment_name": "production",
        "status": Status.COMPLETED,
        "deployed_at": T0,
        "deployed_by": "alice",
        "deploy_url": "https://ci.example.com/job/deploy/88",
    }
    return DeploymentPublic(**(fields | changes))


def a_violation(code: str = "NO_DEPLOY_WINDOW", **changes: Any) -> Violation:
    fields: dict[str, Any] = {
        "code": code,
        "rule_name": "Weekend freeze",
        "rule_type": "schedule",
        "message": "Deployments to production are frozen until Monday 06:00 UTC.",
        "retry_after": T0 + timedelta(days=2),
    }
    return Violation(**(fields | changes))


def an_approval_violation(*missing: str, environment: str | None = "production") -> Violation:
    return a_violation(
        "QUALITY_APPROVAL_REQUIRED",
        rule_name="Prod sign-off",
        rule_type="version_approval",
        message=f"payments-api 1.4.2 needs {', '.join(missing)} sign-off before production.",
        retry_after=None,
        details={
            "missing_approvals": list(missing),
            "environment": environment,
            "version_id": str(VERSION_ID),
            "approver_roles": ["admin", "release_manager"],
        },
    )


def a_request(*slots: SlotPublic, **changes: Any) -> DeploymentRequestPublic:
    fields: dict[str, Any] = {
        "id": uuid4(),
        "name": "March release",
        "status": "in_progress",
        "created_by": "rita",
        "items": [RequestItemPublic(product="payments-api", version="1.4.2")],
        "environments": ["production"],
        "approval_slots": list(slots),
        "pre_steps": [],
        "post_steps": [],
        "created_at": T0,
        "updated_at": T0,
    }
    return DeploymentRequestPublic(**(fields | changes))


def a_slot(kind: ApprovalType, status: str = "pending", **changes: Any) -> SlotPublic:
    fields: dict[str, Any] = {
        "id": uuid4(),
        "approval_type": kind,
        "optional": False,
        "status": status,
    }
    return SlotPublic(**(fields | changes))


def build_event(event_type: str = "build.completed", **changes: Any) -> BuildEventOccurred:
    return BuildEventOccurred(
        event_type=event_type,  # type: ignore[arg-type]
        event_id=uuid4(),
        occurred_at=T0,
        actor="api_key:github-ci",
        build=a_build(**changes),
    )


def deployment_event(
    event_type: str = "deployment.completed",
    deployment: DeploymentPublic | None = None,
    violations: list[Violation] | None = None,
) -> DeploymentChanged:
    return DeploymentChanged(
        event_type=event_type,  # type: ignore[arg-type]
        event_id=uuid4(),
        occurred_at=T0,
        actor="user:alice",
        deployment=deployment or a_deployment(),
        violations=violations or [],
    )


def blocked_event(*violations: Violation) -> DeploymentBlocked:
    return DeploymentBlocked(
        event_id=uuid4(),
        occurred_at=T0,
        actor="api_key:github-ci",
        attempt=DeploymentAttempt(
            attempt_id=uuid4(),
            product_id=PRODUCT_ID,
            product_name="payments-api",
            version_id=VERSION_ID,
            version="1.4.2",
            environment_id=ENVIRONMENT_ID,
            environment_name="production",
            deployed_by="bob",
        ),
        violations=list(violations),
    )


def request_event(
    event_type: str, request: DeploymentRequestPublic | None = None, **changes: Any
) -> RequestEventOccurred:
    return RequestEventOccurred(
        event_type=event_type,  # type: ignore[arg-type]
        event_id=uuid4(),
        occurred_at=T0,
        actor="user:sam",
        request=request or a_request(),
        **changes,
    )


def fire(environment: str) -> FireAction:
    return FireAction(
        button_id=uuid4(), product_id=uuid4(), version="1.4.2", environment=environment
    )


# Reading a message.


def texts(message: SlackMessage) -> str:
    """Every mrkdwn text of the message, in order."""
    found: list[str] = []
    for block in message.blocks:
        if block["type"] == "section":
            found.append(block["text"]["text"])
        elif block["type"] == "context":
            found.extend(element["text"] for element in block["elements"])
    return "\n".join(found)


def buttons(message: SlackMessage) -> list[dict[str, Any]]:
    return [
        element
        for block in message.blocks
        if block["type"] == "actions"
        for element in block["elements"]
    ]


def interactive(message: SlackMessage) -> list[dict[str, Any]]:
    """The buttons whose click Versioner answers (every other button only opens a URL)."""
    return [button for button in buttons(message) if "url" not in button]


def rendered(event: Any, *, interactive: bool = True, **kwargs: Any) -> SlackMessage:
    message = render(event, public_url=URL, interactive=interactive, **kwargs)
    assert message is not None
    assert_within_limits(message)
    return message


def assert_within_limits(message: SlackMessage) -> None:
    assert message.text.strip()
    assert len(message.blocks) <= MAX_BLOCKS
    block_ids = [block["block_id"] for block in message.blocks if "block_id" in block]
    assert len(block_ids) == len(set(block_ids))
    for block in message.blocks:
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= MAX_TEXT
        if block["type"] == "context":
            assert all(len(element["text"]) <= MAX_TEXT for element in block["elements"])
        if block["type"] == "actions":
            elements = block["elements"]
            assert 0 < len(elements) <= MAX_ELEMENTS
            action_ids = [element["action_id"] for element in elements]
            assert len(action_ids) == len(set(action_ids))
            for element in elements:
                assert len(element["text"]["text"]) <= MAX_BUTTON_TEXT
                assert len(element["action_id"]) <= 255
                assert len(element.get("value", "")) <= 2000
                assert len(element.get("url", "")) <= 3000


def date_token(moment: datetime) -> str:
    iso = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"<!date^{int(moment.timestamp())}^{{date_short_pretty}} {{time}}|{iso}>"


# Builds.


def test_a_completed_build_is_ready_to_deploy_with_its_buttons() -> None:
    to_staging = DeployButton(
        label="Deploy", environment="staging", url="https://ci.example.com/deploy?env=staging"
    )
    to_production = DeployButton(
        label="Deploy", environment="production", action=fire("production")
    )

    message = rendered(build_event(), buttons=[to_staging, to_production])

    assert message.text.startswith("🚀 payments-api 1.4.2 is ready to deploy")
    body = texts(message)
    for expected in ("*payments-api*", "`1.4.2`", "octocat", "main", "9fceb02d0ae5", "build 412"):
        assert expected in body
    assert f"{URL}/manage/versions?view={VERSION_ID}" in body
    link, webhook = buttons(message)
    assert link["url"] == "https://ci.example.com/deploy?env=staging"
    assert link["text"]["text"] == "Deploy → staging"
    assert webhook["text"]["text"] == "Deploy → production"
    assert decode(webhook["value"]) == to_production.action


def test_an_incoming_webhook_channel_gets_link_buttons_only() -> None:
    to_staging = DeployButton(label="Deploy", environment="staging", url="https://ci.example.com/s")
    to_production = DeployButton(
        label="Deploy", environment="production", action=fire("production")
    )

    message = rendered(build_event(), interactive=False, buttons=[to_staging, to_production])

    assert interactive(message) == []
    assert [b["url"] for b in buttons(message)] == [
        "https://ci.example.com/s",
        f"{URL}/manage/versions?view={VERSION_ID}",
    ]
    assert buttons(message)[1]["text"]["text"] == "Open in Versioner"


def test_a_build_without_buttons_has_no_actions() -> None:
    message = rendered(build_event())

    assert buttons(message) == []


def test_more_deployment_buttons_than_fit_end_in_a_link_to_versioner() -> None:
    many = [
        DeployButton(label="Deploy", environment=f"env-{n}", action=fire(f"env-{n}"))
        for n in range(30)
    ]

    message = rendered(build_event(), buttons=many)

    (block,) = [b for b in message.blocks if b["type"] == "actions"]
    assert len(block["elements"]) == MAX_ELEMENTS
    assert block["elements"][-1]["url"] == f"{URL}/manage/versions?view={VERSION_ID}"


def test_a_long_button_label_is_cut_to_fit() -> None:
    button = DeployButton(label="Deploy " * 20, environment="production", action=fire("production"))

    (element,) = buttons(rendered(build_event(), buttons=[button]))

    assert len(element["text"]["text"]) == MAX_BUTTON_TEXT
    assert element["text"]["text"].endswith("…")


def test_a_deployment_button_is_either_a_link_or_a_webhook() -> None:
    with pytest.raises(ValueError):
        DeployButton(label="Deploy", environment="production")
    with pytest.raises(ValueError):
        DeployButton(label="Deploy", environment="production", url="https://x", action=fire("p"))


def test_a_failed_build_says_why() -> None:
    event = build_event(
        "build.failed", status=Status.FAILED, error_code="E_TEST", error_message="3 tests failed"
    )

    message = rendered(event)

    assert message.text.startswith("❌ Build of payments-api 1.4.2 failed")
    assert len(message.blocks) == 1
    assert "`E_TEST`" in texts(message)
    assert "3 tests failed" in texts(message)


@pytest.mark.parametrize(
    ("event_type", "start"),
    [
        ("build.pending", "⏳ Build of payments-api 1.4.2 queued"),
        ("build.started", "🔨 Build of payments-api 1.4.2 started"),
        ("build.aborted", "⏹️ Build of payments-api 1.4.2 aborted"),
    ],
)
def test_other_build_events_are_one_section(event_type: str, start: str) -> None:
    message = rendered(build_event(event_type, status=Status.STARTED))

    assert message.text.startswith(start)
    assert [b["type"] for b in message.blocks] == ["section"]


# Deployments.


def test_a_completed_deployment_says_where_what_and_who() -> None:
    deployment = a_deployment(deployed_by_name="Alice Liddell")

    message = rendered(deployment_event("deployment.completed", deployment))

    assert message.text.startswith("✅ payments-api 1.4.2 deployed to production")
    body = texts(message)
    assert "🟢 Success" in body
    assert "Alice Liddell" in body
    assert date_token(T0) in body
    assert f"<{URL}/manage/deployments?view={deployment.id}|View deployment>" in body
    assert "<https://ci.example.com/job/deploy/88|CI run>" in body


def test_a_failed_deployment_says_it_failed() -> None:
    deployment = a_deployment(status=Status.FAILED, deployed_by=None, abort_reason="health check")

    message = rendered(deployment_event("deployment.failed", deployment))

    assert message.text.startswith("❌ payments-api 1.4.2 failed to deploy to production")
    assert "🔴 Failed" in texts(message)
    assert "health check" in texts(message)
    assert "by alice" in texts(message)  # the actor, when the event names no deployer


def test_a_sha_mismatch_is_pointed_out() -> None:
    event = deployment_event("deployment.completed", a_deployment(sha_mismatch=True))

    assert "commit differs" in texts(rendered(event))


@pytest.mark.parametrize(
    ("event_type", "start"),
    [
        ("deployment.pending", "⏳ payments-api 1.4.2 queued for production"),
        ("deployment.started", "🔄 Deploying payments-api 1.4.2 to production"),
        ("deployment.aborted", "⏹️ Deployment of payments-api 1.4.2 to production aborted"),
    ],
)
def test_other_deployment_events_are_one_section(event_type: str, start: str) -> None:
    message = rendered(deployment_event(event_type, a_deployment(status=Status.STARTED)))

    assert message.text.startswith(start)
    assert [b["type"] for b in message.blocks] == ["section"]
    assert "alice" in texts(message)


def test_a_blocked_deployment_lists_every_violation_and_when_to_retry() -> None:
    window = a_violation()
    flow = a_violation(
        "FLOW_VIOLATION",
        rule_name="Staging first",
        rule_type="flow",
        message="payments-api 1.4.2 has not been deployed to staging.",
        retry_after=None,
    )
    soak = a_violation(
        "INSUFFICIENT_SOAK_TIME",
        rule_name="Soak 2h",
        rule_type="flow",
        message="Staging soaked 40 of 120 minutes.",
        retry_after=T0 + timedelta(minutes=80),
    )

    message = rendered(blocked_event(window, flow, soak))

    assert message.text == (
        "⛔ payments-api 1.4.2 blocked from production: "
        "NO_DEPLOY_WINDOW, FLOW_VIOLATION, INSUFFICIENT_SOAK_TIME"
    )
    sections = [b["text"]["text"] for b in message.blocks if b["type"] == "section"][1:]
    assert len(sections) == 3
    for section, violation in zip(sections, (window, flow, soak), strict=True):
        assert f"*{violation.code}* · {violation.rule_name}" in section
        assert violation.message in section
        if violation.retry_after:
            assert f"Retry after {date_token(violation.retry_after)}" in section
        else:
            assert "Retry" not in section
    assert "Requested by bob" in texts(message)
    assert f"{URL}/manage/versions?view={VERSION_ID}" in texts(message)
    assert buttons(message) == []


def test_missing_version_approvals_get_an_approve_button_each() -> None:
    message = rendered(
        blocked_event(
            a_violation(),
            an_approval_violation("security", "qa"),
            an_approval_violation("uat", environment=None),
        )
    )

    labels = [b["text"]["text"] for b in buttons(message)]
    assert labels == ["Approve security (production)", "Approve qa (production)", "Approve uat"]
    assert [decode(b["value"]) for b in buttons(message)] == [
        ApproveAction(
            version_id=VERSION_ID, approval_type=ApprovalType.SECURITY, environment="production"
        ),
        ApproveAction(
            version_id=VERSION_ID, approval_type=ApprovalType.QA, environment="production"
        ),
        ApproveAction(version_id=VERSION_ID, approval_type=ApprovalType.UAT),
    ]
    actions = [b for b in message.blocks if b["type"] == "actions"]
    assert len(actions) == 3  # one per decision, so a click retires only its own button


def test_approval_requests_without_interactivity_link_to_the_version() -> None:
    message = rendered(blocked_event(an_approval_violation("security", "qa")), interactive=False)

    assert interactive(message) == []
    (button,) = buttons(message)
    assert button["url"] == f"{URL}/manage/versions?view={VERSION_ID}"


def test_sixty_violations_stay_within_slacks_limits() -> None:
    violations = [
        a_violation(
            rule_name=f"Freeze {n}", message="x" * 4000, retry_after=T0 + timedelta(hours=n)
        )
        for n in range(59)
    ]
    violations.append(an_approval_violation("security"))

    message = rendered(blocked_event(*violations))

    assert "…and 40 more" in texts(message)
    listed = [b for b in message.blocks if b["type"] == "section" and "Freeze" in b["text"]["text"]]
    assert len(listed) == 20
    assert all(
        "…" in b["text"]["text"] and "Retry after <!date^" in b["text"]["text"] for b in listed
    )
    assert len(interactive(message)) == 1


def test_user_text_is_escaped_for_mrkdwn() -> None:
    deployment = a_deployment(
        product_name="<!channel> & co", version="1.0<beta>", deployed_by="<@U999>"
    )

    message = rendered(deployment_event("deployment.completed", deployment))

    body = texts(message)
    assert "*&lt;!channel&gt; &amp; co* `1.0&lt;beta&gt;`" in body
    assert "by &lt;@U999&gt;" in body
    assert "<!channel>" not in body + message.text
    assert "<@U999>" not in body


def test_a_long_violation_message_is_escaped_and_cut_between_entities() -> None:
    message = rendered(blocked_event(a_violation(message="a<b " * 1000)))

    section = message.blocks[2]["text"]["text"]
    assert "a&lt;b " in section
    assert "<b" not in section
    cut = section.split("\n")[1]
    assert cut.endswith("…")
    assert not re.search(r"&[a-z]*$", cut[:-1])


def test_an_override_says_who_why_and_what_was_overridden() -> None:
    window = a_violation()
    deployment = a_deployment(
        status=Status.STARTED,
        extra_metadata={
            "preflight_status": {
                "status": "passed",
                "rules_evaluated": [],
                "override": {
                    "by": "carol",
                    "reason": "Hotfix for INC-42 <urgent>",
                    "violations": [window.model_dump(mode="json")],
                },
            }
        },
    )

    message = rendered(deployment_event("deployment.overridden", deployment, [window]))

    assert message.text.startswith("⚠️ carol overrode the gate to deploy payments-api 1.4.2")
    body = texts(message)
    assert "Hotfix for INC-42 &lt;urgent&gt;" in body
    assert "*NO_DEPLOY_WINDOW* · Weekend freeze" in body
    assert f"{URL}/manage/deployments?view={deployment.id}" in body


def test_an_override_without_violations_on_the_event_reads_them_from_the_deployment() -> None:
    flow = a_violation("FLOW_VIOLATION", rule_name="Staging first", rule_type="flow")
    override = {"by": "carol", "reason": "hotfix", "violations": [flow.model_dump(mode="json")]}
    deployment = a_deployment(extra_metadata={"preflight_status": {"override": override}})

    message = rendered(deployment_event("deployment.overridden", deployment))

    assert "*FLOW_VIOLATION* · Staging first" in texts(message)


def test_a_skipped_gate_lists_what_would_have_applied() -> None:
    message = rendered(deployment_event("deployment.gate_skipped", a_deployment(), [a_violation()]))

    assert message.text.startswith(
        "⚠️ payments-api 1.4.2 reported completed in production without asking the gate"
    )
    assert "*NO_DEPLOY_WINDOW* · Weekend freeze" in texts(message)
    assert buttons(message) == []


def test_many_overridden_violations_end_in_and_n_more() -> None:
    violations = [a_violation(rule_name=f"Freeze {n}", message="y" * 300) for n in range(60)]

    message = rendered(deployment_event("deployment.overridden", a_deployment(), violations))

    (listing,) = [b["text"]["text"] for b in message.blocks if "*Overridden:*" in str(b)]
    more = re.search(r"\n…and (\d+) more$", listing)
    assert more is not None
    assert listing.count("\n• ") + int(more.group(1)) == 60


# Deployment Requests.


def test_a_submitted_request_asks_each_pending_slot_to_approve_or_reject() -> None:
    security = a_slot(ApprovalType.SECURITY)
    qa = a_slot(ApprovalType.QA, optional=True)
    done = a_slot(ApprovalType.UAT, "approved", decided_by="pat")
    request = a_request(security, qa, done)

    message = rendered(request_event("dr.activated", request))

    assert message.text.startswith("📋 Approval requested: March release")
    body = texts(message)
    assert f"<{URL}/ui/requests/{request.id}|March release>" in body
    assert "payments-api `1.4.2` → *production*" in body
    assert "*qa* (optional): ⏳ pending" in body
    assert "*uat*: ✅ approved by pat" in body
    actions = [b for b in message.blocks if b["type"] == "actions"]
    assert [b["block_id"] for b in actions] == [
        f"versioner.slot.{security.id}",
        f"versioner.slot.{qa.id}",
    ]
    decided = [decode(e["value"]) for e in actions[0]["elements"]]
    assert decided == [
        SlotAction(request_id=request.id, slot_id=security.id, decision="approve"),
        SlotAction(request_id=request.id, slot_id=security.id, decision="reject"),
    ]
    assert [e["text"]["text"] for e in actions[0]["elements"]] == [
        "Approve security",
        "Reject security",
    ]


def test_a_submitted_request_without_interactivity_links_to_the_request() -> None:
    request = a_request(a_slot(ApprovalType.SECURITY), a_slot(ApprovalType.QA))

    message = rendered(request_event("dr.activated", request), interactive=False)

    assert interactive(message) == []
    assert [b["url"] for b in buttons(message)] == [f"{URL}/ui/requests/{request.id}"]


@pytest.mark.parametrize(
    ("event_type", "slot_status", "start"),
    [
        (
            "dr.approved",
            "approved",
            "✅ sam (security) approved the security slot of March release",
        ),
        (
            "dr.rejected",
            "rejected",
            "❌ sam (security) rejected the security slot of March release",
        ),
    ],
)
def test_a_slot_decision_says_who_what_and_why(
    event_type: str, slot_status: str, start: str
) -> None:
    event = request_event(
        event_type,
        approval_type="security",
        approver_role="security",
        slot_status=slot_status,
        comments="Pen test report attached & reviewed",
    )

    message = rendered(event)

    assert message.text.startswith(start)
    assert "> Pen test report attached &amp; reviewed" in texts(message)
    assert buttons(message) == []


@pytest.mark.parametrize(
    ("event_type", "start"),
    [
        ("dr.created", "📝 sam created the deployment request March release"),
        ("dr.deactivated", "↩️ sam moved March release back to draft"),
        ("dr.completed", "🏁 March release is complete"),
        ("dr.cancelled", "🚫 sam cancelled March release"),
    ],
)
def test_other_request_events_are_short(event_type: str, start: str) -> None:
    request = a_request()

    message = rendered(request_event(event_type, request))

    assert message.text == start
    assert [b["type"] for b in message.blocks] == ["section"]
    assert f"{URL}/ui/requests/{request.id}" in texts(message)


# Version approvals, refused events, threads.


def test_a_version_approval_says_who_signed_off_what() -> None:
    approval = VersionApprovalPublic(
        id=uuid4(),
        version_id=VERSION_ID,
        product_name="payments-api",
        version="1.4.2",
        approval_type=ApprovalType.SECURITY,
        environment="production",
        comment="Scanned, clean",
        approved_by="sid",
        approver_role="security",
        created_at=T0,
    )
    event = VersionApproved(event_id=uuid4(), occurred_at=T0, actor="user:sid", approval=approval)

    message = rendered(event)

    assert message.text == (
        "✅ sid (security) approved payments-api 1.4.2 for security in production"
    )
    assert "> Scanned, clean" in texts(message)
    assert f"{URL}/manage/versions?view={VERSION_ID}" in texts(message)


def rejected_event() -> EventRejected:
    return EventRejected(
        event_id=uuid4(),
        occurred_at=T0,
        actor="api_key:github-ci",
        event_kind="build",
        product_name="payments-api",
        version="1.4.2",
        status_code=409,
        reason="version 1.4.2 is already registered with another SHA",
    )


def test_a_refused_event_has_no_slack_message() -> None:
    assert render(rejected_event(), public_url=URL, interactive=True) is None


def test_messages_thread_by_product_and_version() -> None:
    assert thread_key(build_event()) == (PRODUCT_ID, "1.4.2")
    assert thread_key(deployment_event()) == (PRODUCT_ID, "1.4.2")
    assert thread_key(blocked_event(a_violation())) == (PRODUCT_ID, "1.4.2")
    assert thread_key(request_event("dr.created")) is None
    assert thread_key(rejected_event()) is None


# After a click.


def _slot_ids(message: SlackMessage) -> list[str]:
    return [b["block_id"] for b in message.blocks if b["type"] == "actions"]


def test_a_decision_replaces_its_buttons_with_who_did_what() -> None:
    message = rendered(
        request_event(
            "dr.activated", a_request(a_slot(ApprovalType.SECURITY), a_slot(ApprovalType.QA))
        )
    )
    first, second = _slot_ids(message)
    original = copy.deepcopy(message.blocks)

    updated = acted(message.blocks, "✅ Approved by <@U123> (security)", block_id=first)

    assert message.blocks == original
    assert len(updated) == len(message.blocks)
    assert [b.get("block_id") for b in updated if b["type"] == "actions"] == [second]
    notes = [b for b in updated if b["type"] == "context"]
    assert notes[-1]["elements"][0]["text"] == "✅ Approved by <@U123> (security)"
    assert updated.index(notes[-1]) == [b.get("block_id") for b in message.blocks].index(first)


def test_without_a_block_id_every_decision_goes() -> None:
    message = rendered(blocked_event(an_approval_violation("security", "qa")))

    updated = acted(message.blocks, "Approved in Versioner")

    assert not [b for b in updated if b["type"] == "actions"]
    assert updated[-1]["elements"][0]["text"] == "Approved in Versioner"
    assert len(updated) == len(message.blocks) - 1


def test_deployment_buttons_stay_and_notes_follow_them_in_order() -> None:
    button = DeployButton(label="Deploy", environment="production", action=fire("production"))
    message = rendered(build_event(), buttons=[button])

    once = acted(message.blocks, "first", block_id=DEPLOY_BLOCK)
    twice = acted(once, "second", block_id=DEPLOY_BLOCK)

    assert [b["type"] for b in twice] == ["section", "context", "actions", "context", "context"]
    assert [b["elements"][0]["text"] for b in twice[3:]] == ["first", "second"]
    assert len({b["block_id"] for b in twice[3:]}) == 2


def test_notes_never_push_a_message_past_fifty_blocks() -> None:
    button = DeployButton(label="Deploy", environment="production", action=fire("production"))
    blocks = rendered(build_event(), buttons=[button]).blocks
    for n in range(60):
        blocks = acted(blocks, f"note {n}", block_id=DEPLOY_BLOCK)

    assert len(blocks) == MAX_BLOCKS
    assert blocks[-1]["elements"][0]["text"] == "note 59"


# The outcome of a webhook button, in the thread.


@pytest.mark.parametrize(
    ("status_code", "error", "start"),
    [
        (202, None, "✅ Deploy → production for 1.4.2 fired by <@U123>: the webhook answered 202"),
        (500, None, "❌ Deploy → production for 1.4.2, fired by <@U123>: the webhook answered 500"),
        (None, "connection refused", "❌ Deploy → production for 1.4.2, fired by <@U123>, could"),
        (None, None, "⚠️ Deploy → production for 1.4.2, fired by <@U123>, got no answer"),
    ],
)
def test_the_outcome_of_a_fired_button(
    status_code: int | None, error: str | None, start: str
) -> None:
    message = fired(
        label="Deploy",
        environment="production",
        version="1.4.2",
        status_code=status_code,
        error=error,
        by="U123",
    )

    assert_within_limits(message)
    assert message.text.startswith(start)


def test_a_firer_who_is_not_a_slack_user_is_named_not_mentioned() -> None:
    message = fired(
        label="Deploy", environment="prod", version="1", status_code=200, error=None, by="<ann>"
    )

    assert "fired by &lt;ann&gt;" in texts(message)


def test_dates_are_slack_date_tokens_with_an_iso_fallback() -> None:
    moment = datetime(2025, 3, 6, 10, 30, 15, tzinfo=UTC)

    assert slack_blocks.slack_date(moment) == (
        "<!date^1741257015^{date_short_pretty} {time}|2025-03-06T10:30:15Z>"
    )


def test_a_public_url_with_a_trailing_slash_makes_the_same_links() -> None:
    request_id = UUID(int=7)

    assert links.request_url(URL + "/", request_id) == f"{URL}/ui/requests/{request_id}"


def test_more_pending_slots_than_blocks_allow_end_in_a_link() -> None:
    slots = [a_slot(ApprovalType.QA) for _ in range(20)]
    request = a_request(*slots)

    message = rendered(request_event("dr.activated", request))

    actions = [b for b in message.blocks if b["type"] == "actions"]
    assert len(actions) == slack_blocks.MAX_DECISION_BLOCKS + 1
    assert actions[-1]["elements"][0]["url"] == f"{URL}/ui/requests/{request.id}"
