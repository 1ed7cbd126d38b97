"""Liveness and readiness."""

from typing import Literal

from fastapi import Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from versioner.ingest.deps import GatewayDep
from versioner.ingest.web import Router

router = Router(tags=["health"])

# API.md: healthy only if policy answered a ping within this long.
PING_TIMEOUT_S = 1.0


@router.both("/health/live", methods=["GET"])
async def live() -> Response:
    """The process answers."""
    return JSONResponse({"status": "ok"})


class Health(BaseModel):
    """What `/health` says: 200 when all is up, 503 otherwise, the same body."""

    status: Literal["ok", "unavailable"]
    broker: Literal["up", "down"]
    policy: Literal["up", "down"]


@router.both(
    "/health",
    methods=["GET"],
    responses={200: {"model": Health}, 503: {"model": Health, "description": "Not ready"}},
)
async def health(request: Request, gateway: GatewayDep) -> Response:
    """200 only when the broker is up and policy answered a ping within a second."""
    broker = gateway.client.connected
    policy = broker and await gateway.ping(PING_TIMEOUT_S)
    body = {
        "status": "ok" if policy else "unavailable",
        "broker": "up" if broker else "down",
        "policy": "up" if policy else "down",
    }
    return JSONResponse(body, status_code=200 if policy else 503)
