"""Incidents; versions keep where their lead time starts; deployments when they ended.

Existing rows are filled: a finished deployment ended when its events said it completed,
else when it was received; a version's earliest commit time is read from its builds'
metadata, its earliest build start and first build event from its builds.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 15:54:18.842910
"""

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op

from versioner.common.insights import commit_time

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_VERSION_TIMES = ("committed_at", "build_started_at", "first_built_at", "first_completed_at")


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "incidents",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("incident_id", sa.String(length=255), nullable=False),
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("environment_id", sa.Uuid(), nullable=False),
        sa.Column("deployment_id", sa.Uuid(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(), nullable=True),
        sa.Column("url", sa.String(), nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.String(length=300), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["environment_id"],
            ["environments.id"],
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("incident_id"),
    )
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.create_index("ix_incidents_deployment", ["deployment_id"], unique=False)
        batch_op.create_index(
            "ix_incidents_env_opened", ["environment_id", "opened_at"], unique=False
        )

    with op.batch_alter_table("versions", schema=None) as batch_op:
        for name in _VERSION_TIMES:
            batch_op.add_column(sa.Column(name, sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table("deployments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(
            "ix_deployments_env_ended", ["environment_id", "ended_at"], unique=False
        )
        batch_op.drop_index("ix_deployments_version_env")
        batch_op.create_index(
            "ix_deployments_version_env",
            ["version_id", "environment_id", "status", "ended_at"],
            unique=False,
        )
    _fill()


def _fill() -> None:
    bind = op.get_bind()
    deployments = sa.table(
        "deployments",
        sa.column("version_id", sa.Uuid()),
        sa.column("status", sa.String()),
        sa.column("ended_at", sa.DateTime(timezone=True)),
        sa.column("completed_at", sa.DateTime(timezone=True)),
        sa.column("finished_at", sa.DateTime(timezone=True)),
    )
    bind.execute(
        deployments.update()
        .where(deployments.c.finished_at.is_not(None))
        .values(ended_at=sa.func.coalesce(deployments.c.completed_at, deployments.c.finished_at))
    )
    builds = sa.table(
        "builds",
        sa.column("version_id", sa.Uuid()),
        sa.column("extra_metadata", sa.JSON()),
        sa.column("started_at", sa.DateTime(timezone=True)),
        sa.column("created_at", sa.DateTime(timezone=True)),
    )
    versions = sa.table(
        "versions",
        sa.column("id", sa.Uuid()),
        *(sa.column(n, sa.DateTime(timezone=True)) for n in _VERSION_TIMES),
    )
    of_version = builds.c.version_id == versions.c.id
    bind.execute(
        versions.update().values(
            build_started_at=sa.select(sa.func.min(builds.c.started_at))
            .where(of_version)
            .scalar_subquery(),
            first_built_at=sa.select(sa.func.min(builds.c.created_at))
            .where(of_version)
            .scalar_subquery(),
            first_completed_at=sa.select(sa.func.min(deployments.c.ended_at))
            .where(deployments.c.version_id == versions.c.id, deployments.c.status == "completed")
            .scalar_subquery(),
        )
    )
    committed: dict[object, datetime] = {}
    for version_id, metadata in bind.execute(
        sa.select(builds.c.version_id, builds.c.extra_metadata)
    ):
        at = commit_time(metadata or {})
        if at is not None and (version_id not in committed or at < committed[version_id]):
            committed[version_id] = at
    for version_id, at in committed.items():
        stored = at.replace(tzinfo=None) if bind.dialect.name == "sqlite" else at
        bind.execute(
            versions.update().where(versions.c.id == version_id).values(committed_at=stored)
        )


def downgrade() -> None:
    """Undo this revision."""
    with op.batch_alter_table("deployments", schema=None) as batch_op:
        batch_op.drop_index("ix_deployments_version_env")
        batch_op.create_index(
            "ix_deployments_version_env", ["version_id", "environment_id", "status"], unique=False
        )
        batch_op.drop_index("ix_deployments_env_ended")
        batch_op.drop_column("ended_at")

    with op.batch_alter_table("versions", schema=None) as batch_op:
        for name in _VERSION_TIMES:
            batch_op.drop_column(name)

    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.drop_index("ix_incidents_env_opened")
        batch_op.drop_index("ix_incidents_deployment")

    op.drop_table("incidents")
