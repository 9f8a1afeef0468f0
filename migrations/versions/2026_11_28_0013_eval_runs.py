"""Evaluation runs (``kura eval``): one row per configuration of a run, with its totals, so the
report shows the trend of earlier runs and ``kura models list`` shows each model's measured quality.

No question or answer text is stored here: the cases are in the set file, the answers in the run's
report and (encrypted, under retention) in the audit log. ``kura_app`` records runs and reads them
(SELECT, INSERT); it never rewrites one.

Revision ID: 2026_11_28_0013
Revises: 2026_11_28_0012
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "2026_11_28_0013"
down_revision = "2026_11_28_0012"
branch_labels = None
depends_on = None

ROLE = "kura_app"


def upgrade() -> None:
    op.create_table(
        "eval_runs",
        sa.Column("run_id", sa.Text, primary_key=True),
        sa.Column("config", sa.Text, primary_key=True),
        sa.Column("set_name", sa.Text, nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seconds", sa.Float, nullable=False),
        sa.Column("model", sa.Text, nullable=False),
        sa.Column("settings", JSONB, nullable=False),
        sa.Column("metrics", JSONB, nullable=False),
        sa.Column("cases", sa.Integer, nullable=False),
        sa.Column("passed", sa.Boolean, nullable=False),
        sa.Column("started_by", sa.Text),
    )
    op.create_index("ix_eval_runs_set_started", "eval_runs", ["set_name", "started_at"])
    op.execute(f"GRANT SELECT, INSERT ON eval_runs TO {ROLE}")


def downgrade() -> None:
    op.drop_table("eval_runs")
