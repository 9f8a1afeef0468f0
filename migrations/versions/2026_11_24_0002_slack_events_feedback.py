"""Chat delivery ledger (event ids already handled) and feedback on answers.

Revision ID: 2026_11_24_0002
Revises: 2026_11_23_0001
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "2026_11_24_0002"
down_revision = "2026_11_23_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "handled_events",
        sa.Column("platform", sa.Text, primary_key=True),
        sa.Column("event_id", sa.Text, primary_key=True),
        sa.Column("received_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    )
    op.create_index("ix_handled_events_received_at", "handled_events", ["received_at"])
    op.create_table(
        "feedback",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("audit_id", sa.Text, sa.ForeignKey("audit_records.id"), nullable=False),
        sa.Column("user_ref", sa.Text, nullable=False),
        sa.Column("value", sa.SmallInteger, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("value IN (-1, 1)", name="ck_feedback_value"),
    )
    op.create_index("ix_feedback_audit_id", "feedback", ["audit_id"])


def downgrade() -> None:
    op.drop_table("feedback")
    op.drop_table("handled_events")
