"""How the services log: one format on stderr, the level from `VERSIONER_LOG_LEVEL`."""

import logging
import os

FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def configure_logging(level: str | None = None) -> None:
    """Configure the root logger once, at start; `level` defaults to `VERSIONER_LOG_LEVEL`
    (`INFO` when unset). Nothing happens at import."""
    if level is None:
        level = os.environ.get("VERSIONER_LOG_LEVEL", "INFO")
    logging.basicConfig(level=level.upper(), format=FORMAT)
