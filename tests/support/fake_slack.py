"""A fake Slack on 127.0.0.1: the Web API, incoming webhooks and interactivity response URLs.

Point slack-sdk at it with `AsyncWebClient(token=..., base_url=fake.url)` and
`AsyncWebhookClient(fake.webhook_url(name))`. Every request is recorded, including the ones
answered with an injected fault, so a test sees the retries as well as the outcome.
"""

import asyncio
import itertools
import json
from collections import deque
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self, TypeAlias
from urllib.parse import parse_qs

from aiohttp import web

VALID_TOKEN = "xoxb-fake-valid-token"
TEAM_ID = "T00000FAKE"
BOT_USER_ID = "U00000FAKE"
BOT_ID = "B00000FAKE"

# Slack sends these as JSON text inside form posts; the fake hands them back parsed, and
# answers with Slack's own error code when they do not parse.
_JSON_FIELDS = {
    "blocks": "invalid_blocks_format",
    "user_auth_blocks": "invalid_blocks_format",
    "attachments": "invalid_attachments",
    "metadata": "invalid_metadata_format",
}
_CHANNEL_METHODS = {"chat.postMessage", "chat.update", "chat.postEphemeral", "conversations.info"}
_FIRST_TS_SECONDS = 1_700_000_000
_TS_STEP_MICROS = 100

_Answer: TypeAlias = tuple[int, dict[str, Any]]


@dataclass(frozen=True)
class Call:
    """One Web API request as the fake understood it, and what it answered."""

    method: str
    token: str | None
    args: dict[str, Any]
    status: int
    response: dict[str, Any]

    @property
    def ok(self) -> bool:
        """Whether Slack would have accepted the call."""
        return self.status == 200 and self.response.get("ok") is True


@dataclass(frozen=True)
class HookPost:
    """One POST to an incoming webhook or a response URL."""

    name: str
    body: dict[str, Any]
    raw: bytes
    content_type: str
    status: int


@dataclass(frozen=True)
class _Fault:
    status: int
    retry_after: int | None = None

    @property
    def error(self) -> str:
        return "ratelimited" if self.status == 429 else "fatal_error"

    @property
    def headers(self) -> dict[str, str]:
        return {} if self.retry_after is None else {"Retry-After": str(self.retry_after)}


