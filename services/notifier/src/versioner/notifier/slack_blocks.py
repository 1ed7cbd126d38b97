"""Slack messages for domain events, in Block Kit: useful at a glance, within Slack's limits.

Text from users and CI is escaped for mrkdwn; a text too long ends in "…" and a list too long in
"…and N more"; no message has more blocks, elements or characters than Block Kit accepts.

A channel that posts through an incoming-webhook URL (`interactive=False`) gets link buttons
only: whatever needs a click answered by Versioner (a webhook deployment button, Approve,
Reject) becomes one "Open in Versioner" link to the page where it can be done.

Every button that asks for one decision sits in its own actions block, so that `acted` retires
exactly the buttons a click answered.
"""

import copy
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from slack_sdk.models.blocks import (
    ActionsBlock,
    ButtonElement,
    ContextBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from versioner.common.errors import Violation
from versioner.common.governance import SlotPublic
from versioner.common.links import deployment_url, request_url, version_url
from versioner.common.messages.domain import (
    BuildEventOccurred,
    DeploymentBlocked,
    DeploymentChanged,
    DomainEvent,
    RequestEventOccurred,
    VersionApproved,
)
from versioner.common.resources import BuildPublic, DeploymentPublic
from versioner.common.roles import ApprovalType
from versioner.common.slack_actions import (
    LINK,
    ApproveAction,
    FireAction,
    SlotAction,
    action_id,
    action_kind,
    encode,
)
from versioner.common.types import as_utc

Block = dict[str, Any]

# Block Kit's limits.
MAX_BLOCKS = 50
MAX_TEXT = 3000
MAX_BUTTON_TEXT = 75
MAX_ELEMENTS = 25
MAX_URL = 3000
# A blocked message lists this many violations in full and links to the rest: a wall of fifty
# blocks helps nobody at a glance.
MAX_LISTED_VIOLATIONS = 20
# Each pending decision is an actions block of its own; past this many, a link.
MAX_DECISION_BLOCKS = 12
# One violation's message in a listing; the page has the whole text.
_MAX_MESSAGE = 1500

DEPLOY_BLOCK = "versioner.deploy"
OPEN_BLOCK = "versioner.open"
SLOT_BLOCK = "versioner.slot"
APPROVE_BLOCK = "versioner.approve"
NOTE_BLOCK = "versioner.note"

_SLACK_USER = re.compile(r"[UW][A-Z0-9]{2,}")
_LINK = re.compile(r"<[^|<>]*\|([^<>]*)>")


@dataclass(frozen=True)
class DeployButton:
    """A deployment button for a "ready to deploy" message: a link to open or a webhook to fire."""

    label: str
    environment: str
    url: str | None = None
    action: FireAction | None = None

    def __post_init__(self) -> None:
        if (self.url is None) == (self.action is None):
            raise ValueError("a deployment button has either a url (link) or an action (webhook)")


@dataclass(frozen=True)
class SlackMessage:
    """A message to post: its blocks and the text notifications and old clients show."""

    text: str
    blocks: list[Block]


def escape(text: str) -> str:
    """Text as mrkdwn shows it literally: `&`, `<` and `>` escaped, so nothing links or pings."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_date(moment: datetime) -> str:
    """A time each reader sees in their own zone, with the UTC ISO time as the fallback."""
    utc = as_utc(moment)
    iso = utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"<!date^{int(utc.timestamp())}^{{date_short_pretty}} {{time}}|{iso}>"


def mention(slack_user_id: str) -> str:
    """A Slack user, as a mention."""
    return f"<@{slack_user_id}>"


def render(
    event: DomainEvent,
    *,
    public_url: str,
    interactive: bool,
    buttons: Sequence[DeployButton] = (),
) -> SlackMessage | None:
    """The Slack message for an event, or None when it has none.

    `event.rejected` has none: it is no channel subscription, and the caller that sent the
    refused event learns of it from `GET /events/{id}`. `buttons` go on `build.completed` only.
    """
    match event:
        case BuildEventOccurred():
            return _build(event, public_url, interactive, buttons)
        case DeploymentChanged():
            return _deployment(event, public_url)
        case DeploymentBlocked():
            return _blocked(event, public_url, interactive)
        case RequestEventOccurred():
            return _request(event, public_url, interactive)
        case VersionApproved():
            return _version_approved(event, public_url)
    # Refused events, and the notifier's own work orders (fires, click answers), have none.
    return None


def thread_key(event: DomainEvent) -> tuple[UUID, str] | None:
    """The (product id, version) whose thread an event's message belongs in, if it has one.

    None for Deployment Requests (several versions), refused events and version approvals
    (neither carries a product id).
    """
    match event:
        case BuildEventOccurred(build=build):
            return build.product_id, build.version
        case DeploymentChanged(deployment=deployment):
            return deployment.product_id, deployment.version
        case DeploymentBlocked(attempt=attempt):
            return attempt.product_id, attempt.version
    return None


def acted(message_blocks: list[Block], note: str, *, block_id: str | None = None) -> list[Block]:
    """A message's blocks after a click, with `note` (mrkdwn) saying who did what.

    With `block_id`, the note takes that actions block's place; the deployment buttons stay
    (another environment may still be deployed from the same message) and the note follows
    them, after earlier notes. Without, every block of decision buttons goes and the note takes
    the first one's place. With no such block, the note goes last. The input is not changed.
    """
    blocks = copy.deepcopy(message_blocks)
    numbers = [
        int(b["block_id"].rpartition(".")[2]) for b in blocks if _is_note(b) and _numbered(b)
    ]
    new = _context(note)
    new["block_id"] = f"{NOTE_BLOCK}.{max(numbers, default=-1) + 1}"
    if block_id is None:
        targets = [i for i, b in enumerate(blocks) if _is_decision(b)]
    else:
        targets = [i for i, b in enumerate(blocks) if b.get("block_id") == block_id]
    if not targets:
        blocks.append(new)
    elif block_id == DEPLOY_BLOCK:
        after = targets[0] + 1
        while after < len(blocks) and _is_note(blocks[after]):
            after += 1
        blocks.insert(after, new)
    else:
        blocks[targets[0]] = new
        blocks = [b for i, b in enumerate(blocks) if i not in targets[1:]]
    # A message with many notes drops its oldest rather than exceed Slack's limit.
    while len(blocks) > MAX_BLOCKS:
        oldest = next(i for i, b in enumerate(blocks) if _is_note(b))
        del blocks[oldest]
    return blocks


def fired(
    *,
    label: str,
    environment: str,
    version: str,
    status_code: int | None,
    error: str | None,
    by: str,
) -> SlackMessage:
    """The outcome of a webhook deployment button, for the version's thread.

    `by` is a Slack user id (shown as a mention) or a name.
    """
    who = mention(by) if _SLACK_USER.fullmatch(by) else escape(by)
    what = f"*{escape(label)}* → *{escape(environment)}* for `{escape(version)}`"
    if error is not None:
        headline = f"❌ {what}, fired by {who}, could not be sent: {escape(error)}"
    elif status_code is None:
        headline = f"⚠️ {what}, fired by {who}, got no answer"
    elif 200 <= status_code < 300:
        headline = f"✅ {what} fired by {who}: the webhook answered {status_code}"
    else:
        headline = f"❌ {what}, fired by {who}: the webhook answered {status_code}"
    return _message(headline, [_section(headline)])


def test_message(channel_name: str, public_url: str) -> SlackMessage:
    """What a channel's **Test** button posts."""
    headline = f"🔔 Test from Versioner: the channel *{escape(channel_name)}* reaches this place"
    return _message(headline, [_section(f"{headline}\n{_link(public_url, 'Open Versioner')}")])


# Builds.


def _build(
    event: BuildEventOccurred,
    public_url: str,
    interactive: bool,
    buttons: Sequence[DeployButton],
) -> SlackMessage:
    build = event.build
    what = _what(build.product_name, build.version)
    page = version_url(public_url, build.version_id)
    details = _join(
        f"by {escape(_builder(build, event.actor))}",
        f"🌿 {escape(build.scm_branch)}" if build.scm_branch else None,
        f"`{escape(build.scm_sha[:12])}`" if build.scm_sha else None,
        _link(build.build_url, f"build {build.build_number or ''}".strip())
        if build.build_url
        else None,
        slack_date(event.occurred_at),
        _link(page, "View in Versioner"),
    )
    if event.event_type != "build.completed":
        headline = {
            "build.pending": f"⏳ Build of {what} queued",
            "build.started": f"🔨 Build of {what} started",
            "build.failed": f"❌ Build of {what} failed",
            "build.aborted": f"⏹️ Build of {what} aborted",
        }[event.event_type]
        error = _join(
            f"`{escape(build.error_code)}`" if build.error_code else None,
            escape(build.error_message) if build.error_message else None,
        )
        return _message(headline, [_section("\n".join(filter(None, (headline, error, details))))])

    headline = f"🚀 {what} is ready to deploy"
    blocks = [_section(headline), _context(details)]
    elements = _deploy_elements(buttons, interactive, page)
    if elements:
        blocks.append(_actions(DEPLOY_BLOCK, elements))
    return _message(headline, blocks)


def _deploy_elements(
    buttons: Sequence[DeployButton], interactive: bool, page: str
) -> list[ButtonElement]:
    elements: list[ButtonElement] = []
    needs_page = False
    for button in buttons:
        text = f"{button.label} → {button.environment}"
        if button.url is not None and len(button.url) <= MAX_URL:
            elements.append(_link_button(text, button.url, len(elements)))
        elif button.action is not None and interactive:
            elements.append(_button(text, button.action, len(elements)))
        else:
            needs_page = True
    if len(elements) + needs_page > MAX_ELEMENTS:
        elements, needs_page = elements[: MAX_ELEMENTS - 1], True
    if needs_page:
        elements.append(_link_button("Open in Versioner", page, len(elements)))
    return elements


def _builder(build: BuildPublic, actor: str) -> str:
    return build.built_by_name or build.built_by or _person(actor)


# Deployments.


def _deployment(event: DeploymentChanged, public_url: str) -> SlackMessage | None:
    deployment = event.deployment
    what = _what(deployment.product_name, deployment.version)
    env = f"*{escape(deployment.environment_name)}*"
    who = escape(_deployer(deployment, event.actor))
    page = _link(deployment_url(public_url, deployment.id), "View deployment")
    ci_run = _link(deployment.deploy_url, "CI run") if deployment.deploy_url else None
    when = slack_date(event.occurred_at)
    mismatch = (
        "⚠️ The reported commit differs from the one this version was built from."
        if deployment.sha_mismatch
        else None
    )
    match event.event_type:
        case "deployment.completed":
            headline = f"✅ {what} deployed to {env}"
            details = _join("🟢 Success", f"by {who}", when, page, ci_run)
            return _message(headline, _with_context(headline, mismatch, details))
        case "deployment.failed":
            headline = f"❌ {what} failed to deploy to {env}"
            details = _join("🔴 Failed", f"by {who}", when, page, ci_run)
            reason = f"> {escape(deployment.abort_reason)}" if deployment.abort_reason else None
            body = "\n".join(filter(None, (reason, mismatch))) or None
            return _message(headline, _with_context(headline, body, details))
        case "deployment.overridden":
            return _overridden(event, deployment, public_url)
        case "deployment.gate_skipped":
            headline = (
                f"⚠️ {what} reported {escape(deployment.status)} in {env} without asking the gate"
            )
            blocks = [_section(headline)]
            if event.violations:
                listing = _listing("*Would have applied:*", _violation_lines(event.violations))
                blocks.append(_section(listing))
            blocks.append(_context(_join(f"by {who}", when, page, ci_run)))
            return _message(headline, blocks)
    headline = {
        "deployment.pending": f"⏳ {what} queued for {env}",
        "deployment.started": f"🔄 Deploying {what} to {env}",
        "deployment.aborted": f"⏹️ Deployment of {what} to {env} aborted",
    }[event.event_type]
    reason = f"> {escape(deployment.abort_reason)}" if deployment.abort_reason else None
    text = "\n".join(filter(None, (headline, reason, _join(f"by {who}", when, page, ci_run))))
    return _message(headline, [_section(text)])


def _deployer(deployment: DeploymentPublic, actor: str) -> str:
    return deployment.deployed_by_name or deployment.deployed_by or _person(actor)


def _blocked(event: DeploymentBlocked, public_url: str, interactive: bool) -> SlackMessage:
    attempt = event.attempt
    what = _what(attempt.product_name, attempt.version)
    codes = ", ".join(dict.fromkeys(v.code for v in event.violations))
    headline = f"⛔ {what} blocked from *{escape(attempt.environment_name)}*"
    page = version_url(public_url, attempt.version_id)
    who = escape(attempt.deployed_by or _person(event.actor))
    blocks = [
        _section(f"{headline}: {escape(codes)}" if codes else headline),
        _context(
            _join(f"Requested by {who}", slack_date(event.occurred_at), _link(page, "View version"))
        ),
    ]
    listed = event.violations[:MAX_LISTED_VIOLATIONS]
    blocks.extend(_section(_violation_text(v)) for v in listed)
    if hidden := len(event.violations) - len(listed):
        blocks.append(_context(f"…and {hidden} more: {_link(page, 'see them all in Versioner')}"))

    requests = _approval_requests(event.violations, attempt.version_id)
    if requests and not interactive:
        blocks.append(_actions(OPEN_BLOCK, [_link_button("Open in Versioner", page, 0)]))
    elif requests:
        for n, action in enumerate(requests[:MAX_DECISION_BLOCKS]):
            where = f" ({action.environment})" if action.environment else ""
            button = _button(f"Approve {action.approval_type}{where}", action, 0, style="primary")
            blocks.append(_actions(f"{APPROVE_BLOCK}.{n}", [button]))
    if interactive and len(requests) > MAX_DECISION_BLOCKS:
        blocks.append(_actions(OPEN_BLOCK, [_link_button("More approvals in Versioner", page, 0)]))
    return _message(f"{headline}: {escape(codes)}" if codes else headline, blocks)


def _violation_text(violation: Violation) -> str:
    lines = [
        f"*{escape(violation.code)}* · {escape(violation.rule_name)}",
        _clip(escape(violation.message), _MAX_MESSAGE),
    ]
    if violation.retry_after is not None:
        lines.append(f"🕒 Retry after {slack_date(violation.retry_after)}")
    return "\n".join(lines)


def _approval_requests(violations: list[Violation], version_id: UUID) -> list[ApproveAction]:
    """An "Approve <type>" per sign-off a QUALITY_APPROVAL_REQUIRED violation says is missing."""
    requests: dict[ApproveAction, None] = {}
    for violation in violations:
        if violation.code != "QUALITY_APPROVAL_REQUIRED":
            continue
        details = violation.details
        environment = details.get("environment")
        for kind in details.get("missing_approvals") or []:
            try:
                action = ApproveAction(
                    version_id=details.get("version_id") or version_id,
                    approval_type=ApprovalType(kind),
                    environment=environment if isinstance(environment, str) else None,
                )
            except ValueError:
                continue
            requests[action] = None
    return list(requests)


def _overridden(
    event: DeploymentChanged, deployment: DeploymentPublic, public_url: str
) -> SlackMessage:
    preflight = deployment.extra_metadata.get("preflight_status")
    override = preflight.get("override") if isinstance(preflight, dict) else None
    override = override if isinstance(override, dict) else {}
    by = str(override.get("by") or _person(event.actor))
    violations = event.violations or _violations(override.get("violations"))
    what = _what(deployment.product_name, deployment.version)
    headline = (
        f"⚠️ {escape(by)} overrode the gate to deploy {what} to "
        f"*{escape(deployment.environment_name)}*"
    )
    blocks = [_section(headline)]
    if reason := override.get("reason"):
        blocks.append(_section(f"*Reason:* {escape(str(reason))}"))
    if violations:
        blocks.append(_section(_listing("*Overridden:*", _violation_lines(violations))))
    page = _link(deployment_url(public_url, deployment.id), "View deployment")
    blocks.append(_context(_join(slack_date(event.occurred_at), page)))
    return _message(headline, blocks)


def _violations(raw: Any) -> list[Violation]:
    if not isinstance(raw, list):
        return []
    found = []
    for item in raw:
        try:
            found.append(Violation.model_validate(item))
        except ValueError:
            continue
    return found


def _violation_lines(violations: list[Violation]) -> list[str]:
    return [
        f"*{escape(v.code)}* · {escape(v.rule_name)}: {_clip(escape(v.message), 300)}"
        for v in violations
    ]


# Deployment Requests.


def _request(event: RequestEventOccurred, public_url: str, interactive: bool) -> SlackMessage:
    request = event.request
    page = request_url(public_url, request.id)
    name = _link(page, request.name)
    who = escape(_person(event.actor))
    scope = ", ".join(f"{escape(i.product)} `{escape(i.version)}`" for i in request.items)
    target = f"{scope} → *{escape(', '.join(request.environments))}*"
    if event.event_type in ("dr.approved", "dr.rejected"):
        mark, verb = ("❌", "rejected") if event.event_type == "dr.rejected" else ("✅", "approved")
        kind = escape(event.approval_type or "an approval")
        role = f" ({escape(event.approver_role)})" if event.approver_role else ""
        headline = f"{mark} {who}{role} {verb} the *{kind}* slot of {name}"
        comment = f"> {_clip(escape(event.comments), 2000)}" if event.comments else None
        return _message(headline, [_section("\n".join(filter(None, (headline, target, comment))))])
    if event.event_type == "dr.activated":
        return _submitted(event, page, name, target, interactive)
    headline = {
        "dr.created": f"📝 {who} created the deployment request {name}",
        "dr.deactivated": f"↩️ {who} moved {name} back to draft",
        "dr.completed": f"🏁 {name} is complete",
        "dr.cancelled": f"🚫 {who} cancelled {name}",
    }[event.event_type]
    return _message(headline, [_section(f"{headline}\n{target}")])


def _submitted(
    event: RequestEventOccurred, page: str, name: str, target: str, interactive: bool
) -> SlackMessage:
    request = event.request
    headline = f"📋 Approval requested: {name}"
    intro = _join(headline, target, f"by {escape(request.created_by)}", sep="\n")
    blocks = [_section(intro)]
    if request.description:
        blocks.append(_section(f"> {_clip(escape(request.description), 2000)}"))
    if slots := [_slot_line(slot) for slot in request.approval_slots]:
        blocks.append(_section(_listing("*Approvals:*", slots)))
    pending = [slot for slot in request.approval_slots if slot.status == "pending"]
    if pending and not interactive:
        blocks.append(_actions(OPEN_BLOCK, [_link_button("Open in Versioner", page, 0)]))
    elif pending:
        for slot in pending[:MAX_DECISION_BLOCKS]:
            approve = SlotAction(request_id=request.id, slot_id=slot.id, decision="approve")
            reject = SlotAction(request_id=request.id, slot_id=slot.id, decision="reject")
            blocks.append(
                _actions(
                    f"{SLOT_BLOCK}.{slot.id}",
                    [
                        _button(f"Approve {slot.approval_type}", approve, 0, style="primary"),
                        _button(f"Reject {slot.approval_type}", reject, 1, style="danger"),
                    ],
                )
            )
        if len(pending) > MAX_DECISION_BLOCKS:
            more = _link_button("More approvals in Versioner", page, 0)
            blocks.append(_actions(OPEN_BLOCK, [more]))
    return _message(headline, blocks)


def _slot_line(slot: SlotPublic) -> str:
    label = f"*{escape(slot.approval_type)}*" + (" (optional)" if slot.optional else "")
    if slot.status == "pending":
        return f"{label}: ⏳ pending"
    mark = "✅" if slot.status == "approved" else "❌"
    by = f" by {escape(slot.decided_by)}" if slot.decided_by else ""
    return f"{label}: {mark} {slot.status}{by}"


# Version approvals.


def _version_approved(event: VersionApproved, public_url: str) -> SlackMessage:
    approval = event.approval
    what = _what(approval.product_name, approval.version)
    where = f" in *{escape(approval.environment)}*" if approval.environment else ""
    headline = (
        f"✅ {escape(approval.approved_by)} ({escape(approval.approver_role)}) approved {what} "
        f"for *{escape(approval.approval_type)}*{where}"
    )
    comment = f"> {_clip(escape(approval.comment), 2000)}" if approval.comment else None
    page = _link(version_url(public_url, approval.version_id), "View version")
    details = _join(slack_date(event.occurred_at), page)
    return _message(headline, [_section("\n".join(filter(None, (headline, comment, details))))])


# Blocks and text.


def _message(headline: str, blocks: list[Block]) -> SlackMessage:
    if len(blocks) > MAX_BLOCKS:
        blocks = [*blocks[: MAX_BLOCKS - 1], _context("…more in Versioner")]
    return SlackMessage(text=_clip(_flat(headline), MAX_TEXT), blocks=blocks)


def _flat(mrkdwn: str) -> str:
    """A headline as notification text: links become their labels, dates their ISO time."""
    return _LINK.sub(r"\1", mrkdwn).replace("*", "").replace("`", "")


def _section(text: str) -> Block:
    return SectionBlock(text=_mrkdwn(text)).to_dict()


def _context(text: str) -> Block:
    return ContextBlock(elements=[_mrkdwn(text)]).to_dict()


def _with_context(headline: str, body: str | None, details: str) -> list[Block]:
    return [_section(f"{headline}\n{body}" if body else headline), _context(details)]


def _actions(block_id: str, elements: list[ButtonElement]) -> Block:
    return ActionsBlock(block_id=block_id, elements=elements[:MAX_ELEMENTS]).to_dict()


def _mrkdwn(text: str) -> MarkdownTextObject:
    return MarkdownTextObject(text=_clip(text, MAX_TEXT))


def _plain(text: str) -> PlainTextObject:
    return PlainTextObject(text=_clip_plain(text, MAX_BUTTON_TEXT), emoji=True)


def _link_button(text: str, url: str, index: int) -> ButtonElement:
    return ButtonElement(text=_plain(text), url=url, action_id=action_id(LINK, index))


def _button(
    text: str,
    action: FireAction | SlotAction | ApproveAction,
    index: int,
    style: str | None = None,
) -> ButtonElement:
    return ButtonElement(
        text=_plain(text),
        value=encode(action),
        action_id=action_id(action_kind(action), index),
        style=style,
    )


def _listing(title: str, lines: Sequence[str]) -> str:
    """`title`, then one bullet per line while they fit a section, then "…and N more"."""
    room = MAX_TEXT - len(title) - 40
    kept: list[str] = []
    for line in lines[:MAX_LISTED_VIOLATIONS]:
        room -= len(line) + 3
        if room < 0:
            break
        kept.append(f"\n• {line}")
    more = f"\n…and {len(lines) - len(kept)} more" if len(kept) < len(lines) else ""
    return title + "".join(kept) + more


def _clip(text: str, limit: int) -> str:
    """At most `limit` characters, ending in "…" when cut, never inside a link or an entity."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if cut.rfind("<") > cut.rfind(">"):
        cut = cut[: cut.rfind("<")]
    if cut.rfind("&") > cut.rfind(";"):
        cut = cut[: cut.rfind("&")]
    return cut + "…"


def _clip_plain(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _join(*parts: str | None, sep: str = " • ") -> str:
    return sep.join(part for part in parts if part)


def _what(product: str, version: str) -> str:
    return f"*{escape(product)}* `{escape(version)}`"


def _link(url: str, label: str) -> str:
    # `|` and `>` end a link's URL in mrkdwn; percent-encoded, they keep their meaning.
    safe = url.replace("<", "%3C").replace(">", "%3E").replace("|", "%7C").replace(" ", "%20")
    return f"<{safe}|{escape(label)}>"


def _person(actor: str) -> str:
    """How a person reads an actor label (`user:alice`, `api_key:ci`, `system`)."""
    kind, _, name = actor.partition(":")
    if not name:
        return "Versioner" if actor == "system" else actor
    return f"{name} (API key)" if kind == "api_key" else name


def _is_note(block: Block) -> bool:
    return block.get("type") == "context" and str(block.get("block_id", "")).startswith(
        f"{NOTE_BLOCK}."
    )


def _numbered(block: Block) -> bool:
    return str(block["block_id"]).rpartition(".")[2].isdigit()


def _is_decision(block: Block) -> bool:
    block_id = str(block.get("block_id", ""))
    return block.get("type") == "actions" and block_id.startswith(
        (f"{SLOT_BLOCK}.", f"{APPROVE_BLOCK}.")
    )
