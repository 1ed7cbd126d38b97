"""A start answered 503 because the broker went away never blocks its pair once it is back.

The worst moment: policy recorded the start, then the connection dropped before its verdict
came back. Ingest answers 503 and asks policy to close what it recorded; while the broker is
still away that request waits in ingest and goes out before anything else once it is back.
"""

from tests.support.flows import deploy_body, gateway_of, verified
from tests.support.stack import Stack
from versioner.ingest.rpc import BrokerUnavailable, PolicyClient


class AwayClient:
    """The real client in front of policy, with the broker going away on demand."""

    def __init__(self, inner: PolicyClient) -> None:
        self.inner = inner
        self.away = False
        self.lose_next_reply = False
        self.kinds: list[str] = []

    async def call(
        self, routing_key: str, body: bytes, *, timeout: float, expires: bool
    ) -> bytes | None:
        """The request reaches policy; its reply is lost if asked."""
        if self.away:
            raise BrokerUnavailable("not connected")
        reply = await self.inner.call(routing_key, body, timeout=timeout, expires=expires)
        if self.lose_next_reply:
            self.lose_next_reply, self.away = False, True
            raise BrokerUnavailable("the broker connection was lost")
        return reply

    async def send(self, routing_key: str, body: bytes, *, answered: bool = False) -> None:
        """Sent unless the broker is away."""
        if self.away:
            raise BrokerUnavailable("not connected")
        self.kinds.append(body.decode())
        await self.inner.send(routing_key, body, answered=answered)

    @property
    def unanswered(self) -> int:
        """The real client's count."""
        return self.inner.unanswered

    @property
    def connected(self) -> bool:
        """Down while away."""
        return not self.away and self.inner.connected


async def test_a_start_whose_verdict_was_lost_does_not_block_its_pair(
    stack: Stack, ci: dict[str, str]
) -> None:
    await verified(stack, ci)  # its credential cached: the next call to policy is the start
    gateway = gateway_of(stack)
    away = AwayClient(gateway.client)
    gateway.client = away
    away.lose_next_reply = True
    lost = await stack.http.post("/deployment-events/", json=deploy_body(version="1.0"), headers=ci)
    assert lost.status_code == 503
    # Policy recorded it: while the broker is away nobody can tell it otherwise.
    assert away.kinds == []
    away.away = False
    answer = await stack.http.post(
        "/deployment-events/", json=deploy_body(version="2.0"), headers=ci
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "started"
    assert '"kind":"deployment_start_abandoned"' in away.kinds[0]
    listed = await stack.http.get(
        "/deployments/", params={"product": "api", "environment": "production"}, headers=ci
    )
    statuses = {d["version"]: d["status"] for d in listed.json()}
    assert statuses == {"1.0": "aborted", "2.0": "started"}


async def test_abandons_kept_while_the_broker_is_away_go_out_once_before_any_start(
    stack: Stack, ci: dict[str, str]
) -> None:
    await verified(stack, ci)  # its credential cached: the next call to policy is the start
    gateway = gateway_of(stack)
    away = AwayClient(gateway.client)
    gateway.client = away
    for version in ("1.0", "1.1"):
        away.lose_next_reply = True
        away.away = False
        answer = await stack.http.post(
            "/deployment-events/",
            json=deploy_body(version=version, product_name=f"p{version}"),
            headers=ci,
        )
        assert answer.status_code == 503
    # The first went out before the second start, the second is still kept.
    assert len(away.kinds) == 1
    assert '"product_name":"p1.0"' in away.kinds[0]
    assert await gateway.resend_abandoned() == 0, "still away"
    away.away = False
    assert await gateway.resend_abandoned() == 1
    assert await gateway.resend_abandoned() == 0
    assert [body.count("deployment_start_abandoned") for body in away.kinds] == [1, 1]
    assert '"product_name":"p1.1"' in away.kinds[1]