class FakeSlack:
    """The fake Slack server; use as `async with FakeSlack() as fake:`.

    `tokens` are the accepted bot tokens; `channels`, when set, are the only channels that
    exist (otherwise every channel does). `calls` holds every Web API request, `hook_posts`
    and `response_posts` every POST to a webhook or a response URL, and `messages` the
    latest content of every posted message by (channel, ts).
    """

    def __init__(
        self, *, tokens: Collection[str] = (VALID_TOKEN,), channels: Collection[str] | None = None
    ) -> None:
        self.tokens = set(tokens)
        self.channels = None if channels is None else set(channels)
        self.calls: list[Call] = []
        self.hook_posts: list[HookPost] = []
        self.response_posts: list[HookPost] = []
        self.messages: dict[tuple[str, str], dict[str, Any]] = {}
        self._faults: deque[_Fault] = deque()
        self._ts = itertools.count(1)
        self._recorded = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self._url: str | None = None

    @property
    def url(self) -> str:
        """The Web API base URL, ending in "/" as slack-sdk's `base_url` must."""
        if self._url is None:
            raise RuntimeError("FakeSlack is not started")
        return self._url

    def webhook_url(self, name: str) -> str:
        """The URL of the incoming webhook `name`."""
        return f"{self.url}hooks/{name}"

    def response_url(self, name: str) -> str:
        """The interactivity response URL `name`."""
        return f"{self.url}actions/{name}"

    def posted(self, channel: str | None = None) -> list[Call]:
        """The accepted `chat.postMessage` calls, to `channel` if given."""
        return [
            call
            for call in self.calls
            if call.method == "chat.postMessage"
            and call.ok
            and (channel is None or call.args.get("channel") == channel)
        ]

    def webhook_posts(self, name: str) -> list[HookPost]:
        """The POSTs to the incoming webhook `name`, accepted or not."""
        return [post for post in self.hook_posts if post.name == name]

    def responses(self, name: str) -> list[HookPost]:
        """The POSTs to the response URL `name`, accepted or not."""
        return [post for post in self.response_posts if post.name == name]

    def rate_limit(self, times: int = 1, retry_after: int = 1) -> None:
        """Answer the next `times` requests, of any kind, with 429 and `Retry-After`.

        Whole seconds only, as Slack sends them: slack-sdk's handler does `int(header)`.
        """
        self._faults.extend(_Fault(429, retry_after) for _ in range(times))

    def fail(self, times: int = 1, status: int = 500) -> None:
        """Answer the next `times` requests, of any kind, with `status`."""
        self._faults.extend(_Fault(status) for _ in range(times))

    async def wait_until(self, predicate: Callable[[], bool], *, timeout: float = 5.0) -> None:
        """Wait until `predicate()` holds, re-checked after each recorded request."""
        async with asyncio.timeout(timeout), self._recorded:
            await self._recorded.wait_for(predicate)

    async def wait_for(self, count: int, *, timeout: float = 5.0) -> list[Call]:
        """Wait until at least `count` Web API calls are recorded; return them all."""
        await self.wait_until(lambda: len(self.calls) >= count, timeout=timeout)
        return list(self.calls)

    async def start(self) -> None:
        """Listen on a free port of 127.0.0.1."""
        app = web.Application()
        app.router.add_post("/hooks/{name:.+}", self._webhook)
        app.router.add_post("/actions/{name:.+}", self._response_url)
        app.router.add_route("*", "/{method}", self._api)
        # A short shutdown grace: a test that stops mid-request should not wait a minute.
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        host, port = self._runner.addresses[0][:2]
        self._url = f"http://{host}:{port}/"

    async def close(self) -> None:
        """Stop listening."""
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

    async def _record(self, posts: list[Any], item: object) -> None:
        async with self._recorded:
            posts.append(item)
            self._recorded.notify_all()

    # ---- the Web API

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args: dict[str, Any] = dict(request.query)
        body_error = await _read_body(request, args)
        form_token = args.pop("token", None)
        token = _bearer(request.headers.get("Authorization")) or form_token
        fault = self._faults.popleft() if self._faults else None
        if fault is not None:
            status, answer = fault.status, {"ok": False, "error": fault.error}
        elif body_error is not None:
            status, answer = 200, {"ok": False, "error": body_error}
        else:
            status, answer = self._answer(method, token, args)
        await self._record(self.calls, Call(method, token, args, status, answer))
        headers = {} if fault is None else fault.headers
        return web.json_response(answer, status=status, headers=headers)

    def _answer(self, method: str, token: str | None, args: dict[str, Any]) -> _Answer:
        if token is None:
            return 200, {"ok": False, "error": "not_authed"}
        if token not in self.tokens:
            return 200, {"ok": False, "error": "invalid_auth"}
        methods: Mapping[str, Callable[[dict[str, Any]], _Answer]] = {
            "chat.postMessage": self._post_message,
            "chat.update": self._update,
            "chat.postEphemeral": self._post_ephemeral,
            "auth.test": self._auth_test,
            "conversations.info": self._conversations_info,
        }
        if method not in methods:
            return 200, {"ok": False, "error": "unknown_method"}
        if method in _CHANNEL_METHODS and not self._channel_exists(args.get("channel")):
            return 200, {"ok": False, "error": "channel_not_found"}
        return methods[method](args)

    def _channel_exists(self, channel: object) -> bool:
        if not isinstance(channel, str) or not channel:
            return False
        return self.channels is None or channel in self.channels

    def _next_ts(self) -> str:
        seconds, micros = divmod(next(self._ts) * _TS_STEP_MICROS, 1_000_000)
        return f"{_FIRST_TS_SECONDS + seconds}.{micros:06d}"

    def _post_message(self, args: dict[str, Any]) -> _Answer:
        if not _has_content(args):
            return 200, {"ok": False, "error": "no_text"}
        channel, ts = args["channel"], self._next_ts()
        message = _message(args, ts)
        self.messages[channel, ts] = message
        return 200, {"ok": True, "channel": channel, "ts": ts, "message": message}

    def _update(self, args: dict[str, Any]) -> _Answer:
        channel, ts = args["channel"], args.get("ts")
        if not isinstance(ts, str) or (channel, ts) not in self.messages:
            return 200, {"ok": False, "error": "message_not_found"}
        if not _has_content(args):
            return 200, {"ok": False, "error": "no_text"}
        message = _message(args, ts)
        self.messages[channel, ts] = message
        text = message["text"]
        return 200, {"ok": True, "channel": channel, "ts": ts, "text": text, "message": message}

    def _post_ephemeral(self, args: dict[str, Any]) -> _Answer:
        if not args.get("user"):
            return 200, {"ok": False, "error": "user_not_in_channel"}
        if not _has_content(args):
            return 200, {"ok": False, "error": "no_text"}
        return 200, {"ok": True, "message_ts": self._next_ts()}

    def _auth_test(self, args: dict[str, Any]) -> _Answer:
        return 200, {
            "ok": True,
            "url": self.url,
            "team": "Fake Team",
            "user": "versioner",
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
        }

    def _conversations_info(self, args: dict[str, Any]) -> _Answer:
        channel: str = args["channel"]
        info = {"id": channel, "name": channel.lstrip("#"), "is_channel": True, "is_member": True}
        return 200, {"ok": True, "channel": info}

    # ---- incoming webhooks and response URLs

    async def _webhook(self, request: web.Request) -> web.Response:
        # Incoming webhooks answer in plain text: "ok", or the error code.
        status, error, headers = await self._receive(request, self.hook_posts, needs_text=True)
        return web.Response(text=error or "ok", status=status, headers=headers)

    async def _response_url(self, request: web.Request) -> web.Response:
        status, error, headers = await self._receive(request, self.response_posts)
        answer = {"ok": True} if error is None else {"ok": False, "error": error}
        return web.json_response(answer, status=status, headers=headers)

    async def _receive(
        self, request: web.Request, posts: list[HookPost], *, needs_text: bool = False
    ) -> tuple[int, str | None, dict[str, str]]:
        raw = await request.read()
        body = _hook_body(raw, request.content_type)
        fault = self._faults.popleft() if self._faults else None
        status, error = 200, None
        if fault is not None:
            status, error = fault.status, fault.error
        elif body is None:
            status, error = 400, "invalid_payload"
        elif needs_text and not _has_content(body):
            status, error = 400, "no_text"
        name = request.match_info["name"]
        post = HookPost(name, body or {}, raw, request.content_type, status)
        await self._record(posts, post)
        return status, error, {} if fault is None else fault.headers


