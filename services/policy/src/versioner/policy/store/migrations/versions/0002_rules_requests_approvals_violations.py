"""Deployment Rules, the policy revision, Deployment Requests, version approvals, violations.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 16:01:17.891268
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
        "deployment_requests",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.String(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_by_id", sa.Uuid(), nullable=True),
        sa.Column("created_by", sa.String(length=300), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("deployment_requests", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_deployment_requests_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_deployment_requests_status"), ["status"], unique=False)

    op.create_table(
        "deployment_rules",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("rule_type", sa.String(length=32), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("products", sa.JSON(), nullable=False),
        sa.Column("environments", sa.JSON(), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=300), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "policy_revision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "violations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("deployment_id", sa.Uuid(), nullable=True),
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("version_id", sa.Uuid(), nullable=False),
        sa.Column("environment_id", sa.Uuid(), nullable=False),
        sa.Column("rule_id", sa.Uuid(), nullable=True),
        sa.Column("rule_name", sa.String(length=255), nullable=False),
        sa.Column("rule_type", sa.String(length=32), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("message", sa.String(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=300), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("violations", schema=None) as batch_op:
        batch_op.create_index("ix_violations_at", ["at"], unique=False)
        batch_op.create_index(
            "ix_violations_pair", ["product_id", "environment_id", "at"], unique=False
        )
        batch_op.create_index("ix_violations_rule", ["rule_name", "at"], unique=False)
        batch_op.create_index("ix_violations_rule_id", ["rule_id", "id"], unique=False)

    op.create_table(
        "dr_environments",
        sa.Column("request_id", sa.Uuid(), nullable=False),
        sa.Column("environment", sa.String(length=255), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["deployment_requests.id"],
        ),
        sa.PrimaryKeyConstraint("request_id", "environment"),
    )
    op.create_table(
        "dr_items",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("request_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("product", sa.String(length=255), nullable=False),
        sa.Column("version", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["deployment_requests.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("dr_items", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_dr_items_request_id"), ["request_id"], unique=False)

    op.create_table(
        "dr_slots",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("request_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("approval_type", sa.String(length=32), nullable=False),
        sa.Column("optional", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("decided_by_id", sa.Uuid(), nullable=True),
        sa.Column("decided_by", sa.String(length=300), nullable=True),
        sa.Column("decided_role", sa.String(length=32), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("comment", sa.String(), nullable=True),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["deployment_requests.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("dr_slots", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_dr_slots_request_id"), ["request_id"], unique=False)

    op.create_table(
        "dr_steps",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("request_id", sa.Uuid(), nullable=False),
        sa.Column("phase", sa.String(length=8), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("text", sa.String(), nullable=False),
        sa.Column("completed_by_id", sa.Uuid(), nullable=True),
        sa.Column("completed_by", sa.String(length=300), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["deployment_requests.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("dr_steps", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_dr_steps_request_id"), ["request_id"], unique=False)

    op.create_table(
        "version_approvals",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("version_id", sa.Uuid(), nullable=False),
        sa.Column("approval_type", sa.String(length=32), nullable=False),
        sa.Column("environment", sa.String(length=255), nullable=True),
        sa.Column("environment_id", sa.Uuid(), nullable=True),
        sa.Column("comment", sa.String(), nullable=True),
        sa.Column("approved_by_id", sa.Uuid(), nullable=True),
        sa.Column("approved_by", sa.String(length=300), nullable=False),
        sa.Column("approver_role", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.String(length=300), nullable=True),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["versions.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("version_approvals", schema=None) as batch_op:
        batch_op.create_index(
            "ix_version_approvals_version", ["version_id", "approval_type"], unique=False
        )

    op.execute(
        "INSERT INTO policy_revision (id, revision, updated_at) VALUES (1, 0, CURRENT_TIMESTAMP)"
    )


def downgrade() -> None:
    """Undo this revision."""
    with op.batch_alter_table("version_approvals", schema=None) as batch_op:
        batch_op.drop_index("ix_version_approvals_version")

    op.drop_table("version_approvals")
    with op.batch_alter_table("dr_steps", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dr_steps_request_id"))

    op.drop_table("dr_steps")
    with op.batch_alter_table("dr_slots", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dr_slots_request_id"))

    op.drop_table("dr_slots")
    with op.batch_alter_table("dr_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dr_items_request_id"))

    op.drop_table("dr_items")
    op.drop_table("dr_environments")
    with op.batch_alter_table("violations", schema=None) as batch_op:
        batch_op.drop_index("ix_violations_rule_id")
        batch_op.drop_index("ix_violations_rule")
        batch_op.drop_index("ix_violations_pair")
        batch_op.drop_index("ix_violations_at")

    op.drop_table("violations")
    op.drop_table("policy_revision")
    op.drop_table("deployment_rules")
    with op.batch_alter_table("deployment_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deployment_requests_status"))
        batch_op.drop_index(batch_op.f("ix_deployment_requests_created_at"))

    op.drop_table("deployment_requests")
