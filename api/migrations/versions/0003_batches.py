"""batches: jobs started together (several files in one upload, several sources) share a batch id

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 01:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("jobs", sa.Column("batch_id", sa.String(length=64), nullable=True))
    op.create_index("ix_jobs_owner_batch_id", "jobs", ["owner", "batch_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_jobs_owner_batch_id", table_name="jobs")
    op.drop_column("jobs", "batch_id")
