"""HTTP plumbing: body limit, request log, error bodies, and routes with and without a slash."""

import functools
import itertools
import logging
import re
import secrets
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from versioner.common import logs, tracing
from versioner.common.errors import INVALID_JSON, NOT_FOUND, Failure
from versioner.ingest.gateway import FailureError
from versioner.ingest.metrics import HTTP_COUNTS, HTTP_TIMES
from versioner.ingest.ui.render import failure_page

log = logging.getLogger("versioner.ingest.http")

MAX_BODY_BYTES = 1_048_576


class BodyLimit:
    """413 for bodies over 1 MB, by `Content-Length` or while reading a streamed body.

    The body is read here, before the app sees it: an error raised while FastAPI reads it
    would become FastAPI's own 400.
    """

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on with its body read, or answer 413."""
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE"):
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > self.limit:
                await _too_large(scope, receive, send, self.limit)
                return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, replay([message]), send)
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await _too_large(scope, receive, send, self.limit)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        await self.app(scope, replay([body], then=receive), send)


def replay(messages: list[Message], then: Receive | None = None) -> Receive:
    """A `receive` that gives these messages, then defers to `then` (for disconnects)."""
    pending = list(messages)

    async def receive() -> Message:
        if pending:
            return pending.pop(0)
        if then is None:
            return {"type": "http.disconnect"}
        return await then()

    return receive


async def _too_large(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
    body = {"detail": f"Request body too large: at most {limit} bytes"}
    await JSONResponse(body, status_code=413)(scope, receive, send)


# A caller's `X-Request-ID` is kept when it is a plain token of at most this many characters;
# anything else (empty, too long, spaces or quotes that would forge a log field) gets a new id.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


# A new id is 32 hex digits, as a UUID's: this process's random half, then a counter (a random
# UUID per request asked the kernel for randomness on every request of the gate's path).
_PROCESS_ID = secrets.token_hex(8)
_REQUESTS = itertools.count(1)


def request_id_of(scope: Scope) -> str:
    """The request's id: the caller's `X-Request-ID` when it is usable, a new one otherwise."""
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            text: str = value.decode("latin-1")
            if _REQUEST_ID.fullmatch(text):
                return text
            break
    return f"{_PROCESS_ID}{next(_REQUESTS):016x}"


# Where `EventIntake` says which route it answered (it answers before FastAPI routes).
ROUTE_KEY = "versioner.route"
# `{ref:path}` in a route's path is `{ref}` in the OpenAPI document and in the metrics.
_CONVERTER = re.compile(r":\w+}")


def route_of(scope: Scope) -> str:
    """The route template a request matched, as the OpenAPI document names it (without the
    trailing slash both forms answer at), for metrics: never the path itself, whose ids
    would make a series per product or deployment. `unmatched` for a 404 on no route."""
    route = scope.get("route")
    path = getattr(route, "path", None) or scope.get(ROUTE_KEY)
    return _template(path) if isinstance(path, str) else "unmatched"


@functools.cache
def _template(path: str) -> str:
    # Route paths are few and fixed (the app's routes, intake's event paths): made once each.
    return _CONVERTER.sub("}", path.rstrip("/")) or "/"


class RequestLog:
    """Every request gets an id (`X-Request-ID`, kept or made, and returned) that every log
    line written for it carries, in ingest and, through AMQP headers, in policy and the
    notifier; and one structured log line (uvicorn's access log is off: it costs throughput).

    Answers under 500 are logged at DEBUG: at the default level a request costs no log line,
    which on the gate's path was 8 % of ingest's CPU and all of `make run`'s relay (issue 8).
    Server errors stay at WARNING.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Time the request and log its outcome."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        request_id = request_id_of(scope)
        header = (b"x-request-id", request_id.encode())

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        with logs.serving(request_id), _server_span(scope, request_id) as span:
            try:
                await self.app(scope, receive, capture)
            finally:
                elapsed = time.perf_counter() - started
                if span is not None:
                    route = route_of(scope)
                    span.update_name(f"{scope['method']} {route}")
                    span.set_attribute("http.route", route)
                    span.set_attribute("http.response.status_code", status)
                self._done(scope, status, elapsed)

    @staticmethod
    def _done(scope: Scope, status: int, elapsed: float) -> None:
        """Count the request and log it (the line carries its ids: still inside `serving`)."""
        method, route = scope["method"], route_of(scope)
        HTTP_COUNTS(method, route, str(status)).inc()
        HTTP_TIMES(method, route).observe(elapsed)
        level = logging.WARNING if status >= 500 else logging.DEBUG
        if log.isEnabledFor(level):
            log.log(
                level,
                "%s %s %d %.1fms",
                method,
                scope["path"],
                status,
                elapsed * 1000,
                extra={"method": method, "path": scope["path"], "status": status},
            )


def _server_span(scope: Scope, request_id: str) -> AbstractContextManager[Any]:
    """The request as its trace's root span, continuing the caller's `traceparent` (named by
    its route once routed); nothing built while tracing is off: this is the gate's path."""
    if not tracing.enabled():
        return nullcontext()
    headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
    attributes = {
        "http.request.method": scope["method"],
        "url.path": scope["path"],
        "versioner.request_id": request_id,
    }
    return tracing.span(f"{scope['method']} {scope['path']}", "server", attributes, headers)


def json_body(model: BaseModel) -> bytes:
    """A model as an HTTP body: its `kind` tag is for messages, not for clients."""
    return model.model_dump_json(exclude={"kind"}).encode()


def respond(
    model: BaseModel, status_code: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """A JSON response from a model."""
    return Response(
        json_body(model), status_code=status_code, media_type="application/json", headers=headers
    )


def respond_list(items: list[Any], total: int) -> Response:
    """A bare JSON array, newest first, with the total in `X-Total-Count`."""
    body = b"[" + b",".join(json_body(item) for item in items) + b"]"
    return Response(body, media_type="application/json", headers={"X-Total-Count": str(total)})


def failure_response(failure: Failure) -> JSONResponse:
    """The HTTP answer for a `Failure`."""
    headers = (
        {"Retry-After": str(failure.retry_after_seconds)} if failure.retry_after_seconds else None
    )
    return JSONResponse(failure.body.to_json(), status_code=failure.status_code, headers=headers)


async def _on_failure(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, FailureError)
    if request.url.path.startswith("/ui/"):
        return failure_page(request, exc.failure.status_code)
    return failure_response(exc.failure)


async def _on_validation(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    if any(error.get("type") == "json_invalid" for error in errors):
        return JSONResponse({"detail": INVALID_JSON}, status_code=400)
    cleaned = [
        {key: value for key, value in error.items() if key in ("loc", "msg", "type")}
        for error in errors
    ]
    return JSONResponse({"detail": jsonable_encoder(cleaned)}, status_code=422)


# FastAPI's answer to a JSON body its parser gave up on otherwise than with a syntax error
# (bytes that are not UTF-8, nesting too deep): API.md has one answer for every bad body.
_UNPARSABLE_BODY = "There was an error parsing the body"


def _leaves(routes: Iterable[Any]) -> Iterator[Any]:
    """The routes that answer requests, out of the routers `include_router` wraps them in."""
    for route in routes:
        router = getattr(route, "original_router", None)  # FastAPI's wrapper of an included one
        if router is not None:
            yield from _leaves(router.routes)
        else:
            yield route


def allowed_methods(request: Request) -> str:
    """Every method some route answers at this path, for a 405's `Allow` header.

    Starlette names only the methods of the first route whose path matches, and each method
    of a path is a route of its own here (`Router.both`). A path that is a resource of its
    own (`/users/me`, `/deployment-rules/violations`) is not also the record a template
    names (`/users/{user_id}`): its own methods are the ones it allows.
    """
    matching = [
        route
        for route in _leaves(request.app.router.routes)
        if route.matches(request.scope)[0] is not Match.NONE and getattr(route, "methods", None)
    ]
    literal = [route for route in matching if not getattr(route, "param_convertors", None)]
    methods = {method for route in literal or matching for method in route.methods}
    return ", ".join(sorted(methods))


async def _on_http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if request.url.path.startswith("/ui/") and exc.status_code in (404, 405):
        return failure_page(request, 404)
    detail = NOT_FOUND if exc.status_code == 404 else exc.detail
    if exc.status_code == 400 and detail == _UNPARSABLE_BODY:
        detail = INVALID_JSON
    headers = exc.headers
    if exc.status_code == 405:
        headers = {**(headers or {}), "Allow": allowed_methods(request)}
    return JSONResponse({"detail": detail}, status_code=exc.status_code, headers=headers)


def install(app: FastAPI) -> None:
    """Error handlers and middleware, outermost last."""
    app.add_exception_handler(FailureError, _on_failure)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.add_middleware(BodyLimit)
    app.add_middleware(RequestLog)


class Router(APIRouter):
    """Routes that answer with and without a trailing slash, directly (API.md: never a redirect)."""

    def both(self, path: str, *, methods: list[str], **kwargs: Any) -> Callable[[Any], Any]:
        """Register a handler at `path` and at `path/`; only one goes into the OpenAPI document."""
        bare = path.rstrip("/") or "/"
        in_schema = kwargs.pop("include_in_schema", True)

        def decorator(func: Any) -> Any:
            self.add_api_route(bare, func, methods=methods, include_in_schema=in_schema, **kwargs)
            if bare != "/":
                self.add_api_route(
                    bare + "/", func, methods=methods, include_in_schema=False, **kwargs
                )
            return func

        return decorator
