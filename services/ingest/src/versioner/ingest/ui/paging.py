"""Paging the dashboard's lists: this many rows, newest first, with a link to older ones
from the last row shown (the API's `before` cursor)."""

from typing import Any
from uuid import UUID

from versioner.common.resources import Page
from versioner.ingest.deps import ident

# Read at call time, so a test can page with fewer rows.
PAGE_SIZE = 50


def cursor(raw: str | None) -> UUID | None:
    """The `before` of a page's query: an id, or none for the newest rows (a malformed id
    is a 404, as over the API)."""
    return ident(raw) if raw else None


def older(page: Page[Any]) -> str | None:
    """The id to page on from, when older rows may remain (a full page, fewer than all)."""
    rows = page.items
    return str(rows[-1].id) if len(rows) == PAGE_SIZE and len(rows) < page.total else None
