"""The synthetic corpus of the retrieval benchmark: clustered vectors, texts, per-document ACLs,
and its fast load into Kura's tables (binary COPY, then the per-model HNSW index)."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import psycopg
from pgvector.psycopg import register_vector_async
from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker

from bot.db import Database
from knowledge.models import SCHEMA
from knowledge.store import KnowledgeStore, _index_name

MODEL = "bench-synthetic-384"
DIM = 384
ROOT = "bench://synthetic"
CHUNKS_PER_DOCUMENT = 100
GROUPS = 100
TEXT_WORDS = 85  # ~600 bytes, the size of a real 256-token chunk of the sample knowledge base
CLEARANCE = 3

Matrix = npt.NDArray[np.float32]


def _normalise(x: Matrix) -> Matrix:
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def make_vectors(rng: np.random.Generator, n: int, clusters: int, spread: float) -> Matrix:
    """``n`` unit vectors from a mixture of ``clusters`` Gaussian clusters around random unit centres."""
    centres = _normalise(rng.standard_normal((clusters, DIM), dtype=np.float32))
    member = rng.integers(0, clusters, n)
    out = np.empty((n, DIM), dtype=np.float32)
    step = 20_000
    for start in range(0, n, step):
        stop = min(n, start + step)
        noise = rng.standard_normal((stop - start, DIM), dtype=np.float32) * np.float32(spread / math.sqrt(DIM))
        out[start:stop] = centres[member[start:stop]] + noise
    return _normalise(out)


def make_texts(rng: np.random.Generator, n: int) -> list[str]:
    """Filler texts of realistic length (random words from a small made-up vocabulary)."""
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    vocab = ["".join(rng.choice(letters, size=int(rng.integers(3, 10)))) for _ in range(3000)]
    words = rng.integers(0, len(vocab), (n, TEXT_WORDS))
    return [" ".join(vocab[j] for j in row) for row in words]


def make_queries(rng: np.random.Generator, corpus: Matrix, count: int, noise: float) -> Matrix:
    """Perturbed copies of random corpus points (noise of norm about ``noise``), normalised."""
    picks = rng.choice(len(corpus), size=count, replace=False)
    jitter = rng.standard_normal((count, DIM), dtype=np.float32) * np.float32(noise / math.sqrt(DIM))
    return _normalise(corpus[picks] + jitter)


def psycopg_url(db: Database) -> str:
    """The SQLAlchemy URL of the running database, as a plain libpq URL for psycopg.connect."""
    return db.engine.url.render_as_string(hide_password=False).replace("postgresql+psycopg://", "postgresql://", 1)


@dataclass
class LoadReport:
    generate_s: float = 0.0
    copy_s: float = 0.0
    analyze_s: float = 0.0
    index_s: float = 0.0
    documents: int = 0
    settings: dict[str, str] = field(default_factory=dict)
    sizes: dict[str, int] = field(default_factory=dict)


async def load(db: Database, store: KnowledgeStore, vectors: Matrix, texts: Sequence[str], report: LoadReport) -> None:
    """Documents, then chunks by binary COPY, ANALYZE, then the HNSW index (timed)."""
    n = len(vectors)
    n_docs = math.ceil(n / CHUNKS_PER_DOCUMENT)
    # As Kura's role, which owns these tables: the owner never writes rows in kura_knowledge.
    async with await psycopg.AsyncConnection.connect(psycopg_url(db), options="-c role=kura_app") as conn:
        await register_vector_async(conn)
        async with conn.cursor() as cur:
            # A reused --data-dir: start from no synthetic rows and no synthetic index.
            await cur.execute(f"DROP INDEX IF EXISTS {SCHEMA}.{_index_name(MODEL, DIM)}")
            await cur.execute(f"DELETE FROM {SCHEMA}.documents WHERE root = %s", [ROOT])  # noqa: S608 - a constant
            started = time.perf_counter()
            await cur.execute(
                f"""
                INSERT INTO {SCHEMA}.documents (root, path, title, content_hash, acl, classification, owner,
                                       embedding_model, chunk_count)
                SELECT %(root)s, 'doc-' || lpad(g::text, 6, '0'), 'Synthetic document ' || g, md5(g::text),
                       ARRAY['group:g' || (g %% %(groups)s), 'public'], g %% 4, NULL, %(model)s,
                       LEAST(%(per)s, %(n)s - g * %(per)s)
                FROM generate_series(0, %(docs)s - 1) AS g
                RETURNING id, path
                """,  # noqa: S608 - SCHEMA is a constant
                {"root": ROOT, "groups": GROUPS, "model": MODEL, "per": CHUNKS_PER_DOCUMENT, "n": n, "docs": n_docs},
            )
            ids = {path: doc_id for doc_id, path in await cur.fetchall()}
            doc_ids = [ids[f"doc-{d:06d}"] for d in range(n_docs)]
            columns = (
                "document_id, ordinal, text, source, title, acl, classification, token_count, "
                "embedding_model, embedding_dim, embedding"
            )
            async with cur.copy(f"COPY {SCHEMA}.chunks ({columns}) FROM STDIN WITH (FORMAT BINARY)") as copy:
                copy.set_types(
                    ["int8", "int4", "text", "text", "text", "text[]", "int2", "int4", "text", "int4", "vector"]
                )
                for i in range(n):
                    d = i // CHUNKS_PER_DOCUMENT
                    await copy.write_row(
                        (
                            doc_ids[d],
                            i % CHUNKS_PER_DOCUMENT,
                            texts[i],
                            f"doc-{d:06d}",
                            f"Synthetic document {d}",
                            [f"group:g{d % GROUPS}", "public"],
                            d % 4,
                            160,
                            MODEL,
                            DIM,
                            vectors[i],
                        )
                    )
            await conn.commit()
            report.copy_s = time.perf_counter() - started
            report.documents = n_docs
        await conn.set_autocommit(True)
        started = time.perf_counter()
        await conn.execute(f"ANALYZE {SCHEMA}.documents")
        await conn.execute(f"ANALYZE {SCHEMA}.chunks")
        report.analyze_s = time.perf_counter() - started

    # The index is built by the store itself, on one connection whose session was given more
    # maintenance memory (the HNSW graph then fits in memory during the build).
    async with db.engine.connect() as conn:
        await conn.execute(text("SET maintenance_work_mem = '1GB'"))
        await conn.commit()
        for name in ("maintenance_work_mem", "max_parallel_maintenance_workers", "shared_buffers", "work_mem"):
            report.settings[name] = str((await conn.execute(text(f"SHOW {name}"))).scalar())
        for name in ("server_version",):
            report.settings[name] = str((await conn.execute(text(f"SHOW {name}"))).scalar())
        report.settings["pgvector"] = str(
            (await conn.execute(text("SELECT extversion FROM pg_extension WHERE extname = 'vector'"))).scalar()
        )
        await conn.commit()
        builder = KnowledgeStore(async_sessionmaker(bind=conn, expire_on_commit=False), store.model, store.dim)
        started = time.perf_counter()
        await builder.ensure_vector_index()
        report.index_s = time.perf_counter() - started
        sizes = await conn.execute(
            text(
                """
                SELECT pg_relation_size(CAST(:chunks AS regclass)),
                       COALESCE((SELECT pg_relation_size(reltoastrelid) FROM pg_class
                                 WHERE oid = CAST(:chunks AS regclass) AND reltoastrelid <> 0), 0),
                       pg_relation_size(CAST(:index AS regclass)),
                       pg_relation_size(CAST(:acl AS regclass))
                """
            ),
            {
                "chunks": f"{SCHEMA}.chunks",
                "index": f"{SCHEMA}.{_index_name(MODEL, DIM)}",
                "acl": f"{SCHEMA}.ix_chunks_acl",
            },
        )
        heap, toast, hnsw, gin = sizes.one()
        report.sizes = {"chunks heap": heap, "chunks TOAST": toast, "HNSW index": hnsw, "GIN acl index": gin}
        await conn.commit()


# --- searching -------------------------------------------------------------------------------------
