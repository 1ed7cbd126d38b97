"""How the services log: one setup for all three, JSON lines or text, every line tied to its event.

`configure_logging(service)` sets the root logger once, at start:

- `VERSIONER_LOG_FORMAT=json`: one JSON object per line — time, level, service, logger,
  message, and every structured field (a call's `extra=`, the event and request it serves);
  `text`: the classic `time LEVEL logger message`, structured fields appended as `key=value`.
  Unset: text on a terminal (`make run`), JSON otherwise (containers, files, pipes).
- `VERSIONER_LOG_LEVEL` (default `INFO`).

Correlation: `serving(request_id)` around an HTTP request, `bind(event_id=...)` inside it and
`bound(...)` around a message set the ids (context variables), and every line written
meanwhile carries them. They travel between services in AMQP headers (`headers()` to send,
`bound_from(headers)` to receive), through the
outbox too, so one `grep <event_id>` over the three services' logs tells a deployment's story.

Lines are written in batches (`BatchedStreamHandler`): a warning or an error at once, with
every line before it; the rest within `FLUSH_S`, and whatever waits when the process exits.
One write per line cost the gate's path as much as formatting the line, and `make run`'s relay
a wake-up per line (issue 11).

No line carries a secret: tokens (`pat_…`, `sk_…`, `xox…`), bearer credentials and Slack
webhook URLs are masked in messages and fields alike, whatever logged them.
"""

import contextlib
import json
import logging
import os
import re
import sys
import threading
import time
from collections.abc import Mapping
from contextlib import AbstractContextManager
from contextvars import ContextVar, Token
from datetime import UTC, datetime
from typing import Any

from versioner.common import tracing
from versioner.common.names import EVENT_ID_HEADER, REQUEST_ID_HEADER

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
# How long a line below WARNING may wait to be written with the lines after it.
FLUSH_S = 0.2
# Characters of waiting lines that are written at once, whatever the time.
_BATCH_CHARS = 32 * 1024

_event_id: ContextVar[str | None] = ContextVar("versioner_event_id", default=None)
_request_id: ContextVar[str | None] = ContextVar("versioner_request_id", default=None)

# What `logging.LogRecord` carries itself; anything else on a record came from `extra=`.
_RECORD_FIELDS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}

# Credentials as Versioner issues them (personal tokens, API keys, invite tokens), Slack's
# tokens and incoming-webhook URLs, and whatever follows "Bearer".
_SECRETS = re.compile(
    r"(?P<keep>Bearer\s+)\S+"
    r"|\b(?:pat|sk|inv)_[A-Za-z0-9_]{8,}"
    r"|\bxox[abposr]-[A-Za-z0-9-]+"
    r"|https://hooks\.slack\.com/\S+",
    re.IGNORECASE,
)
MASK = "[redacted]"
# What each of those begins with, case-folded: text without any of them has nothing to mask,
# and looking for them costs a tenth of running the expression over it (every field of every
# line goes through `redact`).
_MARKERS = ("bearer", "pat_", "sk_", "inv_", "xox", "hooks.slack.com")


def _may_hold_secret(text: str) -> bool:
    folded = text.casefold()
    return any(marker in folded for marker in _MARKERS)


def redact(text: str) -> str:
    """`text` with every credential and Slack webhook URL in it masked."""
    if not _may_hold_secret(text):
        return text
    return _SECRETS.sub(lambda m: (m.group("keep") or "") + MASK, text)


class _Bound:
    """Context variables set to values while a block runs, then reset (a class, not a
    generator: one per lane message and per HTTP request)."""

    __slots__ = ("_tokens", "_values")

    def __init__(self, values: tuple[tuple[ContextVar[str | None], str | None], ...]) -> None:
        self._values = values
        self._tokens: list[Token[str | None]] = []

    def __enter__(self) -> None:
        self._tokens = [var.set(value) for var, value in self._values]

    def __exit__(self, *exc_info: object) -> None:
        for (var, _), token in zip(reversed(self._values), reversed(self._tokens), strict=True):
            var.reset(token)


def bound(*, event_id: object = None, request_id: object = None) -> AbstractContextManager[None]:
    """Tie every line written inside the block to this event and request (those given)."""
    values: tuple[tuple[ContextVar[str | None], str | None], ...] = ()
    if event_id is not None:
        values += ((_event_id, str(event_id)),)
    if request_id is not None:
        values += ((_request_id, str(request_id)),)
    return _Bound(values)


def serving(request_id: str) -> AbstractContextManager[None]:
    """One HTTP request: its id on every line inside, and whatever event it binds (`bind`)
    forgotten when it ends, even where it shares its task with the next (in-process tests)."""
    return _Bound(((_event_id, None), (_request_id, request_id)))


def bind(*, event_id: object) -> None:
    """Tie the rest of the current task's lines (within its request: `serving`) to this event."""
    _event_id.set(str(event_id))


def headers() -> dict[str, Any]:
    """The AMQP headers that carry the current event and request to the next service (and,
    with tracing on, the current span's trace context)."""
    carried: dict[str, Any] = {}
    if (event_id := _event_id.get()) is not None:
        carried[EVENT_ID_HEADER] = event_id
    if (request_id := _request_id.get()) is not None:
        carried[REQUEST_ID_HEADER] = request_id
    tracing.inject(carried)
    return carried


def bound_from(
    received: Mapping[str, Any] | None, *, event_id: object = None
) -> AbstractContextManager[None]:
    """`bound(...)` with the ids a message's headers carry (none: nothing is bound); `event_id`,
    the message's own, wins over its header's."""
    received = received or {}
    return bound(
        event_id=_text(received.get(EVENT_ID_HEADER)) if event_id is None else event_id,
        request_id=_text(received.get(REQUEST_ID_HEADER)),
    )


