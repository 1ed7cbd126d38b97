"""The notifier service: a FastStream app consuming domain events."""

import logging

from faststream import FastStream
from faststream.rabbit import RabbitBroker

from versioner.notifier.handlers import register
from versioner.notifier.settings import NotifierSettings

log = logging.getLogger("versioner.notifier")


def build_broker(settings: NotifierSettings) -> RabbitBroker:
    """The notifier's broker with its subscribers."""
    broker = RabbitBroker(
        str(settings.amqp_url),
        log_level=logging.DEBUG,
        graceful_timeout=10.0,
        app_id="versioner-notifier",
    )
    register(broker, settings.names)
    return broker


def create_app(settings: NotifierSettings | None = None) -> FastStream:
    """The notifier as a FastStream app, ready to `run()`."""
    settings = settings or NotifierSettings()
    app = FastStream(build_broker(settings), logger=log)

    @app.after_startup
    async def ready() -> None:
        log.info("notifier ready, listening on %s", settings.names.notifier_queue)

    return app
