"""`versioner-ingest`: serve the gateway with uvicorn."""

import logging

import uvicorn

from versioner.ingest.app import create_app
from versioner.ingest.settings import IngestSettings


def main() -> None:
    """Entry point."""
    settings = IngestSettings()
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    uvicorn.run(
        create_app(settings),
        host=settings.http_host,
        port=settings.http_port,
        access_log=False,
        log_level=settings.log_level.lower(),
        lifespan="on",
    )


if __name__ == "__main__":
    main()
