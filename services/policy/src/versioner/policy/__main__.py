"""`versioner-policy`: run the policy service; `versioner-policy health`: is it answering?"""

import asyncio
import sys
import time

import uvloop
from aio_pika.exceptions import AMQPError, ChannelInvalidStateError

from versioner.common import collector, metrics, tracing
from versioner.common.logs import configure_logging
from versioner.common.messages.actor import SYSTEM
from versioner.common.messages.management import Ping
from versioner.common.names import DEADLINE_HEADER
from versioner.policy.app import build_broker, create_app
from versioner.policy.settings import PolicySettings


async def _health(settings: PolicySettings) -> bool:
    """Whether policy answers a ping (which it does only when its database answers too);
    what is wrong, on stderr, when it does not."""
    try:
        if await asyncio.wait_for(_ping(settings), timeout=10):
            return True
        _unhealthy("policy did not answer a ping in 5 s (not running, or its database is down)")
    except TimeoutError:  # no broker node answered (with several, connecting waits for one)
        _unhealthy("the broker did not answer in 10 s")
    except OSError as exc:
        _unhealthy(f"the broker is not reachable: {exc}")
    except (AMQPError, ChannelInvalidStateError) as exc:  # no exchange: policy never started
        _unhealthy(f"the broker refused the ping ({exc!r}): has policy started here?")
    return False


def _unhealthy(why: str) -> None:
    # Printed for whoever runs the check (an orchestrator keeps it with the probe's result).
    print(f"unhealthy: {why}", file=sys.stderr)  # noqa: T201


async def _ping(settings: PolicySettings) -> bool:
    names = settings.names
    # A one-off check: faststream's request() serialising calls does not matter here.
    async with build_broker(settings) as broker:
        try:
            reply = await broker.request(
                Ping(actor=SYSTEM),
                exchange=names.policy_exchange,
                routing_key=names.management_key,
                timeout=5.0,
                headers={DEADLINE_HEADER: int((time.time() + 5) * 1000)},
            )
        except TimeoutError:
            return False
    return b'"pong"' in reply.body


def main() -> None:
    """Entry point."""
    configure_logging("policy")
    settings = PolicySettings()
    if sys.argv[1:] == ["health"]:
        sys.exit(0 if asyncio.run(_health(settings)) else 1)
    if sys.argv[1:]:
        sys.exit("usage: versioner-policy [health]")
    metrics.serve("policy", settings.metrics_port, settings.metrics_host)
    tracing.configure("policy")
    # uvloop: a cheaper event loop for a process that mostly moves messages (issue 8).
    app = create_app(settings)
    collector.settle()
    uvloop.run(app.run())


if __name__ == "__main__":
    main()
