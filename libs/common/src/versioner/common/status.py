"""The status vocabulary of build and deployment events (API.md, "Status vocabulary")."""

import re
from enum import StrEnum

from versioner.common.types import STRIPPED


class Status(StrEnum):
    """Canonical state of a build or a deployment."""

    PENDING = "pending"
    STARTED = "started"
    COMPLETED = "completed"
    FAILED = "failed"
    ABORTED = "aborted"

    @property
    def terminal(self) -> bool:
        """Whether nothing follows this state."""
        return self in _TERMINAL


_TERMINAL = frozenset({Status.COMPLETED, Status.FAILED, Status.ABORTED})

_SHARED: dict[str, Status] = {
    "pending": Status.PENDING,
    "queued": Status.PENDING,
    "scheduled": Status.PENDING,
    "started": Status.STARTED,
    "in_progress": Status.STARTED,
    "init": Status.STARTED,
    "success": Status.COMPLETED,
    "completed": Status.COMPLETED,
    "complete": Status.COMPLETED,
    "finished": Status.COMPLETED,
    "failed": Status.FAILED,
    "fail": Status.FAILED,
    "failure": Status.FAILED,
    "error": Status.FAILED,
    "aborted": Status.ABORTED,
    "abort": Status.ABORTED,
    "cancelled": Status.ABORTED,
    "canceled": Status.ABORTED,
    "cancel": Status.ABORTED,
    "skipped": Status.ABORTED,
}

DEPLOYMENT_ALIASES: dict[str, Status] = {
    **_SHARED,
    "deploying": Status.STARTED,
    "deployed": Status.COMPLETED,
}
BUILD_ALIASES: dict[str, Status] = {
    **_SHARED,
    "building": Status.STARTED,
    "built": Status.COMPLETED,
}


def parse_status(raw: str, aliases: dict[str, Status]) -> Status:
    """Map a status as clients send it (any alias, any case, padded) to its canonical state."""
    try:
        return aliases[raw.strip().lower()]
    except KeyError:
        accepted = ", ".join(sorted(aliases))
        raise ValueError(f"unknown status {raw!r}; accepted: {accepted}") from None


# The only character besides A-Z that `str.lower` turns into an ASCII letter
# (tests/common/test_status_pattern.py checks it against every code point).
LOWERED = {"k": "\u212a"}


def status_pattern(aliases: dict[str, Status]) -> str:
    """A JSON Schema pattern of exactly what `parse_status` accepts: an alias in any case,
    padded with whitespace."""
    spelled = (
        "".join(
            f"[{c}{c.upper()}{LOWERED.get(c, '')}]" if c.isalpha() else re.escape(c) for c in alias
        )
        for alias in sorted(aliases)
    )
    return f"^{STRIPPED}*(?:{'|'.join(spelled)}){STRIPPED}*$"
