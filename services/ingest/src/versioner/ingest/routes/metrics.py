"""`GET /metrics`: the gateway's Prometheus metrics, for the networks a scraper lives on.

Who may read them without a token (there is none to give a scraper): callers from
`VERSIONER_METRICS_ALLOW`, a comma list of networks — by default loopback and the private
ranges where a compose network's or a cluster's Prometheus scrapes from. Anyone else is 403:
the numbers say how busy the gate is and how often it refuses, not for the internet. Behind
a reverse proxy the caller is the proxy: keep `/metrics` off the public route there.
"""

import ipaddress

from fastapi import Request, Response
from fastapi.responses import JSONResponse

from versioner.common.metrics import CONTENT_TYPE, exposition
from versioner.ingest.web import Router

router = Router(tags=["operating"])


def allowed(host: str | None, networks: str) -> bool:
    """Whether a caller at `host` is on one of `networks` (comma-separated CIDRs)."""
    if host is None:
        return False
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return any(
        address in ipaddress.ip_network(network.strip(), strict=False)
        for network in networks.split(",")
        if network.strip()
    )


@router.both("/metrics", methods=["GET"], include_in_schema=False)
async def metrics(request: Request) -> Response:
    """The metrics in Prometheus' text format; 403 for a caller off the allowed networks."""
    host = request.client.host if request.client else None
    if not allowed(host, request.app.state.settings.metrics_allow):
        return JSONResponse(
            {"detail": "Metrics are served to VERSIONER_METRICS_ALLOW's networks only"},
            status_code=403,
        )
    return Response(exposition(), media_type=CONTENT_TYPE)
