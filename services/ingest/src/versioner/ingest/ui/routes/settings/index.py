"""Settings: the index of the settings pages this user's role opens.

Every settings page and form makes the call its JSON route makes (`routes/accounts.py`,
`channels.py`, `buttons.py`, `audit.py`) in the signed-in user's name, so it shows and allows
exactly what the API would. Secrets are write-only: a form sets or replaces one and a page
shows only its masked tail; an invite token and a new API key appear once, on the page that
answers the form.
"""

from dataclasses import dataclass

from fastapi import APIRouter, Response

from versioner.common.roles import Permission
from versioner.ingest.ui.deps import ViewerDep

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class Section:
    """A settings page as the index lists it, and the permission that opens it."""

    path: str
    title: str
    summary: str
    permission: Permission


SECTIONS = (
    Section(
        "/ui/settings/users",
        "Users and roles",
        "Invite people, change their role, email or Slack id, deactivate them.",
        Permission.MANAGE_USERS,
    ),
    Section(
        "/ui/settings/api-keys",
        "API keys",
        "Keys for CI: they send events and read; each is shown once and can be revoked.",
        Permission.LIST_API_KEYS,
    ),
    Section(
        "/ui/settings/channels",
        "Notification channels",
        "Slack and webhook channels, the events they hear about, test sends, delivery logs.",
        Permission.MANAGE_CHANNELS,
    ),
    Section(
        "/ui/settings/buttons",
        "Deployment buttons",
        "A link or webhook per product and environment, with a preview of its request.",
        Permission.READ,
    ),
    Section(
        "/ui/settings/audit",
        "Audit log",
        "Every verdict, approval, rule change, override, rename and credential change.",
        Permission.READ_AUDIT,
    ),
)


@router.get("/ui/settings")
async def settings_page(user: ViewerDep) -> Response:
    """The settings this user may see."""
    sections = [s for s in SECTIONS if user.may(s.permission)]
    return user.render("settings.html", sections=sections)
