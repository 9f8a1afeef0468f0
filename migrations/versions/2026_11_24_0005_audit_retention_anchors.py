"""Audit metadata retention: ``audit_anchors`` holds signed retention anchors, and the append-only
trigger lets audit records be deleted only up to the newest anchor.

An anchor says "records 1..N were removed for retention; record N had hash H", HMAC-signed with the
checkpoint key (which never enters the database). ``kura audit verify`` checks the signature and
starts the chain from the anchor instead of from the genesis hash: removing records without a valid
anchor, or past it, is detected. Anchors themselves are append-only.

Revision ID: 2026_11_24_0005
Revises: 2026_11_24_0004
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "2026_11_24_0005"
down_revision = "2026_11_24_0004"
branch_labels = None
depends_on = None

# UPDATE: only NULLing the encrypted text (as in 0004). DELETE: only records at or before the newest
# retention anchor. TRUNCATE (a statement trigger: no OLD row): never.
_WITH_ANCHORS = """
CREATE OR REPLACE FUNCTION kura_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF (to_jsonb(OLD) - 'question_enc' - 'answer_enc') = (to_jsonb(NEW) - 'question_enc' - 'answer_enc')
            AND (NEW.question_enc IS NULL OR NEW.question_enc IS NOT DISTINCT FROM OLD.question_enc)
            AND (NEW.answer_enc IS NULL OR NEW.answer_enc IS NOT DISTINCT FROM OLD.answer_enc)
        THEN
            RETURN NEW;
        END IF;
    ELSIF TG_OP = 'DELETE' THEN
        IF OLD.seq <= (SELECT coalesce(max(through_seq), 0) FROM audit_anchors) THEN
            RETURN OLD;
        END IF;
    END IF;
    RAISE EXCEPTION 'audit_records is append-only (% refused)', TG_OP;
END $$
"""

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

_ANCHORS_FROZEN = """
CREATE FUNCTION kura_audit_anchors_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_anchors is append-only (% refused)', TG_OP;
END $$
"""


def upgrade() -> None:
    op.create_table(
        "audit_anchors",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("through_seq", sa.BigInteger, nullable=False, unique=True),
        sa.Column("through_hash", sa.Text, nullable=False),
        sa.Column("cutoff", sa.Text, nullable=False),
        sa.Column("pruned", sa.BigInteger, nullable=False),
        sa.Column("at", sa.Text, nullable=False),
        sa.Column("signature", sa.Text, nullable=False),
        sa.Column("key_id", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    )
    op.execute(_ANCHORS_FROZEN)
    op.execute(
        "CREATE TRIGGER audit_anchors_append_only BEFORE UPDATE OR DELETE ON audit_anchors "
        "FOR EACH ROW EXECUTE FUNCTION kura_audit_anchors_frozen()"
    )
    op.execute(
        "CREATE TRIGGER audit_anchors_no_truncate BEFORE TRUNCATE ON audit_anchors "
        "FOR EACH STATEMENT EXECUTE FUNCTION kura_audit_anchors_frozen()"
    )
    op.execute(_WITH_ANCHORS)


def downgrade() -> None:
    op.execute(_PURGE_ONLY)
    op.drop_table("audit_anchors")
    op.execute("DROP FUNCTION kura_audit_anchors_frozen()")
