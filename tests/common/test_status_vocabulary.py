"""The status vocabulary of API.md ("Status vocabulary"), copied here from the page, not
from the module, so a change to either shows."""

import pytest

from versioner.common.status import BUILD_ALIASES, DEPLOYMENT_ALIASES, Status, parse_status

_DEPLOYMENT_TABLE = {
    "pending": ("pending", "queued", "scheduled"),
    "started": ("started", "in_progress", "init", "deploying"),
    "completed": ("success", "completed", "complete", "finished", "deployed"),
    "failed": ("failed", "fail", "failure", "error"),
    "aborted": ("aborted", "abort", "cancelled", "canceled", "cancel", "skipped"),
}
_BUILD_TABLE = {
    "pending": ("pending", "queued", "scheduled"),
    "started": ("started", "in_progress", "init", "building"),
    "completed": ("success", "completed", "complete", "finished", "built"),
    "failed": ("failed", "fail", "failure", "error"),
    "aborted": ("aborted", "abort", "cancelled", "canceled", "cancel", "skipped"),
}
DEPLOYMENT_ROWS = [(a, c) for c, aliases in _DEPLOYMENT_TABLE.items() for a in aliases]
BUILD_ROWS = [(a, c) for c, aliases in _BUILD_TABLE.items() for a in aliases]
# Case and surrounding whitespace are ignored.
SPELLINGS = (str, str.upper, str.title, lambda a: f"  {a}\t", lambda a: f"\n{a.upper()} ")
UNKNOWN = ("", "   ", "succeeded", "done", "in progress", "in-progress", "preflight_failed", "ok")


@pytest.mark.parametrize(("alias", "canonical"), DEPLOYMENT_ROWS)
def test_every_deployment_alias_maps_to_its_canonical_state(alias: str, canonical: str) -> None:
    for spell in SPELLINGS:
        assert parse_status(spell(alias), DEPLOYMENT_ALIASES) == Status(canonical)


@pytest.mark.parametrize(("alias", "canonical"), BUILD_ROWS)
def test_every_build_alias_maps_to_its_canonical_state(alias: str, canonical: str) -> None:
    for spell in SPELLINGS:
        assert parse_status(spell(alias), BUILD_ALIASES) == Status(canonical)


def test_the_tables_hold_nothing_but_api_md_aliases() -> None:
    assert {a: s.value for a, s in DEPLOYMENT_ALIASES.items()} == dict(DEPLOYMENT_ROWS)
    assert {a: s.value for a, s in BUILD_ALIASES.items()} == dict(BUILD_ROWS)


@pytest.mark.parametrize("raw", UNKNOWN)
def test_an_unknown_status_is_a_value_error(raw: str) -> None:
    with pytest.raises(ValueError, match="unknown status"):
        parse_status(raw, DEPLOYMENT_ALIASES)
    with pytest.raises(ValueError, match="unknown status"):
        parse_status(raw, BUILD_ALIASES)


@pytest.mark.parametrize("raw", ["building", "built"])
def test_build_words_are_not_deployment_statuses(raw: str) -> None:
    with pytest.raises(ValueError, match="unknown status"):
        parse_status(raw, DEPLOYMENT_ALIASES)


@pytest.mark.parametrize("raw", ["deploying", "deployed"])
def test_deployment_words_are_not_build_statuses(raw: str) -> None:
    with pytest.raises(ValueError, match="unknown status"):
        parse_status(raw, BUILD_ALIASES)


def test_only_completed_failed_and_aborted_are_terminal() -> None:
    assert {s for s in Status if s.terminal} == {Status.COMPLETED, Status.FAILED, Status.ABORTED}
