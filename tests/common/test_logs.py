"""`configure_logging`: one setup for every service — JSON lines or text, the level, the event
and request every line belongs to, and no secret in any line."""

import io
import json
import logging
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from versioner.common import logs
from versioner.common.names import EVENT_ID_HEADER, REQUEST_ID_HEADER

_SCRIPT = """
import logging
from versioner.common import logs
from versioner.common.logs import configure_logging
configure_logging({arguments})
lanes = logging.getLogger("versioner.policy.deployments.lanes")
lanes.debug("debug line")
lanes.info("info line")
with logs.bound(event_id="evt-1", request_id="req-1"):
    lanes.warning("warning line", extra={{"outcome": "blocked", "codes": ["FLOW_VIOLATION"]}})
"""


def _log(env: dict[str, str], arguments: str = '"policy"') -> list[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("VERSIONER_LOG_")}
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT.format(arguments=arguments)],
        env=clean | env,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return done.stderr.splitlines()


def test_json_when_not_on_a_terminal_one_object_per_line_with_every_field() -> None:
    lines = [json.loads(line) for line in _log({})]
    assert [line["message"] for line in lines] == ["info line", "warning line"]
    info, warning = lines
    assert set(info) == {"time", "level", "service", "logger", "message"}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", info["time"])
    assert (info["level"], info["service"]) == ("INFO", "policy")
    assert info["logger"] == "versioner.policy.deployments.lanes"
    assert warning["event_id"] == "evt-1"
    assert warning["request_id"] == "req-1"
    assert warning["outcome"] == "blocked"
    assert warning["codes"] == ["FLOW_VIOLATION"]


def test_text_in_the_classic_format_with_fields_appended() -> None:
    lines = _log({"VERSIONER_LOG_FORMAT": "text"})
    assert len(lines) == 2
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO "
        r"versioner\.policy\.deployments\.lanes info line",
        lines[0],
    )
    assert lines[1].endswith(
        " WARNING versioner.policy.deployments.lanes warning line"
        " outcome=blocked codes=['FLOW_VIOLATION'] event_id=evt-1 request_id=req-1"
    )


def test_the_level_comes_from_versioner_log_level_in_any_case() -> None:
    lines = _log({"VERSIONER_LOG_LEVEL": "debug", "VERSIONER_LOG_FORMAT": "TEXT"})
    assert [line.split(" ", 2)[2].split(" outcome=")[0] for line in lines] == [
        "DEBUG versioner.policy.deployments.lanes debug line",
        "INFO versioner.policy.deployments.lanes info line",
        "WARNING versioner.policy.deployments.lanes warning line",
    ]


def test_a_level_given_wins_over_the_environment() -> None:
    assert len(_log({"VERSIONER_LOG_LEVEL": "debug"}, arguments='"policy", "warning"')) == 1


def test_an_unknown_format_is_refused_at_start() -> None:
    with pytest.raises(subprocess.CalledProcessError) as raised:
        _log({"VERSIONER_LOG_FORMAT": "xml"})
    assert "VERSIONER_LOG_FORMAT must be json or text" in raised.value.stderr


@pytest.fixture
def captured() -> Iterator[list[str]]:
    """What the JSON formatter writes for the `versioner.test` logger, with correlation."""
    lines: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    handler = Keep()
    handler.setFormatter(logs.JsonFormatter("ingest"))
    handler.addFilter(logs.Correlate())
    logger = logging.getLogger("versioner.test")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield lines
    finally:
        logger.removeHandler(handler)


