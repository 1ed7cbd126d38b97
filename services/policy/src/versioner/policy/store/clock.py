"""Time, injected: policy never reads the wall clock directly, so tests can move it."""

from datetime import datetime, timedelta
from typing import Protocol

from versioner.common.types import utcnow


class Clock(Protocol):
    """Something that tells the time (aware, UTC)."""

    def now(self) -> datetime:
        """The current time."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        """The current time."""
        return utcnow()


class FrozenClock:
    """A clock that moves only when told to (tests)."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        """The time it was set to."""
        return self.at

    def advance(self, **delta: float) -> None:
        """Move forward by a `timedelta(**delta)`."""
        self.at += timedelta(**delta)
