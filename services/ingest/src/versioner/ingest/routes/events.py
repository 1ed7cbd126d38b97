"""The Versioner-compatible event endpoints."""

import logging
from typing import Literal
from uuid import UUID, uuid4

from fastapi import Response
from pydantic import BaseModel

from versioner.common import logs
from versioner.common.errors import ErrorBody, Failure, forbidden, policy_unavailable
from versioner.common.events import BuildEventIn, DeploymentEventIn
from versioner.common.messages.actor import Actor
from versioner.common.messages.lanes import (
    BuildEventReceived,
    DeploymentEventReceived,
    DeploymentRecorded,
    DeploymentStartAbandoned,
    EvaluateDeployment,
)
from versioner.common.messages.management import GetEvent, QueuedEvent
from versioner.common.resources import BuildPublic, DeploymentPublic, EventStatus
from versioner.common.roles import Permission
from versioner.common.status import Status
from versioner.common.types import utcnow
from versioner.ingest.deps import ActorDep, EventSenderDep, GatewayDep, ident
from versioner.ingest.gateway import FailureError, PolicyGateway
from versioner.ingest.web import Router, failure_response, respond

router = Router(tags=["events"])
log = logging.getLogger("versioner.ingest.events")


def _received(event: BuildEventIn | DeploymentEventIn, actor: Actor) -> UUID:
    """A new event's id, bound to every log line written for it from here on (in policy and
    the notifier too, through the messages' headers), and its first line, at DEBUG: a line
    per request cost the gate's path 8 % of ingest's CPU (issue 8) and more through `make
    run`'s pipes (issue 11); policy's verdict is the story's first line at INFO."""
    event_id = uuid4()
    logs.bind(event_id=event_id)
    if not log.isEnabledFor(logging.DEBUG):
        return event_id
    environment = getattr(event, "environment_name", None)
    log.debug(
        "%s event received: %s %s%s (%s) from %s",
        "deployment" if environment else "build",
        event.product_name,
        event.version,
        f" to {environment}" if environment else "",
        event.status,
        actor.name,
        extra={
            "product": event.product_name,
            "version": event.version,
            "environment": environment,
            "status": str(event.status),
            "sender": actor.name,
        },
    )
    return event_id


class EventAccepted(BaseModel):
    """202: the event is safe in the broker; `GET /events/{event_id}` tells when it is recorded."""

    id: UUID
    event_id: UUID
    status: Literal["accepted"] = "accepted"


_ERRORS: dict[int | str, dict[str, object]] = {
    code: {"model": ErrorBody, "description": text}
    for code, text in {
        401: "Invalid authentication credentials",
        403: "The caller may not send events",
        409: "Version/SHA conflict, or another deployment in progress",
        422: "A field is missing or invalid",
        428: "Blocked by policy: every violation, with what to do and when to retry",
        503: "Policy did not answer in time (fail closed)",
    }.items()
}


async def _accepted(
    gateway: PolicyGateway, event_id: UUID, kind: Literal["build", "deployment"], actor: Actor
) -> Response:
    await gateway.note_queued(
        QueuedEvent(event_id=event_id, event_kind=kind, sender_id=actor.id, received_at=utcnow())
    )
    return respond(EventAccepted(id=event_id, event_id=event_id), 202)


@router.both(
    "/build-events",
    methods=["POST"],
    summary="Track a build",
    responses={200: {"model": BuildPublic}, 202: {"model": EventAccepted}, **_ERRORS},
)
async def track_build(event: BuildEventIn, actor: EventSenderDep, gateway: GatewayDep) -> Response:
    """Record a build event; a completed build registers its version (alias `/version-events/`)."""
    return await build_event(event, actor, gateway)


async def build_event(event: BuildEventIn, actor: Actor, gateway: PolicyGateway) -> Response:
    """`POST /build-events/` once its caller and body are known (here and in `intake`)."""
    message = BuildEventReceived(
        event_id=_received(event, actor), received_at=utcnow(), actor=actor, event=event
    )
    reply = await gateway.record_build(message)
    if reply is None:
        return await _accepted(gateway, message.event_id, "build", actor)
    if isinstance(reply, Failure):
        return failure_response(reply)
    return respond(reply.build)


router.both(
    "/version-events", methods=["POST"], summary="Track a build (alias)", include_in_schema=False
)(track_build)


@router.both(
    "/deployment-events",
    methods=["POST"],
    summary="Track a deployment",
    responses={200: {"model": DeploymentPublic}, 202: {"model": EventAccepted}, **_ERRORS},
)
async def track_deployment(
    event: DeploymentEventIn, actor: EventSenderDep, gateway: GatewayDep
) -> Response:
    """Ask to start a deployment (`started`: the policy gate) or report how one went."""
    return await deployment_event(event, actor, gateway)


async def _abandon(gateway: PolicyGateway, event_id: UUID, product_name: str) -> None:
    """A start answered 503: policy closes whatever it recorded for it."""
    await gateway.abandon(
        DeploymentStartAbandoned(
            event_id=event_id, product_name=product_name, abandoned_at=utcnow()
        )
    )


async def deployment_event(
    event: DeploymentEventIn, actor: Actor, gateway: PolicyGateway
) -> Response:
    """`POST /deployment-events/` once its caller and body are known (here and in `intake`)."""
    if event.break_glass_reason and not actor.may(Permission.MANAGE_RULES):
        # Break-glass is for people who may manage rules, never for CI's keys: nothing recorded.
        raise FailureError(forbidden())
    event_id, received_at = _received(event, actor), utcnow()
    if event.status is Status.STARTED:
        try:
            verdict = await gateway.decide(
                EvaluateDeployment(
                    event_id=event_id, received_at=received_at, actor=actor, event=event
                )
            )
        except FailureError as error:
            if error.failure.status_code == 503:
                # The connection went away with the request in flight: policy may have
                # recorded it. Close whatever it did (a no-op if the request never arrived).
                await _abandon(gateway, event_id, event.product_name)
            raise
        if verdict is None:
            await _abandon(gateway, event_id, event.product_name)
            return failure_response(policy_unavailable())
    else:
        verdict = await gateway.record_deployment(
            DeploymentEventReceived(
                event_id=event_id, received_at=received_at, actor=actor, event=event
            )
        )
        if verdict is None:
            return await _accepted(gateway, event_id, "deployment", actor)
    if isinstance(verdict, DeploymentRecorded):
        return respond(verdict.deployment)
    return failure_response(verdict)


@router.both(
    "/events/{event_id}",
    methods=["GET"],
    summary="What became of an event",
    responses={200: {"model": EventStatus}},
)
async def get_event(event_id: str, actor: ActorDep, gateway: GatewayDep) -> Response:
    """Queued, recorded or rejected, with the ids of what it created."""
    wanted = ident(event_id)
    try:
        return respond(await gateway.ask(GetEvent(actor=actor, event_id=wanted)))
    except FailureError as error:
        # Answered 202 here a moment ago, its note not yet written by policy.
        queued = gateway.accepted.queued(wanted, actor)
        if error.failure.status_code != 404 or queued is None:
            raise
        return respond(queued)
