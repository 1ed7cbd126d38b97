"""The insights half of the client: the DORA keys, the gate's report, incidents."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from versioner.client.models import (
    Bucket,
    DoraReport,
    GateReport,
    Incident,
    IncidentEvent,
    IncidentStatus,
)

Query = dict[str, str | int | None]


def _period(
    product: str | None,
    environments: Sequence[str],
    since: str | None,
    until: str | None,
    bucket: Bucket | None,
) -> Query:
    """The query both reports take; nothing given is the server's default."""
    return {
        "product": product,
        "environment": ",".join(environments) or None,
        "since": since,
        "until": until,
        "bucket": bucket,
    }


class InsightsCalls:
    """API.md "Insights"; `VersionerClient` supplies the retrying transport."""

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        raise NotImplementedError

    def dora_insights(
        self,
        *,
        product: str | None = None,
        environments: Sequence[str] = (),
        since: str | None = None,
        until: str | None = None,
        bucket: Bucket | None = None,
    ) -> DoraReport:
        """The four DORA keys over a period and per bucket (default: production environments,
        the last 90 days, by week)."""
        params = _period(product, environments, since, until, bucket)
        return cast("DoraReport", self._json("GET", "insights/dora", params=params))

    def gate_insights(
        self,
        *,
        product: str | None = None,
        environments: Sequence[str] = (),
        since: str | None = None,
        until: str | None = None,
        bucket: Bucket | None = None,
    ) -> GateReport:
        """Blocked attempts, overrides, waits, request turnaround and gate-skipped
        completions over a period (the same defaults as `dora_insights`)."""
        params = _period(product, environments, since, until, bucket)
        return cast("GateReport", self._json("GET", "insights/gate", params=params))

    def record_incident(
        self,
        product: str,
        environment: str,
        incident_id: str,
        status: IncidentStatus,
        *,
        title: str | None = None,
        url: str | None = None,
        opened_at: str | None = None,
        resolved_at: str | None = None,
    ) -> Incident:
        """Record an incident opened or resolved; the same `incident_id` again updates it.
        Times left out are when the server receives it."""
        body: IncidentEvent = {
            "product_name": product,
            "environment_name": environment,
            "incident_id": incident_id,
            "status": status,
        }
        if title is not None:
            body["title"] = title
        if url is not None:
            body["url"] = url
        if opened_at is not None:
            body["opened_at"] = opened_at
        if resolved_at is not None:
            body["resolved_at"] = resolved_at
        return cast("Incident", self._json("POST", "incident-events/", body=body))

    def list_incidents(
        self,
        *,
        product: str | None = None,
        environment: str | None = None,
        status: IncidentStatus | None = None,
        deployment: str | None = None,
        limit: int | None = None,
        before: str | None = None,
    ) -> list[Incident]:
        """Incidents, newest opened first; `deployment` is the id of the one they attach to,
        `before` the id of the last incident of the previous page."""
        params: Query = {
            "product": product,
            "environment": environment,
            "status": status,
            "deployment": deployment,
            "limit": limit,
            "before": before,
        }
        return cast("list[Incident]", self._json("GET", "incidents/", params=params))
