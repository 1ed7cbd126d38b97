"""Button values: what a click asks Versioner to do, encoded compactly and read back strictly."""

import json
from uuid import uuid4

import pytest

from versioner.common.roles import ApprovalType
from versioner.common.slack_actions import (
    FIRE,
    MAX_VALUE_LENGTH,
    SLOT_APPROVE,
    SLOT_REJECT,
    VALUE_PREFIX,
    VERSION_APPROVE,
    ApproveAction,
    FireAction,
    SlotAction,
    action_id,
    action_kind,
    decode,
    encode,
    kind_of,
)

FIRE_PROD = FireAction(
    button_id=uuid4(), product_id=uuid4(), version="1.4.2", environment="production"
)
APPROVE_SLOT = SlotAction(request_id=uuid4(), slot_id=uuid4(), decision="approve")
REJECT_SLOT = SlotAction(request_id=uuid4(), slot_id=uuid4(), decision="reject")
SIGN_OFF = ApproveAction(
    version_id=uuid4(), approval_type=ApprovalType.SECURITY, environment="production"
)
SIGN_OFF_ANYWHERE = ApproveAction(version_id=uuid4(), approval_type=ApprovalType.QA)


@pytest.mark.parametrize(
    "action", [FIRE_PROD, APPROVE_SLOT, REJECT_SLOT, SIGN_OFF, SIGN_OFF_ANYWHERE]
)
def test_an_action_reads_back_as_itself(action: FireAction | SlotAction | ApproveAction) -> None:
    assert decode(encode(action)) == action


def test_a_value_is_versioned_compact_json() -> None:
    value = encode(SIGN_OFF_ANYWHERE)

    assert value.startswith(VALUE_PREFIX)
    assert " " not in value
    body = json.loads(value.removeprefix(VALUE_PREFIX))
    assert body == {
        "kind": "version",
        "version_id": str(SIGN_OFF_ANYWHERE.version_id),
        "approval_type": "qa",
    }


def test_the_same_action_encodes_the_same_way() -> None:
    again = FireAction(
        button_id=FIRE_PROD.button_id,
        product_id=FIRE_PROD.product_id,
        version=FIRE_PROD.version,
        environment="production",
    )

    assert encode(again) == encode(FIRE_PROD)


def test_the_longest_names_still_fit_a_button_value() -> None:
    action = FireAction(
        button_id=uuid4(), product_id=uuid4(), version="v" * 255, environment="é" * 255
    )

    assert len(encode(action)) <= MAX_VALUE_LENGTH
    assert decode(encode(action)) == action


def _value(body: dict[str, object]) -> str:
    return VALUE_PREFIX + json.dumps(body)


SLOT_BODY = {"kind": "slot", "request_id": str(uuid4()), "slot_id": str(uuid4())}


@pytest.mark.parametrize(
    "value",
    [
        "",
        "hello",
        "v1:",
        "v1:not json",
        "v2:" + encode(FIRE_PROD).removeprefix(VALUE_PREFIX),
        encode(FIRE_PROD).removeprefix(VALUE_PREFIX),
        _value({"kind": "deploy_everything"}),
        _value({**SLOT_BODY}),
        _value({**SLOT_BODY, "decision": "maybe"}),
        _value({**SLOT_BODY, "decision": "approve", "extra": 1}),
        _value({**SLOT_BODY, "decision": "approve", "slot_id": "not-a-uuid"}),
        _value({"kind": "version", "version_id": str(uuid4()), "approval_type": "vibes"}),
        _value({"kind": "fire", "button_id": str(uuid4()), "version": "", "environment": "p"}),
        _value({"kind": "fire", "button_id": str(uuid4()), "version": "1", "environment": "p"})
        + " " * MAX_VALUE_LENGTH,
        "v1:[]",
    ],
)
def test_anything_else_is_refused(value: str) -> None:
    with pytest.raises(ValueError):
        decode(value)


def test_action_ids_name_the_kind_and_stay_unique_in_a_block() -> None:
    assert action_kind(FIRE_PROD) == FIRE
    assert action_kind(APPROVE_SLOT) == SLOT_APPROVE
    assert action_kind(REJECT_SLOT) == SLOT_REJECT
    assert action_kind(SIGN_OFF) == VERSION_APPROVE

    ids = [action_id(FIRE, n) for n in range(3)]
    assert len(set(ids)) == 3
    assert all(kind_of(i) == FIRE for i in ids)
    assert all(len(i) <= 255 for i in ids)
