"""`versioner-ingest`: serve the gateway with uvicorn."""

import uvicorn

from versioner.common import collector, tracing
from versioner.common.logs import configure_logging
from versioner.ingest.app import create_app
from versioner.ingest.settings import IngestSettings


def main() -> None:
    """Entry point."""
    settings = IngestSettings()
    configure_logging("ingest", settings.log_level)
    tracing.configure("ingest")
    app = create_app(settings)
    collector.settle()
    uvicorn.run(
        app,
        host=settings.http_host,
        port=settings.http_port,
        access_log=False,
        log_level=settings.log_level.lower(),
        lifespan="on",
    )


if __name__ == "__main__":
    main()
