"""One line per domain event, as a person would want to read it."""

from typing import assert_never

from versioner.common.messages.domain import (
    BuildEventOccurred,
    ButtonFireRequested,
    DeploymentBlocked,
    DeploymentChanged,
    DomainEvent,
    EventRejected,
    RequestEventOccurred,
    SlackActionHandled,
    VersionApproved,
)


def describe(event: DomainEvent) -> str:
    """A one-line summary of what happened."""
    match event:
        case BuildEventOccurred(build=build):
            return f"{event.event_type}: {build.product_name} {build.version} ({event.actor})"
        case DeploymentChanged(deployment=deployment):
            return (
                f"{event.event_type}: {deployment.product_name} {deployment.version} → "
                f"{deployment.environment_name} ({event.actor})"
            )
        case DeploymentBlocked(attempt=attempt):
            codes = ", ".join(v.code for v in event.violations)
            return (
                f"{event.event_type}: {attempt.product_name} {attempt.version} → "
                f"{attempt.environment_name} blocked: {codes}"
            )
        case RequestEventOccurred(request=request):
            return f"{event.event_type}: {request.name} ({request.status}) by {event.actor}"
        case VersionApproved(approval=approval):
            return (
                f"version.approved: {approval.product_name} {approval.version} "
                f"{approval.approval_type} by {event.actor}"
            )
        case ButtonFireRequested(variables=v):
            return (
                f"button.fire_requested: {v.product_name} {v.version} → {v.environment_name} "
                f"({event.actor})"
            )
        case SlackActionHandled(origin=origin):
            return f"slack.action_handled: {origin.slack_user_id}: {event.note}"
        case EventRejected():
            what = f"{event.event_kind} {event.product_name} {event.version}"
            return f"event.rejected: {what}: {event.reason}"
        case _:
            # Every event is described: a new one fails type checking here until it is.
            assert_never(event)
