"""The unchanged re-sync part of ``ingest_throughput.py``: many small synthetic documents, ingested
once with a fast stand-in embedder, then synced again with nothing changed.

The first ingest uses :class:`HashEmbedder` (vectors from a hash of the text, no model), because the
real e5 model would take hours for 10,000 documents on this machine, and what is measured is the
second run, which embeds nothing: the real ``Ingestor`` walking the folder, hashing every file,
resolving access and comparing with the embedded PostgreSQL.

Not a test helper and not part of the package: ``ingest_throughput.py`` imports it as a sibling.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from bot.db import Database
from knowledge.ingest import Ingestor
from knowledge.store import KnowledgeStore

__all__ = ["HashEmbedder", "ResyncResult", "build_synthetic", "measure_resync"]

Vector = npt.NDArray[np.float32]
#: Documents per folder; every folder has its own ``.kura-access.yaml``.
_PER_FOLDER = 100


class HashEmbedder:
    """An ``llm.embeddings.Embedder`` with no model: each text's vector is seeded by its sha256."""

    name = "bench-hash-384"
    dim = 384

    def _one(self, text: str) -> Vector:
        seed = int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "little")
        v = np.random.default_rng(seed).standard_normal(self.dim).astype(np.float32)
        normalised: Vector = v / np.float32(np.linalg.norm(v))
        return normalised

    async def embed_passages(self, texts: Sequence[str]) -> Vector:
        """One hashed vector per text."""
        return np.vstack([self._one(t) for t in texts]) if texts else np.empty((0, self.dim), np.float32)

    async def embed_query(self, text: str) -> Vector:
        """A hashed vector."""
        return self._one(text)

    async def embed_query_batch(self, texts: Sequence[str]) -> Vector:
        """Hashed vectors."""
        return await self.embed_passages(texts)

    def count_tokens(self, text: str) -> int:
        """An estimate: a token per 3 UTF-8 bytes."""
        return max(1, len(text.encode("utf-8")) // 3 + 2)


def build_synthetic(dest: Path, documents: int) -> int:
    """Write ``documents`` small files (Markdown and text, alternately) in folders of 100, each
    folder with a ``.kura-access.yaml``; returns the bytes written."""
    size = 0
    for n in range(documents):
        folder = dest / f"team-{n // _PER_FOLDER:03d}"
        if n % _PER_FOLDER == 0:
            folder.mkdir(parents=True)
            group = f"group:team-{n // _PER_FOLDER:03d}"
            (folder / ".kura-access.yaml").write_text(f"allow: [{group}]\nclassification: internal\n", encoding="utf-8")
        body = f"手順 {n}: 申請は月末までに提出します。Request {n} must be filed before the month ends.\n" * 4
        if n % 2:
            text, name = f"# 文書 {n}\n\n{body}", f"doc-{n:05d}.md"
        else:
            text, name = f"Note {n}\n\n{body}", f"note-{n:05d}.txt"
        raw = text.encode("utf-8")
        (folder / name).write_bytes(raw)
        size += len(raw)
    return size


@dataclass(frozen=True)
class ResyncResult:
    """What the re-sync measurement saw."""

    documents: int
    corpus_bytes: int
    first_s: float
    resync_s: list[float]
    unchanged: int
    chunks_written: int


async def measure_resync(db: Database, root: Path, documents: int, repeats: int = 3) -> ResyncResult:
    """Ingest ``documents`` synthetic files with :class:`HashEmbedder`, then time ``repeats`` real
    re-syncs of the unchanged folder."""
    corpus = root / "resync"
    size = await asyncio.to_thread(build_synthetic, corpus, documents)
    embedder = HashEmbedder()
    ingestor = Ingestor(KnowledgeStore(db.sessions, embedder.name, embedder.dim), embedder)
    started = time.perf_counter()
    first = await ingestor.ingest(corpus)
    first_s = time.perf_counter() - started
    assert first.counts()["added"] == documents, first.counts()
    times: list[float] = []
    again = first
    for _ in range(repeats):
        started = time.perf_counter()
        again = await ingestor.ingest(corpus)
        times.append(time.perf_counter() - started)
    return ResyncResult(documents, size, first_s, times, again.counts()["unchanged"], again.chunks_written)
