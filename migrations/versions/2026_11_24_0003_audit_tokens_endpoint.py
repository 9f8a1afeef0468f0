"""Audit records carry token counts (per-day limits) and the model endpoint used (routing).

Revision ID: 2026_11_24_0003
Revises: 2026_11_24_0002
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "2026_11_24_0003"
down_revision = "2026_11_24_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("audit_records", sa.Column("tokens", sa.Integer))
    op.add_column("audit_records", sa.Column("endpoint", sa.Text))
    op.create_index("ix_audit_records_user_email_created_at", "audit_records", ["user_email", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_audit_records_user_email_created_at", "audit_records")
    op.drop_column("audit_records", "endpoint")
    op.drop_column("audit_records", "tokens")
