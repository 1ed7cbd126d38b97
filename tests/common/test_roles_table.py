"""Who may do what: API.md's role table and approval types, row by row, through `Actor.may`."""

from uuid import uuid4

import pytest

from versioner.common.messages.actor import ANONYMOUS, SYSTEM, Actor
from versioner.common.roles import ApprovalType, Permission, Role, role_may_fill

ROLES = (
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
# API.md, "Who may do what", with the permission that guards each row.
TABLE: dict[Permission, set[str]] = {
    Permission.READ: set(ROLES),
    # Deployment buttons, firings, previews: every person, no API key (keys read only what
    # API.md lists).
    Permission.READ_BUTTONS: set(ROLES),
    Permission.SEND_EVENTS: {"admin", "release_manager", "developer", "sre"},
    Permission.EDIT_PRODUCTS: {"admin", "release_manager"},
    Permission.EDIT_ENVIRONMENTS: {"admin", "release_manager", "sre"},
    Permission.MANAGE_RULES: {"admin", "release_manager", "sre"},
    Permission.MANAGE_CHANNELS: {"admin", "sre"},
    Permission.MANAGE_DRS: {"admin", "release_manager", "product", "developer"},
    Permission.APPROVE_VERSIONS: {
        "admin",
        "release_manager",
        "product",
        "sre",
        "qa",
        "security",
        "compliance",
    },
    Permission.FIRE_BUTTONS: {"admin", "release_manager", "developer", "sre"},
    Permission.MANAGE_USERS: {"admin"},
    Permission.LIST_API_KEYS: {"admin", "developer"},
    Permission.READ_AUDIT: {"admin", "release_manager", "security", "compliance"},
}
# API.md: who fills each approval type; admin and release_manager fill every one.
FILLERS: dict[str, set[str]] = {
    "uat": {"product"},
    "qa": {"qa"},
    "performance": {"sre", "qa"},
    "security": {"security"},
    "code_review": {"developer"},
    "compliance": {"compliance"},
}


def user(role: str) -> Actor:
    return Actor(kind="user", id=uuid4(), name=f"a-{role}", role=Role(role))


def test_there_are_exactly_versioners_ten_roles() -> None:
    assert {r.value for r in Role} == set(ROLES)


def test_every_permission_is_a_row_of_the_table() -> None:
    assert set(Permission) == set(TABLE)


@pytest.mark.parametrize("permission", list(TABLE))
@pytest.mark.parametrize("role", ROLES)
def test_a_user_may_what_the_table_says(permission: Permission, role: str) -> None:
    assert user(role).may(permission) is (role in TABLE[permission])


@pytest.mark.parametrize("permission", list(Permission))
def test_an_api_key_may_only_read_and_send_events(permission: Permission) -> None:
    key = Actor(kind="api_key", id=uuid4(), name="ci")
    assert key.may(permission) is (permission in {Permission.READ, Permission.SEND_EVENTS})


@pytest.mark.parametrize("permission", list(Permission))
def test_nobody_and_everybody(permission: Permission) -> None:
    assert not ANONYMOUS.may(permission)
    assert not Actor(kind="user", id=uuid4(), name="roleless").may(permission)
    assert SYSTEM.may(permission)


def test_the_approval_types_are_api_mds() -> None:
    assert {t.value for t in ApprovalType} == set(FILLERS)
    with pytest.raises(ValueError, match="bogus"):
        ApprovalType("bogus")


@pytest.mark.parametrize("approval_type", list(FILLERS))
@pytest.mark.parametrize("role", ROLES)
def test_who_fills_an_approval_type(approval_type: str, role: str) -> None:
    expected = role in FILLERS[approval_type] | {"admin", "release_manager"}
    assert role_may_fill(Role(role), ApprovalType(approval_type)) is expected
