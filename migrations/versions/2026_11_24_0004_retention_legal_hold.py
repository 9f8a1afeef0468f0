"""Retention of audit text and legal holds: the append-only trigger now lets question and answer
text (only) be removed, and a ``legal_holds`` table suspends that for a user or channel.

Revision ID: 2026_11_24_0004
Revises: 2026_11_24_0003
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "2026_11_24_0004"
down_revision = "2026_11_24_0003"
branch_labels = None
depends_on = None

# An UPDATE passes only when no column but the two encrypted texts changes, and each of those is
# either unchanged or set to NULL: text can be purged, never altered or put back. The chain hash
# covers the text's sha256, not the ciphertext, so a purged record still verifies. DELETE and
# TRUNCATE are refused as before.
_PURGE_ONLY = """
CREATE OR REPLACE FUNCTION kura_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE'
        AND (to_jsonb(OLD) - 'question_enc' - 'answer_enc') = (to_jsonb(NEW) - 'question_enc' - 'answer_enc')
        AND (NEW.question_enc IS NULL OR NEW.question_enc IS NOT DISTINCT FROM OLD.question_enc)
        AND (NEW.answer_enc IS NULL OR NEW.answer_enc IS NOT DISTINCT FROM OLD.answer_enc)
    THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit_records is append-only (% refused)', TG_OP;
END $$
"""

_APPEND_ONLY = """
CREATE OR REPLACE FUNCTION kura_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_records is append-only (% refused)', TG_OP;
END $$
"""


def upgrade() -> None:
    op.execute(_PURGE_ONLY)
    op.create_table(
        "legal_holds",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("released_at", sa.DateTime(timezone=True)),
        sa.CheckConstraint("kind IN ('user', 'channel')", name="ck_legal_holds_kind"),
    )
    op.create_index(
        "ix_legal_holds_active", "legal_holds", ["kind", "value"], postgresql_where=sa.text("released_at IS NULL")
    )


def downgrade() -> None:
    op.drop_index("ix_legal_holds_active", "legal_holds")
    op.drop_table("legal_holds")
    op.execute(_APPEND_ONLY)
