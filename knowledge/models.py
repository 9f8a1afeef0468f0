"""Tables of the knowledge store: documents and their chunks, in their own schema.

They live in ``kura_knowledge`` (migration 0008), not ``public``: Kura's runtime role owns them and
creates a vector index per embedding model at run time, so it needs CREATE where they are, and a
schema it can create in must never be on the search path of the audit tables' owner.
"""

from __future__ import annotations

from datetime import datetime

from pgvector.sqlalchemy import Vector
from sqlalchemy import BigInteger, DateTime, ForeignKey, Index, Integer, MetaData, SmallInteger, Text, func
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = ["SCHEMA", "Chunk", "Document", "KnowledgeBase"]

#: The schema of the knowledge tables: SQL names them qualified, never through the search path.
SCHEMA = "kura_knowledge"


class KnowledgeBase(DeclarativeBase):
    """Declarative base of the knowledge tables (all in :data:`SCHEMA`)."""

    metadata = MetaData(schema=SCHEMA)


class Document(KnowledgeBase):
    """One source file, as last ingested."""

    __tablename__ = "documents"
    __table_args__ = (Index("uq_documents_root_path", "root", "path", unique=True),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    root: Mapped[str] = mapped_column(Text)
    path: Mapped[str] = mapped_column(Text)
    title: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(Text)
    acl: Mapped[list[str]] = mapped_column(ARRAY(Text))
    classification: Mapped[int] = mapped_column(SmallInteger)
    owner: Mapped[str | None] = mapped_column(Text)
    embedding_model: Mapped[str] = mapped_column(Text)
    chunk_count: Mapped[int] = mapped_column(Integer)
    ingested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Chunk(KnowledgeBase):
    """A piece of a document with its own copy of the access list, so one table answers a search.

    ``embedding`` has no fixed dimension: each row records its model and dimension, and each model
    gets its own partial HNSW index (see :meth:`knowledge.store.KnowledgeStore.ensure_vector_index`).
    """

    __tablename__ = "chunks"
    __table_args__ = (
        Index("ix_chunks_acl", "acl", postgresql_using="gin"),
        Index("ix_chunks_document_id", "document_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey(f"{SCHEMA}.documents.id", ondelete="CASCADE"))
    ordinal: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(Text)
    title: Mapped[str] = mapped_column(Text)
    acl: Mapped[list[str]] = mapped_column(ARRAY(Text))
    classification: Mapped[int] = mapped_column(SmallInteger)
    token_count: Mapped[int] = mapped_column(Integer)
    embedding_model: Mapped[str] = mapped_column(Text)
    embedding_dim: Mapped[int] = mapped_column(Integer)
    embedding: Mapped[list[float]] = mapped_column(Vector())
