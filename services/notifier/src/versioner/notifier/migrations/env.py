"""Alembic environment: runs on the connection `Database.migrate` hands over."""

from alembic import context

from versioner.notifier.db import VERSION_TABLE
from versioner.notifier.tables import NotifierModel

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through versioner.notifier.db, which holds the lock")

context.configure(
    connection=connection,
    target_metadata=NotifierModel.metadata,
    version_table=VERSION_TABLE,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
