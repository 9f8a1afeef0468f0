"""Jobs and schedules as data: ``schedules`` (kind, parameters, cron, time zone, target, owner) and
``schedule_runs`` (one row per schedule and fire time: the unique pair is how a fire time runs once
across processes).

``kura_app`` manages schedules (add, remove, and ``kura serve`` keeps the settings' retention
schedule current: SELECT, INSERT, UPDATE, DELETE) and records runs (SELECT, INSERT, UPDATE; runs go
with their schedule by ON DELETE CASCADE, which needs no DELETE grant of its own).

Revision ID: 2026_11_27_0007
Revises: 2026_11_24_0006
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "2026_11_27_0007"
down_revision = "2026_11_24_0006"
branch_labels = None
depends_on = None

ROLE = "kura_app"

_GRANTS = [
    f"GRANT SELECT, INSERT, UPDATE, DELETE ON schedules TO {ROLE}",
    f"GRANT SELECT, INSERT, UPDATE ON schedule_runs TO {ROLE}",
    f"GRANT USAGE, SELECT ON SEQUENCE schedules_id_seq, schedule_runs_id_seq TO {ROLE}",
]


def upgrade() -> None:
    op.create_table(
        "schedules",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("name", sa.Text, nullable=False, unique=True),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("params", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column("cron", sa.Text, nullable=False),
        sa.Column("timezone", sa.Text, nullable=False),
        sa.Column("target", sa.Text),
        sa.Column("owner", sa.Text),
        sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    )
    op.create_table(
        "schedule_runs",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("schedule_id", sa.BigInteger, sa.ForeignKey("schedules.id", ondelete="CASCADE"), nullable=False),
        sa.Column("fire_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="1"),
        sa.Column("started_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.Column("outcome", sa.Text),
        sa.Column("error", sa.Text),
        sa.UniqueConstraint("schedule_id", "fire_time", name="uq_schedule_runs_fire_time"),
        sa.CheckConstraint("status IN ('running', 'done', 'failed')", name="ck_schedule_runs_status"),
    )
    for statement in _GRANTS:
        op.execute(statement)


def downgrade() -> None:
    op.drop_table("schedule_runs")
    op.drop_table("schedules")
