"""Where a chunk is in its document, and its keywords: ``chunks.location`` (page, slide, sheet and
rows, heading or cue time, shown in citations) and ``chunks.keywords`` (a tsvector with positions,
built in Python from Japanese character bigrams and words, for the keyword leg of hybrid search),
with a GIN index. Both are null for chunks ingested before; the next sync of a changed file fills
them (``kura sources sync`` re-reads nothing unchanged: re-ingest a source to fill them at once).

Revision ID: 2026_11_28_0012
Revises: 2026_11_28_0011
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import TSVECTOR

revision = "2026_11_28_0012"
down_revision = "2026_11_28_0011"
branch_labels = None
depends_on = None

SCHEMA = "kura_knowledge"


def upgrade() -> None:
    op.add_column("chunks", sa.Column("location", sa.Text), schema=SCHEMA)
    op.add_column("chunks", sa.Column("keywords", TSVECTOR), schema=SCHEMA)
    op.create_index("ix_chunks_keywords", "chunks", ["keywords"], postgresql_using="gin", schema=SCHEMA)


def downgrade() -> None:
    op.drop_index("ix_chunks_keywords", "chunks", schema=SCHEMA)
    op.drop_column("chunks", "keywords", schema=SCHEMA)
    op.drop_column("chunks", "location", schema=SCHEMA)