def _said(lines: list[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in lines]


SECRETS = [
    "pat_bootstrap_" + "x" * 32,
    "sk_local_k1_" + "A1b2C3d4" * 5,
    "xoxb-1234-5678-abcdefghij",
    "https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXX",
    "inv_" + "Zz9" * 11,
    "HTTPS://HOOKS.SLACK.COM/services/T000/B000/YYYYYYYYYYYY",
]


@pytest.mark.parametrize(
    "secret", SECRETS, ids=["personal token", "api key", "slack", "webhook", "invite", "shouted"]
)
def test_no_secret_reaches_a_line_in_its_message_fields_or_traceback(
    captured: list[str], secret: str
) -> None:
    log = logging.getLogger("versioner.test")
    log.info("posting with %s", secret, extra={"url": secret, "nested": {"token": [secret]}})
    log.info("header", extra={"authorization": f"Bearer {secret}"})
    try:
        raise RuntimeError(f"refused {secret}")
    except RuntimeError:
        log.exception("failed")
    assert len(captured) == 3
    for line in captured:
        assert secret not in line
        assert secret[:12] not in line
    assert "[redacted]" in _said(captured)[0]["message"]
    assert _said(captured)[1]["authorization"] == "Bearer [redacted]"


class _Holder:
    """A field JSON cannot take as it is: written as its text."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __str__(self) -> str:
        return f"holder of {self.text}"


def test_a_secret_inside_a_field_json_cannot_take_is_masked_too(captured: list[str]) -> None:
    secret = SECRETS[1]
    log = logging.getLogger("versioner.test")
    log.info("calling", extra={"client": _Holder(secret), "keys": {1: (secret, "b")}})
    [line] = _said(captured)
    assert secret not in captured[0]
    assert line["client"] == "holder of [redacted]"
    assert line["keys"] == {"1": ["[redacted]", "b"]}


def test_a_line_without_secrets_keeps_every_field_as_json_has_it(captured: list[str]) -> None:
    log = logging.getLogger("versioner.test")
    log.info(
        "verdict: %s may start",
        "api",
        extra={"violations": [{"code": "X", "n": 2}], "codes": ("A", "B"), "where": _Holder("x")},
    )
    [line] = _said(captured)
    assert line["message"] == "verdict: api may start"
    assert line["violations"] == [{"code": "X", "n": 2}]
    assert line["codes"] == ["A", "B"]
    assert line["where"] == "holder of x"


def test_the_time_is_the_record_s_in_utc_to_the_millisecond_second_after_second() -> None:
    formatter = logs.JsonFormatter("policy")

    def time_of(created: float) -> str:
        record = logging.makeLogRecord({"msg": "x"})
        record.created, record.msecs = created, int((created - int(created)) * 1000)
        text: str = json.loads(formatter.format(record))["time"]
        return text

    # The same second twice (its text made once), then the next one, then an earlier one.
    assert time_of(1_780_000_000.25) == "2026-05-28T20:26:40.250+00:00"
    assert time_of(1_780_000_000.999) == "2026-05-28T20:26:40.999+00:00"
    assert time_of(1_780_000_001.0) == "2026-05-28T20:26:41.000+00:00"
    assert time_of(1_000_000_000.5) == "2001-09-09T01:46:40.500+00:00"


def test_lines_carry_the_ids_bound_and_only_inside_the_block(captured: list[str]) -> None:
    log = logging.getLogger("versioner.test")
    with logs.bound(event_id="e-1", request_id="r-1"):
        log.info("inside")
        with logs.bound(event_id="e-2"):
            log.info("nested")
    log.info("outside")
    inside, nested, outside = _said(captured)
    assert (inside["event_id"], inside["request_id"]) == ("e-1", "r-1")
    assert (nested["event_id"], nested["request_id"]) == ("e-2", "r-1")
    assert "event_id" not in outside
    assert "request_id" not in outside


def test_the_ids_travel_in_amqp_headers_and_are_bound_on_arrival(captured: list[str]) -> None:
    with logs.bound(event_id="e-9", request_id="r-9"):
        sent = logs.headers()
    assert sent == {EVENT_ID_HEADER: "e-9", REQUEST_ID_HEADER: "r-9"}
    assert logs.headers() == {}
    # aiormq hands header values over as bytes.
    received = {k: v.encode() for k, v in sent.items()} | {"x-deadline": 1}
    with logs.bound_from(received):
        logging.getLogger("versioner.test").info("arrived")
    with logs.bound_from(None):
        logging.getLogger("versioner.test").info("no headers")
    arrived, bare = _said(captured)
    assert (arrived["event_id"], arrived["request_id"]) == ("e-9", "r-9")
    assert "event_id" not in bare


def test_a_request_forgets_the_event_it_bound_when_it_ends(captured: list[str]) -> None:
    log = logging.getLogger("versioner.test")
    with logs.serving("r-1"):
        logs.bind(event_id="e-1")
        log.info("inside")
    log.info("after")
    inside, after = _said(captured)
    assert (inside["event_id"], inside["request_id"]) == ("e-1", "r-1")
    assert "event_id" not in after
    assert "request_id" not in after


def test_a_message_s_own_event_id_wins_over_its_header(captured: list[str]) -> None:
    received = {EVENT_ID_HEADER: b"from-header", REQUEST_ID_HEADER: b"r-3"}
    with logs.bound_from(received, event_id="own"):
        logging.getLogger("versioner.test").info("handled")
    (handled,) = _said(captured)
    assert (handled["event_id"], handled["request_id"]) == ("own", "r-3")


class _Stream(io.StringIO):
    """A stream that counts its writes."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        return super().write(text)


def _batched(interval: float) -> tuple[logging.Logger, logs.BatchedStreamHandler, _Stream]:
    stream = _Stream()
    handler = logs.BatchedStreamHandler(stream, interval=interval)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger = logging.getLogger(f"versioner.test.batched.{interval}")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.handlers = [handler]
    return logger, handler, stream


def test_lines_below_warning_wait_and_go_out_in_one_write() -> None:
    # An hour: only flush() or a warning writes them here.
    logger, handler, stream = _batched(3600)
    for n in range(3):
        logger.info("line %d", n)
    assert stream.getvalue() == ""
    handler.flush()
    assert stream.getvalue() == "INFO line 0\nINFO line 1\nINFO line 2\n"
    assert stream.writes == 1


def test_a_warning_is_written_at_once_after_every_line_before_it() -> None:
    logger, _handler, stream = _batched(3600)
    logger.info("first")
    logger.warning("then this")
    assert stream.getvalue() == "INFO first\nWARNING then this\n"
    logger.error("and this")
    assert stream.getvalue().endswith("WARNING then this\nERROR and this\n")


def test_waiting_lines_are_written_by_themselves_soon() -> None:
    logger, _handler, stream = _batched(0.01)
    logger.info("by itself")
    deadline = time.monotonic() + 10
    while not stream.getvalue() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert stream.getvalue() == "INFO by itself\n"


def test_many_waiting_lines_are_written_without_waiting_for_the_interval() -> None:
    logger, _handler, stream = _batched(3600)
    line = "x" * 1000
    for _ in range(40):  # 40 kB waiting: more than a batch holds
        logger.info(line)
    assert stream.getvalue().count(line) >= 32


def test_lines_still_waiting_at_exit_are_written() -> None:
    script = (
        "import logging\n"
        "from versioner.common.logs import configure_logging\n"
        "configure_logging('policy', 'INFO', 'text')\n"
        "for n in range(100): logging.getLogger('x').info('line %d', n)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=30
    )
    lines = done.stderr.splitlines()
    assert [line.rsplit(" ", 1)[1] for line in lines] == [str(n) for n in range(100)]
