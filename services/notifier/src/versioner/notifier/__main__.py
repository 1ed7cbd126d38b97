"""`versioner-notifier`: run the notifier; `versioner-notifier health`: is it consuming?"""

import asyncio
import sys

import aio_pika
import uvloop

from versioner.common import collector, metrics, tracing
from versioner.common.broker import connect_hot
from versioner.common.logs import configure_logging
from versioner.notifier import metrics as deliveries_metrics
from versioner.notifier.app import create_app
from versioner.notifier.settings import NotifierSettings


async def _health(settings: NotifierSettings) -> bool:
    """Healthy when the broker answers and the notifier's queue has a consumer."""
    try:
        connection = await asyncio.wait_for(
            connect_hot(settings.amqp_url, "versioner-notifier health"), timeout=5
        )
    except (OSError, TimeoutError, aio_pika.exceptions.AMQPError) as exc:
        print(f"unhealthy: the broker is not reachable: {exc!r}", file=sys.stderr)  # noqa: T201
        return False
    async with connection:
        channel = await connection.channel()
        name = settings.names.notifier_queue
        try:
            queue = await channel.declare_queue(name, passive=True)
        except aio_pika.exceptions.ChannelClosed:
            print(f"unhealthy: queue {name} does not exist (never started)", file=sys.stderr)  # noqa: T201
            return False
        if not queue.declaration_result.consumer_count:
            print(f"unhealthy: nothing consumes {name} (not running)", file=sys.stderr)  # noqa: T201
            return False
        return True


def main() -> None:
    """Entry point."""
    configure_logging("notifier")
    settings = NotifierSettings()
    if sys.argv[1:] == ["health"]:
        sys.exit(0 if asyncio.run(_health(settings)) else 1)
    if sys.argv[1:]:
        sys.exit("usage: versioner-notifier [health]")
    metrics.serve("notifier", settings.metrics_port, settings.metrics_host)
    tracing.configure("notifier")
    deliveries_metrics.prepare()
    # uvloop: a cheaper event loop for a process that mostly moves messages (issue 8).
    app = create_app(settings)
    collector.settle()
    uvloop.run(app.run())


if __name__ == "__main__":
    main()
