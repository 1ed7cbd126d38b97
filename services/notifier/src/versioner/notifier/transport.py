"""Signed webhook calls with bounded retries (versioner-compat.md §6.2, API.md).

Three attempts in all, 1 s and then 2 s apart, on a 5xx, a 429 or a network error; a
`Retry-After` the receiver sends replaces the backoff (up to a minute: asked to wait longer,
the delivery fails now and says so). Any other 4xx is final, and so is a redirect, which is
never followed. The URL is resolved and checked once per delivery (egress.py) and every
attempt goes to the checked address. Secrets, URLs' queries and bodies are never logged.
"""

import asyncio
import email.utils
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_result,
    stop_after_attempt,
    wait_exponential,
)

from versioner.notifier.egress import ConnectionLost, Egress, EgressError, EgressRefused, Target
from versioner.notifier.payloads import signature

log = logging.getLogger("versioner.notifier")

Sleep = Callable[[float], Awaitable[None]]

ATTEMPTS = 3
# 1 s, then 2 s (1 s doubled, at most 2 s).
_BACKOFF = wait_exponential(multiplier=1, max=2)
MAX_RETRY_AFTER_S = 60.0


@dataclass(frozen=True)
class Outcome:
    """How a delivery went."""

    ok: bool
    attempts: int
    status_code: int | None = None
    error: str | None = None


def retry_after_s(value: str | None, now: float | None = None) -> float | None:
    """`Retry-After` in seconds: delta-seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = now if now is not None else time.time()
    return max(0.0, when.timestamp() - current)


def signed_headers(
    event_type: str, delivery_id: UUID, raw: bytes, secret: str | None, at: datetime
) -> dict[str, str]:
    """The headers of a webhook call."""
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Versioner-Webhooks/1",
        "X-Versioner-Event": event_type,
        "X-Versioner-Delivery": str(delivery_id),
        "X-Versioner-Timestamp": str(int(at.timestamp())),
    }
    if secret:
        headers["X-Versioner-Signature"] = signature(secret, raw)
    return headers


@dataclass(frozen=True)
class _Tried:
    """One call: how it went, whether to call again, and the receiver's `Retry-After`."""

    outcome: Outcome
    again: bool = False
    asked: float | None = None


def _wait(state: RetryCallState) -> float:
    """The receiver's `Retry-After` when it sent one, the backoff otherwise."""
    assert state.outcome is not None
    tried: _Tried = state.outcome.result()
    return tried.asked if tried.asked is not None else _BACKOFF(state)


def _log_retry(state: RetryCallState) -> None:
    """Say which attempt failed and how long until the next."""
    assert state.outcome is not None
    assert state.next_action is not None
    tried: _Tried = state.outcome.result()
    log.info(
        "webhook attempt %d failed (%s); retrying in %.1f s",
        state.attempt_number,
        tried.outcome.error,
        state.next_action.sleep,
    )


async def post(
    egress: Egress,
    url: str,
    headers: dict[str, str],
    raw: bytes,
    *,
    sleep: Sleep = asyncio.sleep,
    attempts: int = ATTEMPTS,
    method: str = "POST",
    retry_lost: bool = True,
) -> Outcome:
    """Call a webhook, retrying as the module says.

    `retry_lost=False` (deployment buttons, fired at most once): a call that reached the
    receiver is never repeated, so only "no connection was made" and 429/503 with a
    `Retry-After` are retried.
    """
    try:
        target = await egress.check(url)
    except EgressRefused as exc:
        return Outcome(ok=False, attempts=0, error=f"refused: {exc}")
    except EgressError as exc:  # the name did not resolve: once per delivery, not again
        return Outcome(ok=False, attempts=0, error=f"no connection: {exc}")
    tried = _Tried(Outcome(ok=False, attempts=0))
    retrying = AsyncRetrying(
        stop=stop_after_attempt(attempts),
        wait=_wait,
        retry=retry_if_result(lambda result: result.again),
        before_sleep=_log_retry,
        # Out of attempts: the last call's outcome is the delivery's.
        retry_error_callback=lambda _state: None,
        sleep=sleep,
    )
    async for attempt in retrying:
        # Not `with attempt`: an unexpected error propagates at once instead of being retried.
        state = attempt.retry_state
        tried = await _call(
            egress, target, method, headers, raw, state.attempt_number, retry_lost=retry_lost
        )
        state.set_result(tried)
    return tried.outcome


async def _call(
    egress: Egress,
    target: Target,
    method: str,
    headers: dict[str, str],
    raw: bytes,
    attempt: int,
    *,
    retry_lost: bool,
) -> _Tried:
    """One call, and whether it is worth another."""
    try:
        response = await egress.send(target, method, headers, raw)
    except ConnectionLost as exc:
        lost = Outcome(ok=False, attempts=attempt, error=f"connection lost: {exc}")
        return _Tried(lost, again=retry_lost)
    except EgressError as exc:
        unsent = Outcome(ok=False, attempts=attempt, error=f"no connection: {exc}")
        return _Tried(unsent, again=True)
    status = response.status
    if 200 <= status < 300:
        return _Tried(Outcome(ok=True, attempts=attempt, status_code=status))
    error = f"HTTP {status}"
    if 300 <= status < 400:
        return _Tried(
            Outcome(
                ok=False,
                attempts=attempt,
                status_code=status,
                error=f"{error}: redirects are not followed",
            )
        )
    failed = Outcome(ok=False, attempts=attempt, status_code=status, error=error)
    asked = retry_after_s(response.headers.get("retry-after"))
    retryable = status in (429, 503) if not retry_lost else (status == 429 or status >= 500)
    if not retryable or (not retry_lost and asked is None):
        return _Tried(failed)
    if asked is not None and asked > MAX_RETRY_AFTER_S:
        return _Tried(
            Outcome(
                ok=False,
                attempts=attempt,
                status_code=status,
                error=f"{error}: asked to retry after {asked:.0f} s, more than "
                f"{MAX_RETRY_AFTER_S:.0f} s",
            )
        )
    return _Tried(failed, again=True, asked=asked)
