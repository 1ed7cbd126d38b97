"""Outbox rows carry the AMQP headers of the event and request they were written for.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04 14:18:46.552620
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("headers", sa.String(), nullable=True))


def downgrade() -> None:
    """Undo this revision."""
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("headers")
