"""Conversation references and reply messages for chat platforms (Teams first):
``chat_conversations`` (where a conversation is reached: the service URL, tenant, kind, team) so jobs
can post proactively, and ``chat_replies`` (which posted message carries which answer's audit id) so
feedback that names only a message is stored against the right record.

``kura_app`` saves and refreshes references (SELECT, INSERT, UPDATE) and records replies (SELECT,
INSERT: which answer a message carries is never rewritten or dropped by Kura's role). Neither table
holds message text or personal data beyond platform ids.

Revision ID: 2026_11_28_0010
Revises: 2026_11_27_0009
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "2026_11_28_0010"
down_revision = "2026_11_27_0009"
branch_labels = None
depends_on = None

ROLE = "kura_app"

_GRANTS = [
    f"GRANT SELECT, INSERT, UPDATE ON chat_conversations TO {ROLE}",
    f"GRANT SELECT, INSERT ON chat_replies TO {ROLE}",
]


def upgrade() -> None:
    op.create_table(
        "chat_conversations",
        sa.Column("platform", sa.Text, primary_key=True),
        sa.Column("conversation_id", sa.Text, primary_key=True),
        sa.Column("service_url", sa.Text, nullable=False),
        sa.Column("tenant_id", sa.Text),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("team_id", sa.Text),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    )
    op.create_table(
        "chat_replies",
        sa.Column("platform", sa.Text, primary_key=True),
        sa.Column("conversation_id", sa.Text, primary_key=True),
        sa.Column("message_id", sa.Text, primary_key=True),
        sa.Column("audit_id", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    )
    for statement in _GRANTS:
        op.execute(statement)


def downgrade() -> None:
    op.drop_table("chat_replies")
    op.drop_table("chat_conversations")
