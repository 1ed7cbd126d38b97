"""Versioner's ten roles and who may do what (API.md, "Authentication and roles")."""

from enum import StrEnum


class Role(StrEnum):
    """A user's role."""

    ADMIN = "admin"
    RELEASE_MANAGER = "release_manager"
    PRODUCT = "product"
    DEVELOPER = "developer"
    SRE = "sre"
    QA = "qa"
    SECURITY = "security"
    COMPLIANCE = "compliance"
    BILLING = "billing"
    VIEWER = "viewer"


class Permission(StrEnum):
    """An action guarded by role."""

    READ = "read"
    READ_BUTTONS = "read_buttons"
    SEND_EVENTS = "send_events"
    EDIT_PRODUCTS = "edit_products"
    EDIT_ENVIRONMENTS = "edit_environments"
    MANAGE_RULES = "manage_rules"
    MANAGE_CHANNELS = "manage_channels"
    MANAGE_DRS = "manage_drs"
    APPROVE_VERSIONS = "approve_versions"
    FIRE_BUTTONS = "fire_buttons"
    MANAGE_USERS = "manage_users"
    LIST_API_KEYS = "list_api_keys"
    READ_AUDIT = "read_audit"


R = Role
_ALL = frozenset(Role)

ROLE_PERMISSIONS: dict[Permission, frozenset[Role]] = {
    Permission.READ: _ALL,
    # Buttons, their firings and previews: people's, not CI's (API.md: keys read the catalog,
    # versions, state, deployments, rules and DRs, nothing else).
    Permission.READ_BUTTONS: _ALL,
    Permission.SEND_EVENTS: frozenset({R.ADMIN, R.RELEASE_MANAGER, R.DEVELOPER, R.SRE}),
    Permission.EDIT_PRODUCTS: frozenset({R.ADMIN, R.RELEASE_MANAGER}),
    Permission.EDIT_ENVIRONMENTS: frozenset({R.ADMIN, R.RELEASE_MANAGER, R.SRE}),
    Permission.MANAGE_RULES: frozenset({R.ADMIN, R.RELEASE_MANAGER, R.SRE}),
    Permission.MANAGE_CHANNELS: frozenset({R.ADMIN, R.SRE}),
    Permission.MANAGE_DRS: frozenset({R.ADMIN, R.RELEASE_MANAGER, R.PRODUCT, R.DEVELOPER}),
    Permission.APPROVE_VERSIONS: frozenset(
        {R.ADMIN, R.RELEASE_MANAGER, R.PRODUCT, R.SRE, R.QA, R.SECURITY, R.COMPLIANCE}
    ),
    Permission.FIRE_BUTTONS: frozenset({R.ADMIN, R.RELEASE_MANAGER, R.DEVELOPER, R.SRE}),
    Permission.MANAGE_USERS: frozenset({R.ADMIN}),
    Permission.LIST_API_KEYS: frozenset({R.ADMIN, R.DEVELOPER}),
    Permission.READ_AUDIT: frozenset({R.ADMIN, R.RELEASE_MANAGER, R.SECURITY, R.COMPLIANCE}),
}

# What CI's API keys may do besides reading: nothing but sending events.
API_KEY_PERMISSIONS = frozenset({Permission.READ, Permission.SEND_EVENTS})


class ApprovalType(StrEnum):
    """A kind of sign-off a Deployment Request slot or a version approval asks for."""

    UAT = "uat"
    QA = "qa"
    PERFORMANCE = "performance"
    SECURITY = "security"
    CODE_REVIEW = "code_review"
    COMPLIANCE = "compliance"


_EVERY_TYPE = frozenset({R.ADMIN, R.RELEASE_MANAGER})
APPROVERS: dict[ApprovalType, frozenset[Role]] = {
    ApprovalType.UAT: _EVERY_TYPE | {R.PRODUCT},
    ApprovalType.QA: _EVERY_TYPE | {R.QA},
    ApprovalType.PERFORMANCE: _EVERY_TYPE | {R.SRE, R.QA},
    ApprovalType.SECURITY: _EVERY_TYPE | {R.SECURITY},
    ApprovalType.CODE_REVIEW: _EVERY_TYPE | {R.DEVELOPER},
    ApprovalType.COMPLIANCE: _EVERY_TYPE | {R.COMPLIANCE},
}


def role_may(role: Role, permission: Permission) -> bool:
    """Whether a user with this role may do this."""
    return role in ROLE_PERMISSIONS[permission]


def role_may_fill(role: Role, approval_type: ApprovalType) -> bool:
    """Whether a user with this role may decide a slot or sign off a version of this type."""
    return role in APPROVERS[approval_type]
