"""A local webhook receiver on 127.0.0.1 that records every request and answers from a script.

Each path has a queue of `Reply`s, taken one per request; an empty queue answers `default`
(200, empty body). A reply may wait before answering (to trip the sender's timeout), drop the
connection without answering, or redirect.
"""

import asyncio
import contextlib
import hashlib
import hmac
import json
import time
from collections import defaultdict, deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

from aiohttp import web
from multidict import CIMultiDictProxy, MultiMapping

SIGNATURE_HEADER = "X-Versioner-Signature"
_SIGNATURE_PREFIX = "sha256="


def verify_signature(secret: str | bytes, body: bytes, header: str | None) -> bool:
    """Whether `header` is `sha256=<hex HMAC-SHA256 of body under secret>`."""
    if header is None or not header.startswith(_SIGNATURE_PREFIX):
        return False
    key = secret.encode() if isinstance(secret, str) else secret
    expected = hmac.new(key, body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header.removeprefix(_SIGNATURE_PREFIX))


@dataclass(frozen=True)
class Reply:
    """One scripted answer: `delay` seconds of silence first, then `drop` or the response."""

    status: int = 200
    body: bytes | str = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0
    drop: bool = False

    @classmethod
    def redirect(cls, location: str, status: int = 302) -> Self:
        """A redirect to `location`."""
        return cls(status=status, headers={"Location": location})


@dataclass(frozen=True)
class ReceivedRequest:
    """One request as it arrived; `received_at` is `time.monotonic()`."""

    method: str
    path: str
    query: MultiMapping[str]
    headers: CIMultiDictProxy[str]
    body: bytes
    received_at: float

    @property
    def text(self) -> str:
        """The body as UTF-8 text."""
        return self.body.decode()

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)


class Receiver:
    """The receiver; use as `async with Receiver() as receiver:`."""

    def __init__(self, *, default: Reply | None = None) -> None:
        self.default = default or Reply()
        self.requests: list[ReceivedRequest] = []
        self._scripts: defaultdict[str, deque[Reply]] = defaultdict(deque)
        self._recorded = asyncio.Condition()
        self._closing = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._base_url: str | None = None

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:<port>`, without a trailing slash."""
        if self._base_url is None:
            raise RuntimeError("Receiver is not started")
        return self._base_url

    def url(self, path: str = "/") -> str:
        """The absolute URL of `path`."""
        return f"{self.base_url}/{path.lstrip('/')}"

    def script(self, path: str, *replies: Reply) -> None:
        """Answer the next requests to `path` with `replies`, in order."""
        self._scripts["/" + path.lstrip("/")].extend(replies)

    def requests_to(self, path: str) -> list[ReceivedRequest]:
        """The requests received on `path`."""
        path = "/" + path.lstrip("/")
        return [request for request in self.requests if request.path == path]

    async def wait_for(
        self, count: int, timeout: float = 5.0, *, path: str | None = None
    ) -> list[ReceivedRequest]:
        """Wait until at least `count` requests (to `path`, if given) arrived; return those."""

        def received() -> list[ReceivedRequest]:
            return self.requests if path is None else self.requests_to(path)

        async with asyncio.timeout(timeout), self._recorded:
            await self._recorded.wait_for(lambda: len(received()) >= count)
        return list(received())

    async def start(self) -> None:
        """Listen on a free port of 127.0.0.1."""
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._receive)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        host, port = self._runner.addresses[0][:2]
        self._base_url = f"http://{host}:{port}"

    async def close(self) -> None:
        """Stop listening; replies still waiting out their delay drop their connection."""
        self._closing.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def _receive(self, request: web.Request) -> web.StreamResponse:
        received = ReceivedRequest(
            method=request.method,
            path=request.path,
            query=request.query,
            headers=request.headers,
            body=await request.read(),
            received_at=time.monotonic(),
        )
        async with self._recorded:
            self.requests.append(received)
            self._recorded.notify_all()
        script = self._scripts[request.path]
        reply = script.popleft() if script else self.default
        if reply.delay > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), reply.delay)
        if reply.drop or self._closing.is_set():
            if request.transport is not None:
                request.transport.abort()
            # aiohttp fails to write this to the aborted transport and lets it go quietly.
            return web.Response()
        body = reply.body.encode() if isinstance(reply.body, str) else reply.body
        return web.Response(status=reply.status, body=body, headers=dict(reply.headers))
