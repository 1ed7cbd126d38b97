"""A start verdict's log line and metrics, once its transaction has committed.

The line is the story's second chapter after ingest's "received": the outcome and every
violation, under the event's id (bound by the lane consumer). The counters feed
`versioner_verdicts_total` and `versioner_violations_total`.
"""

import logging

from versioner.common.events import DeploymentEventIn
from versioner.policy.deployments.verdict import Verdict
from versioner.policy.metrics import VERDICT_COUNTS, VERDICT_SECONDS, VIOLATION_COUNTS

log = logging.getLogger("versioner.policy.verdict")

_SAID = {
    "allowed": "may start",
    "report_only": "may start (report-only rules found violations)",
    "overridden": "may start: break-glass overrode its violations",
    "blocked": "blocked",
}


def verdict(event: DeploymentEventIn, decided: Verdict, seconds: float) -> None:
    """Count the verdict and its violations, and log it."""
    VERDICT_COUNTS(decided.outcome).inc()
    for violation in (*decided.violations, *decided.reported):
        VIOLATION_COUNTS(violation.code, violation.rule_type).inc()
    VERDICT_SECONDS.observe(seconds)
    if not log.isEnabledFor(logging.INFO):
        return  # VERSIONER_LOG_LEVEL=WARNING: the line's fields are not even built
    codes = [v.code for v in decided.violations]
    log.info(
        "verdict: %s %s to %s %s%s",
        event.product_name,
        event.version,
        event.environment_name,
        _SAID[decided.outcome],
        f" ({', '.join(codes)})" if codes else "",
        extra={
            "outcome": decided.outcome,
            "product": event.product_name,
            "version": event.version,
            "environment": event.environment_name,
            "violations": [
                {"code": v.code, "rule": v.rule_name, "message": v.message}
                for v in decided.violations
            ],
            "reported": [v.code for v in decided.reported],
            "duration_ms": round(seconds * 1000, 2),
        },
    )
