"""Settings: API keys — every key without its secret (admin; developers may look), a new
one shown once, revoked ones refused at once."""

from collections.abc import Sequence
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Form, Response
from pydantic import ValidationError

from versioner.common.messages.broadcasts import CredentialsChanged
from versioner.common.messages.management import CreateApiKey, ListApiKeys, RevokeApiKey
from versioner.common.resources import ApiKeyCreated, ApiKeyPublic
from versioner.common.roles import Permission
from versioner.ingest.deps import ident
from versioner.ingest.gateway import FailureError
from versioner.ingest.ui import paging
from versioner.ingest.ui.deps import CheckedDep, Viewer, ViewerDep
from versioner.ingest.ui.forms import FormLabels, Problem, shown
from versioner.ingest.ui.render import flash_redirect

router = APIRouter(include_in_schema=False)

LABELS = FormLabels({"name": "Name"})


async def _keys_page(
    user: Viewer,
    *,
    before: UUID | None = None,
    name: str = "",
    created: ApiKeyCreated | None = None,
    problems: Sequence[Problem] = (),
    status_code: int = 200,
) -> Response:
    page = await user.ask(ListApiKeys(actor=user.actor, limit=paging.PAGE_SIZE, before=before))
    return user.render(
        "api_keys.html",
        status_code,
        keys=page.items,
        total=page.total,
        older=paging.older(page),
        manage=user.may(Permission.MANAGE_USERS),
        name=name,
        created=created,
        **shown(problems),
    )


@router.get("/ui/settings/api-keys")
async def api_keys_page(user: ViewerDep, before: str | None = None) -> Response:
    """Every API key without its secret (admin; developers may look)."""
    user.require(Permission.LIST_API_KEYS)
    return await _keys_page(user, before=paging.cursor(before))


@router.post("/ui/settings/api-keys")
async def create_api_key(user: CheckedDep, name: Annotated[str, Form()] = "") -> Response:
    """A new API key (admin): the answer shows it, this once."""
    user.require(Permission.MANAGE_USERS)
    name = name.strip()
    try:
        message = CreateApiKey.model_validate({"actor": user.actor, "name": name})
        created: ApiKeyCreated = await user.ask(message)
    except (ValidationError, FailureError) as exc:
        problems, status_code = LABELS.explain(exc, "name")
        return await _keys_page(user, name=name, problems=problems, status_code=status_code)
    return await _keys_page(user, created=created, status_code=201)


@router.post("/ui/settings/api-keys/{key_id}/revoke")
async def revoke_api_key(key_id: str, user: CheckedDep) -> Response:
    """Revoke an API key (admin): it stops working at once."""
    user.require(Permission.MANAGE_USERS)
    try:
        revoked: ApiKeyPublic = await user.ask(RevokeApiKey(actor=user.actor, key_id=ident(key_id)))
    except FailureError as exc:
        return user.refused(exc)
    user.forget(CredentialsChanged(credential_ids=[revoked.id]))
    return flash_redirect("/ui/settings/api-keys", f"API key {revoked.name} revoked.")
