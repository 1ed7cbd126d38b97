"""Typed calls to policy: each request becomes a message, each reply a model or a `Failure`."""

import asyncio
import json
import logging
import math
import time
from collections import deque
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Annotated, Any, Literal, cast

from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from versioner.common import tracing
from versioner.common.errors import Failure, forbidden, notifier_unavailable, policy_unavailable
from versioner.common.messages.actor import SYSTEM
from versioner.common.messages.lanes import (
    BuildEventReceived,
    BuildReply,
    DeploymentEventReceived,
    DeploymentReply,
    DeploymentStartAbandoned,
    EvaluateDeployment,
)
from versioner.common.messages.management import (
    ManagementCall,
    NoteEventsQueued,
    Ping,
    Pong,
    QueuedEvent,
)
from versioner.common.messages.notifier import NotifierCall
from versioner.common.messages.rpc import R, Rpc
from versioner.common.names import BrokerNames
from versioner.ingest import metrics
from versioner.ingest.notes import AcceptedEvents, QueuedNotes
from versioner.ingest.rpc import BrokerUnavailable, PolicyClient

log = logging.getLogger(__name__)

# Facts of this gateway waiting for their record at once, beyond which the next is answered
# 202 as soon as the broker confirms it. One pipeline reporting gets its record (ids) in the
# 200; under load the gateway stops holding connections for records the lanes make anyway.
# Measured with bench/cpu.py at 32 connections (issue 8): waiting for every record, 265
# facts/s; 16 waiters, 515/s; 8, 565/s; 4, 697/s and the most deployments/s (2 was no better).
FACT_WAITERS = 4
# Facts answered 202 and not recorded yet, at most (per ingest replica): about what policy
# takes from its lanes at once (8 lanes x 32), a few hundred milliseconds of its work.
UNRECORDED_MAX = 256
# Abandons kept in memory while the broker is away, at most (the oldest are dropped beyond;
# their deployments then close at `VERSIONER_DEPLOYMENT_TIMEOUT_MIN`).
ABANDONED_MAX = 10_000

_BUILD_REPLY: TypeAdapter[BuildReply] = TypeAdapter(BuildReply)
_DEPLOYMENT_REPLY: TypeAdapter[DeploymentReply] = TypeAdapter(DeploymentReply)
_PONG: TypeAdapter[Pong] = TypeAdapter(Pong)


class FailureError(Exception):
    """A request ended in a `Failure`; the HTTP layer answers with it."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.status_code)
        self.failure = failure


class PolicyHealth:
    """Whether policy answered lately: while it does not, unknown credentials get a 503 at once.

    An unanswered request makes policy "down" only if nothing at all came back from it since
    that request was sent: under load a ping can wait behind a backlog while the lanes go on
    answering, and a busy policy is not a dead one (issue 8).
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.down = False
        self.clock = clock
        self._last_answer = -math.inf

    def answered(self) -> None:
        """Policy replied to something."""
        self.down = False
        self._last_answer = self.clock()

    def silent(self, since: float) -> None:
        """A request sent at `since` (this clock) went unanswered."""
        if self._last_answer < since:
            self.down = True


def _producer_span(routing_key: str, kind: str) -> AbstractContextManager[Any]:
    # Its name and attributes are built only while tracing is on: this is the gate's path.
    if not tracing.enabled():
        return nullcontext()
    attributes = {"messaging.system": "rabbitmq", "messaging.destination.name": routing_key}
    return tracing.span(f"{routing_key} send {kind}", "producer", attributes)


