"""Settings: users and roles — invite people (their one-time token shown once), change a
role, email or Slack id, deactivate (admin; never one's own role; the last admin stays one)."""

from collections.abc import Sequence
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Form, Response
from pydantic import BaseModel, ValidationError

from versioner.common.messages.broadcasts import CredentialsChanged
from versioner.common.messages.management import CreateUser, ListUsers, UpdateUser
from versioner.common.resources import UserInvited, UserPublic
from versioner.common.roles import Permission, Role
from versioner.ingest.deps import ident
from versioner.ingest.gateway import FailureError
from versioner.ingest.ui import paging
from versioner.ingest.ui.deps import CheckedDep, Viewer, ViewerDep
from versioner.ingest.ui.forms import FormLabels, Problem, shown
from versioner.ingest.ui.render import flash_redirect

router = APIRouter(include_in_schema=False)

LABELS = FormLabels(
    {
        "name": "Name",
        "email": "Email",
        "role": "Role",
        "slack_user_id": "Slack user id",
        "active": "Active",
    }
)


class InviteForm(BaseModel):
    """The invite form's fields."""

    name: str = ""
    email: str = ""
    role: str = ""
    slack_user_id: str = ""

    def trimmed(self) -> "InviteForm":
        """The form as typed, without the spaces around each field."""
        return InviteForm(**{key: value.strip() for key, value in self.model_dump().items()})


class UserForm(BaseModel):
    """A user's row form: what is sent is what changes (empty email or role: unchanged)."""

    email: str = ""
    role: str = ""
    slack_user_id: str = ""
    # A hidden "0" comes before the checkbox's "1": the last value sent counts; absent when
    # the row has no activity switch (one's own).
    active: list[str] = []


async def _users_page(
    user: Viewer,
    *,
    before: UUID | None = None,
    form: InviteForm | None = None,
    invited: UserInvited | None = None,
    problems: Sequence[Problem] = (),
    status_code: int = 200,
) -> Response:
    page = await user.ask(ListUsers(actor=user.actor, limit=paging.PAGE_SIZE, before=before))
    return user.render(
        "users.html",
        status_code,
        users=page.items,
        total=page.total,
        older=paging.older(page),
        roles=[role.value for role in Role],
        form=form or InviteForm(role=Role.VIEWER.value),
        invited=invited,
        **shown(problems),
    )


@router.get("/ui/settings/users")
async def users_page(user: ViewerDep, before: str | None = None) -> Response:
    """Every user (admin), with the invite form and a form per user."""
    user.require(Permission.MANAGE_USERS)
    return await _users_page(user, before=paging.cursor(before))


@router.post("/ui/settings/users")
async def invite_user(user: CheckedDep, posted: Annotated[InviteForm, Form()]) -> Response:
    """Invite a user (admin): the answer shows their one-time invite token, this once."""
    user.require(Permission.MANAGE_USERS)
    form = posted.trimmed()
    try:
        message = CreateUser.model_validate(
            {
                "actor": user.actor,
                "name": form.name,
                "email": form.email or None,
                "role": form.role,
                "slack_user_id": form.slack_user_id or None,
            }
        )
        invited: UserInvited = await user.ask(message)
    except (ValidationError, FailureError) as exc:
        problems, status_code = LABELS.explain(exc, "slack_user_id")
        return await _users_page(user, form=form, problems=problems, status_code=status_code)
    return await _users_page(user, invited=invited, status_code=201)


@router.post("/ui/settings/users/{user_id}")
async def update_user(
    user_id: str, user: CheckedDep, form: Annotated[UserForm, Form()]
) -> Response:
    """Change a user's role, email, Slack id or activity (admin; never one's own role; the
    last admin stays one)."""
    user.require(Permission.MANAGE_USERS)
    fields: dict[str, Any] = {
        "actor": user.actor,
        "user_id": ident(user_id),
        # Empty unlinks Slack, as over the API.
        "slack_user_id": form.slack_user_id.strip(),
    }
    if email := form.email.strip():
        fields["email"] = email
    if role := form.role.strip():
        fields["role"] = role
    if form.active:
        fields["active"] = form.active[-1].strip() == "1"
    try:
        message = UpdateUser.model_validate(fields)
        changed: UserPublic = await user.ask(message)
    except ValidationError as exc:
        return LABELS.invalid_page(user.request, exc)
    except FailureError as exc:
        return user.refused(exc)
    if message.role is not None or message.active is not None:
        user.forget(CredentialsChanged(actor_ids=[changed.id]))
    return flash_redirect("/ui/settings/users", f"{changed.name} saved.")
