"""The event endpoints' short way in: what every pipeline sends, without the framework's detour.

`POST /deployment-events/` and `POST /build-events/` are nearly all of Versioner's traffic (a
`started` and a `completed` per deployment). FastAPI's routing, dependency solving, body
handling and response plumbing cost ingest about as much CPU as the endpoint's own work
(issue 8's profile), so a request whose JSON body validates is handled here, by the very
functions the FastAPI endpoints call (`routes/events.py`) and with the same credential checks.

Everything else goes on to FastAPI untouched: a body that is not JSON, or does not validate,
another content type, an empty body. The framework answers those as it always did (400,
422 in its own words), so this path never answers an error FastAPI would word differently.
The endpoints stay declared in FastAPI for the OpenAPI document and those answers.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from versioner.common.events import BuildEventIn, DeploymentEventIn
from versioner.common.messages.actor import Actor
from versioner.ingest.deps import event_sender
from versioner.ingest.gateway import FailureError, PolicyGateway
from versioner.ingest.routes.events import build_event, deployment_event
from versioner.ingest.web import ROUTE_KEY, failure_response, replay


@dataclass(frozen=True)
class _Endpoint:
    body: type[BaseModel]
    handle: Callable[[Any, Actor, PolicyGateway], Awaitable[Response]]


_BUILD = _Endpoint(BuildEventIn, build_event)
_DEPLOYMENT = _Endpoint(DeploymentEventIn, deployment_event)
_ENDPOINTS = {
    path: endpoint
    for bare, endpoint in (
        ("/deployment-events", _DEPLOYMENT),
        ("/build-events", _BUILD),
        ("/version-events", _BUILD),
    )
    for path in (bare, bare + "/")
}


def is_json(content_type: bytes) -> bool:
    """Whether FastAPI reads a body of this type as JSON: `application/json` or `…+json`."""
    kind = content_type.partition(b";")[0].strip().lower()
    return kind == b"application/json" or (
        kind.startswith(b"application/") and kind.endswith(b"+json")
    )


class EventIntake:
    """ASGI middleware, inside `BodyLimit` (which has read the whole body by then)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle a well-formed event here; pass anything else on."""
        endpoint = (
            _ENDPOINTS.get(scope["path"])
            if scope["type"] == "http" and scope["method"] == "POST"
            else None
        )
        if endpoint is None:
            await self.app(scope, receive, send)
            return
        message = await receive()
        event = self._event(endpoint, scope, message)
        if event is None:
            await self.app(scope, replay([message], then=receive), send)
            return
        scope[ROUTE_KEY] = scope["path"]
        authorization = ""
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value.decode("latin-1")
                break
        state = scope["app"].state
        try:
            actor = await event_sender(state.authenticator, authorization)
            response = await endpoint.handle(event, actor, state.gateway)
        except FailureError as error:
            response = failure_response(error.failure)
        await send(
            {
                "type": "http.response.start",
                "status": response.status_code,
                "headers": response.raw_headers,
            }
        )
        await send({"type": "http.response.body", "body": response.body})

    @staticmethod
    def _event(endpoint: _Endpoint, scope: Scope, message: Any) -> BaseModel | None:
        """The body as the endpoint's model, or None to leave the request to FastAPI."""
        if message["type"] != "http.request" or message.get("more_body", False):
            return None
        body: bytes = message.get("body", b"")
        if not body:
            return None
        content_type = next(
            (value for name, value in scope["headers"] if name == b"content-type"), None
        )
        if content_type is None or not is_json(content_type):
            return None
        try:
            return endpoint.body.model_validate_json(body)
        except ValidationError:
            return None