def _text(value: Any) -> str | None:
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return None if value is None else str(value)


class Correlate(logging.Filter):
    """Puts the bound event and request ids on every record (unless it names its own)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "event_id") and (event_id := _event_id.get()) is not None:
            record.event_id = event_id
        if not hasattr(record, "request_id") and (request_id := _request_id.get()) is not None:
            record.request_id = request_id
        return True


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _RECORD_FIELDS}


def _safe(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, bool | int | float) or value is None:
        return value
    if isinstance(value, list | tuple):
        return [_safe(item) for item in value]
    if isinstance(value, dict):
        return {str(k): _safe(v) for k, v in value.items()}
    return redact(str(value))


# One encoder for every line (`json.dumps` with options makes one per call).
_JSON = json.JSONEncoder(ensure_ascii=False, default=str)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, service, logger, message, then every field."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service
        # The time's second, as ISO 8601, for the lines of that second: (second, text).
        self._second: tuple[int, str] = (-1, "")

    def _time(self, record: logging.LogRecord) -> str:
        """The record's time in UTC, to the millisecond: `2026-12-04T23:46:55.674+00:00`."""
        second, text = self._second
        if int(record.created) != second:
            second = int(record.created)
            text = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
            self._second = (second, text)
        return f"{text}.{int(record.msecs):03d}+00:00"

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON, credentials masked.

        The line is written whole first and looked over once: only one that may hold a
        credential (or a field JSON cannot take as it is) is made again field by field, each
        masked (a line per verdict is on the gate's path)."""
        line: dict[str, Any] = {
            "time": self._time(record),
            "level": record.levelname,
            "service": self.service,
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = _fields(record)
        for name, value in fields.items():
            line.setdefault(name, value)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        try:
            text = _JSON.encode(line)
        except (TypeError, ValueError):  # a key JSON cannot take, a value that holds itself
            text = None
        if text is not None and not _may_hold_secret(text):
            return text
        line["message"] = redact(line["message"])
        for name, value in fields.items():
            if line[name] is value:
                line[name] = _safe(value)
        if "exception" in line:
            line["exception"] = redact(line["exception"])
        return _JSON.encode(line)


class TextFormatter(logging.Formatter):
    """`time LEVEL logger message`, then the structured fields as `key=value`."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        """The record as text, credentials masked."""
        text = super().format(record)
        fields = _fields(record)
        if fields:
            head, newline, rest = text.partition("\n")
            pairs = " ".join(f"{k}={_safe(v)}" for k, v in fields.items())
            text = f"{head} {pairs}{newline}{rest}"
        return redact(text)


class BatchedStreamHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A stream handler that writes its lines in batches: a record at WARNING or above at once,
    with every line waiting before it (order kept); the others within `interval` seconds (a
    thread of its own writes them) or as soon as `_BATCH_CHARS` wait. `flush()` writes what
    waits; `logging.shutdown`, at exit, calls it. A process killed outright loses at most the
    last `interval` of lines below WARNING."""

    def __init__(self, stream: Any = None, interval: float = FLUSH_S) -> None:
        super().__init__(stream)
        self.interval = interval
        self._waiting: list[str] = []
        self._chars = 0
        self._due = threading.Event()
        self._writer: threading.Thread | None = None

    def emit(self, record: logging.LogRecord) -> None:
        """Format the record and keep its line (called with the handler's lock held)."""
        try:
            line = self.format(record) + self.terminator
        except Exception:
            self.handleError(record)
            return
        self._waiting.append(line)
        self._chars += len(line)
        if record.levelno >= logging.WARNING or self._chars >= _BATCH_CHARS:
            self.flush()
        elif len(self._waiting) == 1:
            if self._writer is None:
                self._writer = threading.Thread(
                    target=self._write_when_due, name="log-writer", daemon=True
                )
                self._writer.start()
            self._due.set()

    def flush(self) -> None:
        """Write every waiting line, in one write."""
        self.acquire()
        try:
            if self._waiting:
                text = "".join(self._waiting)
                self._waiting.clear()
                self._chars = 0
                # A stream that is gone (a closed pipe) cannot be told; the lines are dropped.
                with contextlib.suppress(OSError, ValueError):
                    self.stream.write(text)
            with contextlib.suppress(OSError, ValueError):
                super().flush()
        finally:
            self.release()

    def _write_when_due(self) -> None:
        while True:
            self._due.wait()
            time.sleep(self.interval)  # the lines that come meanwhile go in the same write
            self._due.clear()
            self.flush()


def configure_logging(
    service: str, level: str | None = None, log_format: str | None = None
) -> None:
    """Configure the root logger for `service`, once, at start (nothing happens at import).

    `level` defaults to `VERSIONER_LOG_LEVEL` (`INFO`), `log_format` to `VERSIONER_LOG_FORMAT`
    (`json` or `text`; unset: text on a terminal, JSON otherwise).
    """
    level = level or os.environ.get("VERSIONER_LOG_LEVEL") or "INFO"
    chosen = (log_format or os.environ.get("VERSIONER_LOG_FORMAT") or "").lower()
    if not chosen:
        chosen = "text" if sys.stderr.isatty() else "json"
    if chosen not in ("json", "text"):
        raise ValueError(f"VERSIONER_LOG_FORMAT must be json or text, not {chosen!r}")
    # No line says which thread, process or source line wrote it: the records need not find
    # out (the logging documentation's "Optimization"; a tenth of a line's cost).
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    logging._srcfile = None
    handler = BatchedStreamHandler()
    handler.setFormatter(JsonFormatter(service) if chosen == "json" else TextFormatter())
    handler.addFilter(Correlate())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
