"""Knowledge: sources, parsing, chunking, the pgvector store, retrieval and ingest.

Imports ``llm`` (embeddings) and nothing else of Kura's.
"""

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
