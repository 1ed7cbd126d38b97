"""Settings: the audit log — every verdict, approval, rule change, override, rename and
credential change, newest first, by kind (or its prefix, `rule.`), actor and time (admin,
compliance)."""

import json
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Response
from pydantic import ValidationError

from versioner.common.governance import AuditEntryPublic
from versioner.common.messages.management import ListAudit
from versioner.common.resources import Page
from versioner.common.roles import Permission
from versioner.ingest.ui import paging
from versioner.ingest.ui.deps import ViewerDep
from versioner.ingest.ui.forms import FormLabels, shown

router = APIRouter(include_in_schema=False)

# The filters' labels; a filter's message field has another name than its input.
LABELS = FormLabels(
    {"since": "Since", "action": "Kind", "by": "Actor"},
    inputs={"action": "kind", "by": "actor"},
)


def _as_json(data: dict[str, Any]) -> str:
    return json.dumps(data, sort_keys=True, ensure_ascii=False, default=str)


@router.get("/ui/settings/audit")
async def audit_page(
    user: ViewerDep, kind: str = "", actor: str = "", since: str = "", before: str = ""
) -> Response:
    """The audit log, newest first, by kind (or its prefix, `rule.`), actor and time."""
    user.require(Permission.READ_AUDIT)
    filters = {"kind": kind.strip(), "actor": actor.strip(), "since": since.strip()}
    older = int(before) if before.isdigit() and int(before) > 0 else None
    context: dict[str, Any] = {"filters": filters, "filtered": any(filters.values())}
    try:
        request = ListAudit.model_validate(
            {
                "actor": user.actor,
                "action": filters["kind"] or None,
                "by": filters["actor"] or None,
                "since": filters["since"] or None,
                "limit": paging.PAGE_SIZE,
                "before": older,
            }
        )
    except ValidationError as exc:
        return user.render(
            "audit.html",
            422,
            entries=[],
            total=0,
            kinds=[],
            **context,
            **shown(LABELS.invalid(exc)),
        )
    log: Page[AuditEntryPublic] = await user.ask(request)
    entries = log.items
    next_page = (
        "/ui/settings/audit?" + urlencode({**filters, "before": entries[-1].id})
        if len(entries) == paging.PAGE_SIZE
        else None
    )
    listed = {e.action for e in entries}
    kinds = sorted(listed | {action.split(".")[0] + "." for action in listed})
    return user.render(
        "audit.html",
        entries=entries,
        total=log.total,
        kinds=kinds,
        next_page=next_page,
        paged=older is not None,
        as_json=_as_json,
        **context,
        **shown(()),
    )
