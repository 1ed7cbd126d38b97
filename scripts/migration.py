"""`make migration SERVICE=policy MESSAGE="what it adds"`: autogenerate the next revision.

A service's env.py runs only on the connection handed over to it (the service migrates under
its lock), so this hands over a scratch SQLite database migrated to the head; Alembic compares
it with the models in `tables.py` and writes the difference as the next numbered revision,
through the post-write hooks of `services/<service>/alembic.ini` (ruff).
"""

import argparse
import tempfile
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine

ROOT = Path(__file__).resolve().parent.parent
SERVICES = ("policy", "notifier")


def next_revision(config: Config) -> str:
    """The revision after the head, numbered as the others are: `0004` after `0003`."""
    head = ScriptDirectory.from_config(config).get_current_head()
    return f"{int(head or 0) + 1:04d}"


def main() -> None:
    """Entry point."""
    parser = argparse.ArgumentParser(description="Autogenerate a service's next migration.")
    parser.add_argument("service", choices=SERVICES)
    parser.add_argument("message", help="what the revision adds, one sentence")
    args = parser.parse_args()
    config = Config(ROOT / "services" / args.service / "alembic.ini")
    with tempfile.TemporaryDirectory(prefix="versioner-migration-") as scratch:
        engine = create_engine(f"sqlite:///{scratch}/autogenerate.db")
        try:
            with engine.begin() as connection:
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
                command.revision(
                    config,
                    message=args.message,
                    autogenerate=True,
                    rev_id=next_revision(config),
                )
        finally:
            engine.dispose()


if __name__ == "__main__":
    main()
