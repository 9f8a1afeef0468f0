"""The values the knowledge store reads and writes: documents and chunks to write, what is stored
about a file, search hits, sources and sizes. Plain data, no SQL (that is ``knowledge.store``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

__all__ = ["ChunkRow", "DocumentRow", "DocumentState", "SearchHit", "SourceRow", "StoreStats"]


@dataclass(frozen=True)
class DocumentState:
    """What the store holds about a file, to decide whether it changed."""

    id: int
    content_hash: str
    acl: tuple[str, ...]
    classification: int
    owner: str | None
    embedding_model: str


@dataclass(frozen=True)
class DocumentRow:
    """A document to write."""

    root: str
    path: str
    title: str
    content_hash: str
    acl: tuple[str, ...]
    classification: int
    owner: str | None
    embedding_model: str


@dataclass(frozen=True)
class ChunkRow:
    """A chunk to write: ``location`` says where it is in its document (shown in citations),
    ``keywords`` is its tsvector literal for the keyword search leg (``knowledge.keywords``)."""

    ordinal: int
    text: str
    token_count: int
    location: str | None = None
    keywords: str | None = None


@dataclass(frozen=True)
class SearchHit:
    """One row of a search."""

    chunk_id: int
    document_id: int
    source: str
    title: str
    text: str
    acl: tuple[str, ...]
    classification: int
    distance: float
    #: Where the chunk is in its document (page, slide, sheet and rows, heading, cue time), if known.
    location: str | None = None
    #: Hybrid search only: the reciprocal rank fusion score, each leg's 1-based rank (None when
    #: that leg did not return the chunk), the keyword leg's ``ts_rank_cd`` and the share of the
    #: question's keywords the chunk holds (0..1): the signals an abstention floor can use.
    fused: float | None = None
    vector_rank: int | None = None
    keyword_rank: int | None = None
    keyword_score: float | None = None
    keyword_coverage: float | None = None

    @property
    def score(self) -> float:
        """Cosine similarity (1 - distance)."""
        return 1.0 - self.distance


@dataclass(frozen=True)
class SourceRow:
    """An ingest root and what it holds."""

    root: str
    documents: int
    chunks: int
    last_ingested: datetime | None


@dataclass(frozen=True)
class StoreStats:
    """Sizes, for status and benchmarks."""

    documents: int
    chunks: int
