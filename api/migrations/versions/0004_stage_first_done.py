"""job_stages.first_done_at: when a stage finished its first chunk, so the ETA takes its pace from there

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 14:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Rows from before have no first time: their jobs' ETA falls back to the share of work done.
    op.add_column("job_stages", sa.Column("first_done_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("job_stages", "first_done_at")
