"""Knowledge: sources, parsing, chunking, the pgvector store, retrieval and ingest.

Imports ``llm`` (embeddings) and nothing else of Kura's. Names are imported from their modules on
first use, so ``import knowledge.access`` does not load numpy or the text splitters.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from knowledge.access import LEVELS, AccessInfo
    from knowledge.ingest import Ingestor, IngestReport
    from knowledge.retrieval import PgVectorRetriever, RetrievedChunk, Retriever
    from knowledge.store import KnowledgeStore

__all__ = [
    "LEVELS",
    "AccessInfo",
    "IngestReport",
    "Ingestor",
    "KnowledgeStore",
    "PgVectorRetriever",
    "RetrievedChunk",
    "Retriever",
]

_HOMES = {
    "LEVELS": "knowledge.access",
    "AccessInfo": "knowledge.access",
    "IngestReport": "knowledge.ingest",
    "Ingestor": "knowledge.ingest",
    "PgVectorRetriever": "knowledge.retrieval",
    "RetrievedChunk": "knowledge.retrieval",
    "Retriever": "knowledge.retrieval",
    "KnowledgeStore": "knowledge.store",
}


def __getattr__(name: str) -> Any:
    """Import an exported name from its module on first use."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'knowledge' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value
