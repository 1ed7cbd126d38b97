"""A local fake Versioner API (`FakeApi`) and runners of the `versioner` command line
(`Runner`: `main` in this process, or the installed script), for the client's tests (fixtures
in tests/client/conftest.py)."""

from __future__ import annotations

import io
import json
import os
import threading
from collections import deque
from collections.abc import Sequence
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

import pytest

from versioner.client.cli import main

API_KEY = "sk_local_k1_" + "A1b2C3d4" * 5


EVENT_ID = "3f2c1a9e-0000-4000-8000-000000000001"


@dataclass(frozen=True)
class Recorded:
    """One request the fake API received."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any


@dataclass(frozen=True)
class Reply:
    """A scripted answer."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


def default_reply(method: str, path: str, body: Any) -> Reply:
    """What the fake answers when nothing is scripted: a plausible recorded event."""
    sent = body if isinstance(body, dict) else {}
    if method == "POST" and path.startswith("/build-events"):
        return Reply(
            200,
            {
                "id": EVENT_ID,
                "version_id": "ver-1",
                "product_id": "prod-1",
                "product_name": sent.get("product_name"),
                "version": sent.get("version"),
                "status": "completed",
            },
        )
    if method == "POST" and path.startswith("/deployment-events"):
        return Reply(
            200,
            {
                "id": EVENT_ID,
                "product_id": "prod-1",
                "version_id": "ver-1",
                "environment_id": "env-1",
                "product_name": sent.get("product_name"),
                "version": sent.get("version"),
                "environment_name": sent.get("environment_name"),
                "status": "completed",
                "extra_metadata": {},
            },
        )
    return Reply(200, {})


class FakeApi:
    """Records every request and answers scripted replies in order, then defaults."""

    event_id = EVENT_ID

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self._replies: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        # A short poll keeps shutdown() (one poll at most) from dominating each test.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    @property
    def url(self) -> str:
        """Base URL of the fake."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def reply(self, status: int, body: Any = None, *, times: int = 1) -> None:
        """Queue an answer for the next `times` requests."""
        with self._lock:
            self._replies.extend(Reply(status, body) for _ in range(times))

    def start(self) -> None:
        """Serve in a background thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def _answer(self, request: Recorded) -> Reply:
        with self._lock:
            self.requests.append(request)
            if self._replies:
                return self._replies.popleft()
        return default_reply(request.method, request.path, request.body)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            """Hands every request to the fake API."""

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                recorded = Recorded(
                    method=self.command,
                    path=parts.path,
                    query=parse_qs(parts.query),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=json.loads(raw) if raw else None,
                )
                reply = api._answer(recorded)
                payload = b"" if reply.body is None else json.dumps(reply.body).encode()
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _handle

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler


@dataclass(frozen=True)
class Result:
    """What a CLI run did."""

    code: int
    stdout: str
    stderr: str


class Runner(Protocol):
    """Runs the installed `versioner` with a clean environment."""

    def __call__(
        self, *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
    ) -> Result: ...


def base_env(home: Path, api_url: str) -> dict[str, str]:
    """A minimal environment: no CI variables, no VERSIONER_* beyond what tests set."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "VERSIONER_RETRY_DELAYS": "0,0,0",
        "VERSIONER_API_URL": api_url,
        "VERSIONER_API_KEY": API_KEY,
    }
    if "SYSTEMROOT" in os.environ:
        env["SYSTEMROOT"] = os.environ["SYSTEMROOT"]
    return env


def run_in_process(
    monkeypatch: pytest.MonkeyPatch, args: Sequence[str], env: dict[str, str], cwd: Path
) -> Result:
    """`main(args)` with exactly `env` as the environment and `cwd` as the working directory,
    its stdout and stderr captured; everything put back after. An exit argparse asks for
    (`SystemExit`) is its code, as the entry point's would be."""
    out, err = io.StringIO(), io.StringIO()
    with monkeypatch.context() as patch:
        for name in list(os.environ):
            patch.delenv(name)
        for name, value in env.items():
            patch.setenv(name, value)
        patch.chdir(cwd)
        with redirect_stdout(out), redirect_stderr(err):
            try:
                code = main(list(args))
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
    return Result(code, out.getvalue(), err.getvalue())
