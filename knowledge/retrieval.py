"""The retrieval port and its pgvector implementation."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, Protocol

from knowledge.keywords import query_terms
from knowledge.store import KnowledgeStore, SearchHit
from llm.embeddings import Embedder

__all__ = ["PgVectorRetriever", "RetrievalMode", "RetrievedChunk", "Retriever"]


#: A chunk a search returned, with its access list and classification (for the audit record).
RetrievedChunk = SearchHit


class Retriever(Protocol):
    """Finds the chunks nearest a question that a scope may read."""

    async def retrieve(
        self, query: str, principal_sets: Sequence[frozenset[str]], clearance: int, k: int
    ) -> list[RetrievedChunk]:
        """Search.

        Args:
            query: the question as the user wrote it.
            principal_sets: one set per reader of the reply; a chunk must match each.
            clearance: the highest classification rank every reader holds.
            k: how many chunks at most.

        Returns:
            Chunks, most similar first.
        """
        ...


#: ``hybrid``: vector and keyword legs fused by reciprocal rank fusion (the default); ``vector``:
#: the HNSW search alone; ``keyword``: the keyword leg alone (``KURA_RETRIEVAL_MODE``).
RetrievalMode = Literal["hybrid", "vector", "keyword"]


class PgVectorRetriever:
    """Embeds the query and runs the store's single filtered search: hybrid, vector-only or keyword-only."""

    def __init__(
        self,
        store: KnowledgeStore,
        embedder: Embedder,
        *,
        ef_search: int,
        max_scan_tuples: int,
        mode: RetrievalMode = "hybrid",
    ) -> None:
        self._store = store
        self._embedder = embedder
        self._ef_search = ef_search
        self._max_scan_tuples = max_scan_tuples
        self.mode: RetrievalMode = mode

    async def retrieve(
        self, query: str, principal_sets: Sequence[frozenset[str]], clearance: int, k: int
    ) -> list[RetrievedChunk]:
        """See :class:`Retriever`."""
        vector = await self._embedder.embed_query(query)
        if self.mode == "vector":
            return await self._store.search(
                vector, principal_sets, clearance, k, ef_search=self._ef_search, max_scan_tuples=self._max_scan_tuples
            )
        return await self._store.hybrid_search(
            vector,
            query_terms(query),
            principal_sets,
            clearance,
            k,
            legs=(self.mode == "hybrid", True),
            ef_search=self._ef_search,
            max_scan_tuples=self._max_scan_tuples,
        )
