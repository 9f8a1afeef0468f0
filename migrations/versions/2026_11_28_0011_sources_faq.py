"""Sources as data and the FAQ: ``kura_knowledge.sources`` (the registered folders every sync path
uses), ``faq_entries`` with the documents each cites as they were when checked (``faq_sources``), and
``faq_asked`` (the query vector of an asked question, by audit record id: mining embeds each once).

The tables are ``kura_app``'s, like the knowledge tables beside them: Kura drafts, reviews and serves
entries and keeps the registry. No table holds who asked: entries count distinct askers, and
``faq_asked`` holds vectors only, pruned with the audit text they came from.

The registry starts with every folder already ingested (its documents' root), named after the folder.

Revision ID: 2026_11_28_0011
Revises: 2026_11_28_0010
Create Date: 2026-11-28
"""

from __future__ import annotations

import re
from pathlib import PurePath

import pgvector.sqlalchemy
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

revision = "2026_11_28_0011"
down_revision = "2026_11_28_0010"
branch_labels = None
depends_on = None

ROLE = "kura_app"
SCHEMA = "kura_knowledge"
_TABLES = ("sources", "faq_entries", "faq_sources", "faq_asked")


def _name_for(root: str, taken: set[str]) -> str:
    base = re.sub(r"[^A-Za-z0-9._-]+", "-", PurePath(root).name).strip("-.") or "source"
    name, n = base, 2
    while name in taken:
        name, n = f"{base}-{n}", n + 1
    taken.add(name)
    return name


def upgrade() -> None:
    op.create_table(
        "sources",
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("path", sa.Text, nullable=False, unique=True),
        sa.Column("allow", ARRAY(sa.Text)),
        sa.Column("classification", sa.SmallInteger),
        sa.Column("added_by", sa.Text),
        sa.Column("added_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("synced_at", sa.DateTime(timezone=True)),
        sa.Column("last_report", JSONB),
        schema=SCHEMA,
    )
    op.create_table(
        "faq_entries",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("question", sa.Text, nullable=False),
        sa.Column("answer", sa.Text, nullable=False),
        sa.Column("language", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("stale_reason", sa.Text),
        sa.Column("origin", sa.Text, nullable=False),
        sa.Column("owner", sa.Text),
        sa.Column("asked", sa.Integer, server_default="0", nullable=False),
        sa.Column("embedding_model", sa.Text, nullable=False),
        sa.Column("embedding", pgvector.sqlalchemy.Vector(), nullable=False),
        sa.Column("centroid", pgvector.sqlalchemy.Vector()),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("verified_at", sa.DateTime(timezone=True)),
        sa.Column("verified_by", sa.Text),
        sa.Column("notified_at", sa.DateTime(timezone=True)),
        sa.CheckConstraint("status IN ('draft', 'approved', 'stale', 'rejected')", name="ck_faq_entries_status"),
        schema=SCHEMA,
    )
    op.create_index("ix_faq_entries_status", "faq_entries", ["status"], schema=SCHEMA)
    op.create_table(
        "faq_sources",
        sa.Column(
            "faq_id", sa.BigInteger, sa.ForeignKey(f"{SCHEMA}.faq_entries.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("ordinal", sa.Integer, primary_key=True),
        sa.Column("document_id", sa.BigInteger, sa.ForeignKey(f"{SCHEMA}.documents.id", ondelete="SET NULL")),
        sa.Column("root", sa.Text, nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("content_hash", sa.Text, nullable=False),
        sa.Column("acl", ARRAY(sa.Text), nullable=False),
        sa.Column("classification", sa.SmallInteger, nullable=False),
        schema=SCHEMA,
    )
    op.create_index("ix_faq_sources_document_id", "faq_sources", ["document_id"], schema=SCHEMA)
    op.create_table(
        "faq_asked",
        sa.Column("audit_id", sa.Text, primary_key=True),
        sa.Column("embedding_model", sa.Text, primary_key=True),
        sa.Column("embedding", pgvector.sqlalchemy.Vector(), nullable=False),
        schema=SCHEMA,
    )
    for table in _TABLES:
        op.execute(f"ALTER TABLE {SCHEMA}.{table} OWNER TO {ROLE}")
    bind = op.get_bind()
    roots = [r[0] for r in bind.execute(sa.text(f"SELECT DISTINCT root FROM {SCHEMA}.documents ORDER BY 1"))]
    taken: set[str] = set()
    for root in roots:
        bind.execute(
            sa.text(f"INSERT INTO {SCHEMA}.sources (name, path) VALUES (:name, :path)"),
            {"name": _name_for(root, taken), "path": root},
        )


def downgrade() -> None:
    for table in reversed(_TABLES):
        op.drop_table(table, schema=SCHEMA)