def _bearer(header: str | None) -> str | None:
    if header is None or not header.startswith("Bearer "):
        return None
    return header.removeprefix("Bearer ").strip() or None


async def _read_body(request: web.Request, args: dict[str, Any]) -> str | None:
    """Merge the body's arguments into `args`; Slack's error code for a body it would refuse."""
    if not request.can_read_body:
        return None
    if request.content_type == "application/json":
        try:
            body = json.loads(await request.read())
        except ValueError:
            return "invalid_json"
        if not isinstance(body, dict):
            return "invalid_json"
        args.update(body)
        return None
    form = await request.post()
    for key, value in form.items():
        if key in _JSON_FIELDS and isinstance(value, str):
            try:
                args[key] = json.loads(value)
            except ValueError:
                return _JSON_FIELDS[key]
        else:
            args[key] = value
    return None


def _has_content(args: Mapping[str, Any]) -> bool:
    return any(args.get(key) for key in ("text", "blocks", "attachments"))


def _message(args: Mapping[str, Any], ts: str) -> dict[str, Any]:
    message: dict[str, Any] = {
        "type": "message",
        "user": BOT_USER_ID,
        "bot_id": BOT_ID,
        "ts": ts,
        "text": args.get("text", ""),
    }
    for key in ("blocks", "attachments", "metadata", "thread_ts"):
        if key in args:
            message[key] = args[key]
    return message


def _hook_body(raw: bytes, content_type: str) -> dict[str, Any] | None:
    """A webhook body: JSON, or a form whose `payload` field is JSON (Slack takes both)."""
    text = raw.decode("utf-8", errors="replace")
    if content_type == "application/x-www-form-urlencoded":
        text = parse_qs(text).get("payload", [""])[0]
    try:
        body = json.loads(text)
    except ValueError:
        return None
    return body if isinstance(body, dict) else None
