"""What an interactive Slack button asks Versioner to do: the opaque `value` it carries.

Shared: the notifier writes values into messages, ingest and policy read them back on a click.

Slack hands a button's `value` back untouched on a click, and only Versioner reads it. A value
is `v1:` followed by the action as compact JSON; the prefix lets a later format be told apart
from buttons still sitting in old messages. `decode` refuses anything else with `ValueError`.

An `action_id` is `<kind>:<index>`: the kind (one of the constants below) says what the button
does, the index keeps ids unique within their actions block, as Slack requires.
"""

from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from versioner.common.roles import ApprovalType

VALUE_PREFIX = "v1:"
# Slack refuses a button whose value is longer.
MAX_VALUE_LENGTH = 2000
MAX_ACTION_ID_LENGTH = 255

FIRE = "versioner.fire"
SLOT_APPROVE = "versioner.slot.approve"
SLOT_REJECT = "versioner.slot.reject"
VERSION_APPROVE = "versioner.version.approve"
# Link buttons only navigate, but Slack still reports their clicks to an app: acknowledge them.
LINK = "versioner.link"

# Names Versioner accepts are at most 255 characters, which keeps every value far below 2000.
_Name = Annotated[str, Field(min_length=1, max_length=255)]


class _Action(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class FireAction(_Action):
    """Fire a webhook deployment button for one version and one environment."""

    kind: Literal["fire"] = "fire"
    button_id: UUID
    product_id: UUID
    version: _Name
    environment: _Name


class SlotAction(_Action):
    """Approve or reject one approval slot of a Deployment Request."""

    kind: Literal["slot"] = "slot"
    request_id: UUID
    slot_id: UUID
    decision: Literal["approve", "reject"]


class ApproveAction(_Action):
    """Sign a version off for one approval type, in one environment or everywhere."""

    kind: Literal["version"] = "version"
    version_id: UUID
    approval_type: ApprovalType
    environment: _Name | None = None


Action = Annotated[FireAction | SlotAction | ApproveAction, Field(discriminator="kind")]
_ACTION: TypeAdapter[Action] = TypeAdapter(Action)


def encode(action: FireAction | SlotAction | ApproveAction) -> str:
    """The button `value` for an action: `v1:` and compact JSON, the same for the same action."""
    value = VALUE_PREFIX + action.model_dump_json(exclude_none=True)
    if len(value) > MAX_VALUE_LENGTH:
        # Only names full of escaped control characters get here.
        raise ValueError(f"the action does not fit in {MAX_VALUE_LENGTH} characters")
    return value


def decode(value: str) -> FireAction | SlotAction | ApproveAction:
    """The action a button `value` carries; `ValueError` for anything Versioner did not write."""
    if len(value) > MAX_VALUE_LENGTH or not value.startswith(VALUE_PREFIX):
        raise ValueError("not a Versioner action value")
    try:
        return _ACTION.validate_json(value.removeprefix(VALUE_PREFIX))
    except ValidationError:
        raise ValueError("malformed Versioner action value") from None


def action_kind(action: FireAction | SlotAction | ApproveAction) -> str:
    """Which of `FIRE`, `SLOT_APPROVE`, `SLOT_REJECT` and `VERSION_APPROVE` this action is."""
    match action:
        case FireAction():
            return FIRE
        case SlotAction(decision="approve"):
            return SLOT_APPROVE
        case SlotAction():
            return SLOT_REJECT
        case ApproveAction():
            return VERSION_APPROVE


def action_id(kind: str, index: int = 0) -> str:
    """A button's `action_id`: its kind and its place in the actions block."""
    return f"{kind}:{index}"


def kind_of(action_id: str) -> str:
    """The kind an `action_id` names (`versioner.fire:2` → `versioner.fire`)."""
    return action_id.partition(":")[0]
