"""Alembic environment: runs on the connection `versioner.policy.store.migrate` hands over."""

from alembic import context
from sqlmodel import SQLModel

import versioner.policy.store.tables  # noqa: F401 - registers the tables on the metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "run migrations through versioner.policy.store.migrate, which holds the lock"
    )

context.configure(
    connection=connection,
    target_metadata=SQLModel.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
