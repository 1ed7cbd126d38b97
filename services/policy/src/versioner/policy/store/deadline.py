"""A start request's deadline: checked before evaluating and again just before commit."""

import time
from dataclasses import dataclass

# Less than this left and the verdict is rolled back: the gateway will have given up (503)
# before the answer could reach it, and a deployment recorded then would block for nothing.
COMMIT_MARGIN_S = 0.25


class DeadlineExceeded(Exception):  # noqa: N818 - named for the event, like TimeoutError
    """Too little time is left to answer."""


@dataclass(frozen=True)
class Deadline:
    """An absolute deadline in wall-clock milliseconds since the epoch (the `x-deadline` header)."""

    at_ms: int | None = None

    @classmethod
    def from_header(cls, raw: object) -> "Deadline":
        """Read the header; a missing or unreadable one means no deadline."""
        try:
            return cls(int(str(raw))) if raw is not None else cls()
        except ValueError:
            return cls()

    def remaining_s(self) -> float:
        """Seconds left (infinite without a deadline)."""
        if self.at_ms is None:
            return float("inf")
        return self.at_ms / 1000 - time.time()

    def check(self, margin_s: float = COMMIT_MARGIN_S) -> None:
        """Raise `DeadlineExceeded` when less than `margin_s` is left."""
        if self.remaining_s() < margin_s:
            raise DeadlineExceeded
