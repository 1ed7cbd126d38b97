"""Deployment buttons, the environments they show in, their firings.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 17:43:19.518240
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "button_firings",
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("button_id", sa.Uuid(), nullable=False),
        sa.Column("product", sa.String(length=255), nullable=False),
        sa.Column("version", sa.String(length=255), nullable=False),
        sa.Column("environment", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.String(length=2000), nullable=True),
        sa.Column("fired_by", sa.String(length=300), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("seq"),
        sa.UniqueConstraint("id"),
    )
    with op.batch_alter_table("button_firings", schema=None) as batch_op:
        batch_op.create_index("ix_firings_button_seq", ["button_id", "seq"], unique=False)

    op.create_table(
        "deployment_buttons",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("product", sa.String(length=255), nullable=False),
        sa.Column("label", sa.String(length=75), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("url_template", sa.String(length=2048), nullable=False),
        sa.Column("method", sa.String(length=8), nullable=False),
        sa.Column("body_template", sa.String(), nullable=True),
        sa.Column("secret_hint", sa.String(length=16), nullable=True),
        sa.Column("sealed", sa.String(), nullable=False),
        sa.Column("created_by", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("deployment_buttons", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_deployment_buttons_product_id"), ["product_id"], unique=False
        )

    op.create_table(
        "deployment_button_environments",
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("environment", sa.String(length=255), nullable=False),
        sa.Column("button_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["button_id"], ["deployment_buttons.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("product_id", "environment"),
    )
    with op.batch_alter_table("deployment_button_environments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_deployment_button_environments_button_id"), ["button_id"], unique=False
        )


def downgrade() -> None:
    """Undo this revision."""
    with op.batch_alter_table("deployment_button_environments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deployment_button_environments_button_id"))

    op.drop_table("deployment_button_environments")
    with op.batch_alter_table("deployment_buttons", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deployment_buttons_product_id"))

    op.drop_table("deployment_buttons")
    with op.batch_alter_table("button_firings", schema=None) as batch_op:
        batch_op.drop_index("ix_firings_button_seq")

    op.drop_table("button_firings")
