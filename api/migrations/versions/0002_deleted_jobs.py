"""deleted jobs: tombstones that keep late events of a deleted job out of the read model

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 22:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "deleted_jobs",
        sa.Column("job_id", sa.String(length=64), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("job_id", name=op.f("pk_deleted_jobs")),
    )
    op.create_index(op.f("ix_deleted_jobs_deleted_at"), "deleted_jobs", ["deleted_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_deleted_jobs_deleted_at"), table_name="deleted_jobs")
    op.drop_table("deleted_jobs")
