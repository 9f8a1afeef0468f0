"""Initial schema: the vector extension, documents, chunks, the append-only audit log.

Revision ID: 2026_11_23_0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import pgvector.sqlalchemy
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "2026_11_23_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS vector")
    op.create_table(
        "documents",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("root", sa.Text, nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("content_hash", sa.Text, nullable=False),
        sa.Column("acl", postgresql.ARRAY(sa.Text), nullable=False),
        sa.Column("classification", sa.SmallInteger, nullable=False),
        sa.Column("owner", sa.Text),
        sa.Column("embedding_model", sa.Text, nullable=False),
        sa.Column("chunk_count", sa.Integer, nullable=False),
        sa.Column("ingested_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    )
    op.create_index("uq_documents_root_path", "documents", ["root", "path"], unique=True)
    op.create_table(
        "chunks",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("document_id", sa.BigInteger, sa.ForeignKey("documents.id", ondelete="CASCADE"), nullable=False),
        sa.Column("ordinal", sa.Integer, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("acl", postgresql.ARRAY(sa.Text), nullable=False),
        sa.Column("classification", sa.SmallInteger, nullable=False),
        sa.Column("token_count", sa.Integer, nullable=False),
        sa.Column("embedding_model", sa.Text, nullable=False),
        sa.Column("embedding_dim", sa.Integer, nullable=False),
        sa.Column("embedding", pgvector.sqlalchemy.Vector(), nullable=False),
        sa.CheckConstraint("vector_dims(embedding) = embedding_dim", name="ck_chunks_embedding_dim"),
    )
    op.create_index("ix_chunks_acl", "chunks", ["acl"], postgresql_using="gin")
    op.create_index("ix_chunks_document_id", "chunks", ["document_id"])
    op.create_table(
        "audit_records",
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("id", sa.Text, nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("platform", sa.Text, nullable=False),
        sa.Column("channel_id", sa.Text),
        sa.Column("thread_id", sa.Text),
        sa.Column("user_ref", sa.Text, nullable=False),
        sa.Column("user_email", sa.Text),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("allowed", sa.Boolean, nullable=False),
        sa.Column("reason_code", sa.Text, nullable=False),
        sa.Column("rules", postgresql.JSONB, nullable=False),
        sa.Column("retrieved", postgresql.JSONB, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("model", sa.Text),
        sa.Column("prompt_version", sa.Text),
        sa.Column("policy_version", sa.Text),
        sa.Column("latency_ms", sa.Integer, nullable=False),
        sa.Column("first_token_ms", sa.Integer),
        sa.Column("key_id", sa.Text),
        sa.Column("question_enc", sa.LargeBinary),
        sa.Column("answer_enc", sa.LargeBinary),
        sa.Column("question_sha256", sa.Text, nullable=False),
        sa.Column("answer_sha256", sa.Text, nullable=False),
        sa.Column("prev_hash", sa.Text, nullable=False),
        sa.Column("hash", sa.Text, nullable=False, unique=True),
    )
    op.create_index("ix_audit_records_created_at", "audit_records", ["created_at"])
    # Append-only: the application never updates or deletes audit rows, and neither may anyone
    # else through it. (Issue 4 adds a role without UPDATE/DELETE grants and text purging.)
    op.execute(
        """
        CREATE FUNCTION kura_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'audit_records is append-only (% refused)', TG_OP;
        END $$
        """
    )
    op.execute(
        "CREATE TRIGGER audit_records_append_only BEFORE UPDATE OR DELETE ON audit_records "
        "FOR EACH ROW EXECUTE FUNCTION kura_audit_append_only()"
    )
    op.execute(
        "CREATE TRIGGER audit_records_no_truncate BEFORE TRUNCATE ON audit_records "
        "FOR EACH STATEMENT EXECUTE FUNCTION kura_audit_append_only()"
    )


def downgrade() -> None:
    op.execute("DROP TABLE audit_records")
    op.execute("DROP FUNCTION kura_audit_append_only()")
    op.drop_table("chunks")
    op.drop_table("documents")