class PolicyGateway:
    """Everything ingest asks of policy."""

    def __init__(self, client: PolicyClient, names: BrokerNames, timeout_s: float) -> None:
        self.client = client
        self.names = names
        self.timeout_s = timeout_s
        self.health = PolicyHealth()
        self._adapters: dict[type[BaseModel], TypeAdapter[Any]] = {}
        self._facts_waiting = 0
        # Abandons of starts answered 503 that could not be sent yet (the broker was away).
        self._abandoned: deque[DeploymentStartAbandoned] = deque(maxlen=ABANDONED_MAX)
        self._resending = asyncio.Lock()
        self._notes = QueuedNotes(self._send_notes)
        self.accepted = AcceptedEvents()

    @property
    def facts_waiting(self) -> int:
        """Facts waiting for their record now."""
        return self._facts_waiting

    def _lane_key(self, product_name: str) -> str:
        return self.names.lane_key(self.names.lane_for(product_name))

    async def _send(
        self,
        target: Literal["policy", "notifier"],
        routing_key: str,
        kind: str,
        payload: bytes,
        *,
        timeout: float,
        expires: bool,
    ) -> bytes | None:
        """One request to policy or the notifier, counted and (tracing on) in a span; its
        reply, None when none came in time; a broker that refuses it is that target's 503."""
        started = time.perf_counter()
        try:
            with _producer_span(routing_key, kind):
                raw = await self.client.call(routing_key, payload, timeout=timeout, expires=expires)
        except BrokerUnavailable as exc:
            metrics.rpc(target, kind, "unavailable", time.perf_counter() - started)
            log.warning("broker unavailable: %s", exc)
            unavailable = policy_unavailable() if target == "policy" else notifier_unavailable()
            raise FailureError(unavailable) from exc
        outcome: metrics.RpcOutcome = "timeout" if raw is None else "answer"
        metrics.rpc(target, kind, outcome, time.perf_counter() - started)
        return raw

    async def _call(
        self, routing_key: str, body: BaseModel, *, timeout: float, expires: bool
    ) -> bytes | None:
        payload = body.model_dump_json().encode()
        raw = await self._send(
            "policy", routing_key, type(body).__name__, payload, timeout=timeout, expires=expires
        )
        if raw is not None:
            self.health.answered()
        return raw

    def _adapter(self, reply: type[R]) -> TypeAdapter[R | Failure]:
        if reply not in self._adapters:
            either: Any = Annotated[reply | Failure, Field(discriminator="kind")]
            self._adapters[reply] = TypeAdapter(either)
        return self._adapters[reply]

    def _answer(self, raw: bytes, request: Rpc[R]) -> R:
        result = self._adapter(type(request).reply).validate_json(raw)
        if isinstance(result, Failure):
            raise FailureError(result)
        # `reply` is the class `R` stands for: both are read from the request's type parameter.
        return cast("R", result)

    async def ask(self, request: ManagementCall[R], *, timeout: float | None = None) -> R:
        """A management request's result (the reply its type names); raises `FailureError`
        for a refusal or no answer."""
        if request.permission is not None and not request.actor.may(request.permission):
            raise FailureError(forbidden())
        sent = self.health.clock()
        raw = await self._call(
            self.names.management_key, request, timeout=timeout or self.timeout_s, expires=True
        )
        if raw is None:
            # Management requests are short: silence means policy is down (or drowning). Until
            # a ping gets through, unknown credentials are refused here instead of queued.
            self.health.silent(sent)
            raise FailureError(policy_unavailable())
        return self._answer(raw, request)

    async def ask_notifier(self, request: NotifierCall[R], *, timeout: float | None = None) -> R:
        """A notifier request's result (its configuration: channels, deliveries, buttons);
        raises `FailureError` for a refusal, or 503 when the notifier does not answer."""
        if not request.actor.may(request.permission):
            raise FailureError(forbidden())
        # Only what the caller set: a patch tells "leave it" (absent) from "remove it" (null),
        # and the notifier reads it with `exclude_unset`; `kind`, a default, is added back.
        body = request.model_dump(mode="json", exclude_unset=True)
        body["kind"] = type(request).model_fields["kind"].default
        raw = await self._send(
            "notifier",
            self.names.notifier_key,
            type(request).__name__,
            json.dumps(body).encode(),
            timeout=timeout or self.timeout_s,
            expires=True,
        )
        if raw is None:
            raise FailureError(notifier_unavailable())
        return self._answer(raw, request)

    async def decide(self, message: EvaluateDeployment) -> DeploymentReply | None:
        """The verdict on a `deployment started`; None when none came before the deadline.

        Abandons kept while the broker was away go first, so that a start never waits behind
        (or is refused 409 by) a deployment whose start was answered 503.
        """
        if self._abandoned:
            await self.resend_abandoned()
        raw = await self._call(
            self._lane_key(message.event.product_name),
            message,
            timeout=self.timeout_s,
            expires=True,
        )
        return None if raw is None else _DEPLOYMENT_REPLY.validate_json(raw)

    async def _record(self, message: BaseModel, product_name: str) -> bytes | None:
        """Hand a fact to its lane; its record, or None when it is safe in the broker but the
        caller is not to wait for the record (answer 202).

        While `FACT_WAITERS` facts already wait for theirs, a new one is not made to wait: the
        broker's confirm is all a 202 needs, and the lane records it in order behind them. But
        only while fewer than `UNRECORDED_MAX` facts answered 202 wait for their record (each
        asks for a reply that nobody awaits, only counts): past that, policy is not keeping
        up, and a fact waits for its record like the first ones, so that the lanes' backlog
        (which every `started` waits behind) stays bounded and what is answered 202 is
        recorded soon after. Without a bound, facts were accepted at 2,000/s while policy
        recorded half of that: the lanes grew by 8,000 messages a minute, starts waited
        behind them and the management queue's pings (issue 8). While policy does not
        answer at all (`health.down`) the broker is the buffer: 202 at once.
        """
        routing_key = self._lane_key(product_name)
        if self._facts_waiting >= FACT_WAITERS and (
            self.health.down or self.client.unanswered < UNRECORDED_MAX
        ):
            try:
                await self.client.send(
                    routing_key, message.model_dump_json().encode(), answered=True
                )
            except BrokerUnavailable as exc:
                log.warning("broker unavailable: %s", exc)
                raise FailureError(policy_unavailable()) from exc
            return None
        self._facts_waiting += 1
        try:
            return await self._call(routing_key, message, timeout=self.timeout_s, expires=False)
        finally:
            self._facts_waiting -= 1

    async def record_build(self, message: BuildEventReceived) -> BuildReply | None:
        """A build fact's record; None when it is safe in the broker but not recorded yet."""
        raw = await self._record(message, message.event.product_name)
        return None if raw is None else _BUILD_REPLY.validate_json(raw)

    async def record_deployment(self, message: DeploymentEventReceived) -> DeploymentReply | None:
        """A deployment fact's record; None when it is safe in the broker but not recorded yet."""
        raw = await self._record(message, message.event.product_name)
        return None if raw is None else _DEPLOYMENT_REPLY.validate_json(raw)

    async def abandon(self, message: DeploymentStartAbandoned) -> None:
        """Tell policy, behind the start request on its lane, that nobody waits for the verdict.

        While the broker is away the message waits here and goes out once it is back
        (`resend_abandoned`): a start policy recorded just before the broker went away would
        otherwise stay `started` and refuse its pair's next start for hours (issue 9).
        """
        try:
            await self.client.send(
                self._lane_key(message.product_name), message.model_dump_json().encode()
            )
        except BrokerUnavailable:
            if len(self._abandoned) == self._abandoned.maxlen:
                log.error("too many abandons kept: %s's is dropped", self._abandoned[0].event_id)
            log.warning("DeploymentStartAbandoned for %s kept for later", message.event_id)
            self._abandoned.append(message)

    async def resend_abandoned(self) -> int:
        """Send the abandons kept while the broker was away, in order; how many went out."""
        sent = 0
        async with self._resending:  # one sender at a time: each goes out once, in order
            while self._abandoned:
                message = self._abandoned[0]
                try:
                    await self.client.send(
                        self._lane_key(message.product_name), message.model_dump_json().encode()
                    )
                except BrokerUnavailable:
                    break
                self._abandoned.popleft()
                sent += 1
        return sent

    async def note_queued(self, event: QueuedEvent) -> None:
        """Tell policy an event was answered 202 (for `GET /events/{id}`), with the others
        answered at the same moment, and remember it here until policy surely has."""
        self.accepted.remember(event)
        await self._notes.note(event)

    async def _send_notes(self, message: NoteEventsQueued) -> None:
        try:
            await self.client.send(self.names.management_key, message.model_dump_json().encode())
        except BrokerUnavailable:
            log.warning("could not note %d events as queued", len(message.events))

    async def ping(self, timeout: float) -> bool:
        """Whether policy answers a ping within `timeout` seconds."""
        sent = self.health.clock()
        try:
            raw = await self._call(
                self.names.management_key, Ping(actor=SYSTEM), timeout=timeout, expires=True
            )
        except FailureError:
            raw = None
        if raw is None:
            self.health.silent(sent)
            return False
        try:
            _PONG.validate_json(raw)
        except ValidationError:
            return False
        return True
