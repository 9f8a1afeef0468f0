"""Tables of the knowledge store: documents and their chunks, in their own schema.

They live in ``kura_knowledge`` (migration 0008), not ``public``: Kura's runtime role owns them and
creates a vector index per embedding model at run time, so it needs CREATE where they are, and a
schema it can create in must never be on the search path of the audit tables' owner.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pgvector.sqlalchemy import Vector
from sqlalchemy import BigInteger, DateTime, ForeignKey, Index, Integer, MetaData, SmallInteger, Text, func
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TSVECTOR
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = ["SCHEMA", "Chunk", "Document", "FaqAsked", "FaqEntry", "FaqSource", "KnowledgeBase", "Source"]

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
        Index("ix_chunks_keywords", "keywords", postgresql_using="gin"),
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
    #: Where in the document (``p. 3``, ``slide 4``, ``Sheet1 rows 2-40``, a heading, ``00:12:30``);
    #: None for formats without places, and for chunks ingested before migration 0012.
    location: Mapped[str | None] = mapped_column(Text)
    #: The chunk's keywords with positions (Japanese bigrams, words), for the keyword search leg.
    keywords: Mapped[str | None] = mapped_column(TSVECTOR)


class Source(KnowledgeBase):
    """A registered folder of documents (``kura sources add``): what ``kura sources sync``, ``/kura
    sync``, scheduled syncs and ``kura faq refresh`` bring up to date. ``allow``/``classification``
    are the access of files with no metadata of their own (None: such files are refused)."""

    __tablename__ = "sources"

    name: Mapped[str] = mapped_column(Text, primary_key=True)
    path: Mapped[str] = mapped_column(Text, unique=True)
    allow: Mapped[list[str] | None] = mapped_column(ARRAY(Text))
    classification: Mapped[int | None] = mapped_column(SmallInteger)
    added_by: Mapped[str | None] = mapped_column(Text)
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    synced_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: The last sync's counts per outcome and seconds (``IngestReport.counts()`` and ``seconds``).
    last_report: Mapped[dict[str, Any] | None] = mapped_column(JSONB)


class FaqEntry(KnowledgeBase):
    """A frequent question with an answer an owner checked (or a draft waiting for them).

    ``status``: ``draft`` (waiting for review), ``approved`` (served), ``stale`` (was approved; a cited
    document changed, moved or lost readers, or it is past the policy's verification interval: back to
    review, not served), ``rejected`` (never served, not drafted again). ``embedding`` is the
    question's query vector and ``centroid`` the mean of the asked paraphrases' vectors (no text of
    what people asked is kept here); a new question is answered from the entry when either is close
    enough. Who asked is never stored: ``asked`` counts distinct people.
    """

    __tablename__ = "faq_entries"
    __table_args__ = (Index("ix_faq_entries_status", "status"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text)
    stale_reason: Mapped[str | None] = mapped_column(Text)
    #: ``mined`` (drafted by ``kura faq refresh``) or ``manual`` (``kura faq add``).
    origin: Mapped[str] = mapped_column(Text)
    #: The reviewer asked (the cited documents' owner, else an admin); an email.
    owner: Mapped[str | None] = mapped_column(Text)
    asked: Mapped[int] = mapped_column(Integer, server_default="0")
    embedding_model: Mapped[str] = mapped_column(Text)
    embedding: Mapped[list[float]] = mapped_column(Vector())
    centroid: Mapped[list[float] | None] = mapped_column(Vector())
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    verified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    verified_by: Mapped[str | None] = mapped_column(Text)
    #: When reviewers were last asked about it (refresh asks again only after a change).
    notified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class FaqSource(KnowledgeBase):
    """A document an entry cites, as it was when the entry was drafted or last approved: a change
    of its content, place or readers is found by comparing with the document now."""

    __tablename__ = "faq_sources"
    __table_args__ = (Index("ix_faq_sources_document_id", "document_id"),)

    faq_id: Mapped[int] = mapped_column(ForeignKey(f"{SCHEMA}.faq_entries.id", ondelete="CASCADE"), primary_key=True)
    ordinal: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: None once the document is gone (the entry is then stale and never served).
    document_id: Mapped[int | None] = mapped_column(ForeignKey(f"{SCHEMA}.documents.id", ondelete="SET NULL"))
    root: Mapped[str] = mapped_column(Text)
    path: Mapped[str] = mapped_column(Text)
    title: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(Text)
    acl: Mapped[list[str]] = mapped_column(ARRAY(Text))
    classification: Mapped[int] = mapped_column(SmallInteger)


class FaqAsked(KnowledgeBase):
    """The query vector of an asked question (by audit record id), so mining embeds each question
    once. No text; rows whose question text left the audit log (retention) are deleted by the next
    mining run."""

    __tablename__ = "faq_asked"

    audit_id: Mapped[str] = mapped_column(Text, primary_key=True)
    embedding_model: Mapped[str] = mapped_column(Text, primary_key=True)
    embedding: Mapped[list[float]] = mapped_column(Vector())
