"""The synthetic corpus of the retrieval benchmark: clustered vectors, texts, per-document ACLs,
and its fast load into Kura's tables (binary COPY, then the per-model HNSW index)."""

from __future__ import annotations

import math
import struct
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
import psycopg
from pgvector.psycopg import register_vector_async
from psycopg.adapt import Dumper
from psycopg.pq import Format
from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker

from bot.db import Database
from knowledge.models import SCHEMA
from knowledge.store import HNSW_EF_CONSTRUCTION, HNSW_M, KnowledgeStore, _index_name

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


#: Keywords: each chunk holds KEYWORDS_PER_CHUNK distinct words of a KEYWORD_VOCABULARY-word
#: vocabulary drawn with Zipf-like weights 1/(rank + 20), so the commonest word is in ~10% of the
#: chunks and most words in a few hundredths of a percent: an OR query of three of them has the
#: selectivity of a real question's few content words. Letters only (no digits: those are "codes",
#: which the keyword leg treats specially).
KEYWORD_VOCABULARY = 5000
KEYWORDS_PER_CHUNK = 12


def keyword_vocabulary(rng: np.random.Generator) -> list[str]:
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    words: dict[str, None] = {}
    while len(words) < KEYWORD_VOCABULARY:
        words["".join(rng.choice(letters, size=int(rng.integers(5, 9))))] = None
    return list(words)


def make_keywords(rng: np.random.Generator, n: int) -> npt.NDArray[np.int32]:
    """``n`` rows of KEYWORDS_PER_CHUNK vocabulary indices (distinct within a row, Zipf-like)."""
    weights = 1.0 / (np.arange(KEYWORD_VOCABULARY) + 20.0)
    weights /= weights.sum()
    out = rng.choice(KEYWORD_VOCABULARY, size=(n, KEYWORDS_PER_CHUNK * 2), p=weights).astype(np.int32)
    rows = np.empty((n, KEYWORDS_PER_CHUNK), dtype=np.int32)
    for i in range(n):  # drop repeats; 2x draws leave enough distinct ones (refill the rare short row)
        distinct = list(dict.fromkeys(out[i].tolist()))
        while len(distinct) < KEYWORDS_PER_CHUNK:
            distinct = list(dict.fromkeys([*distinct, int(rng.integers(0, KEYWORD_VOCABULARY))]))
        rows[i] = distinct[:KEYWORDS_PER_CHUNK]
    return rows


class TsVector(bytes):
    """A tsvector in PostgreSQL's binary send format (for the binary COPY)."""

    @classmethod
    def of(cls, lexemes: Sequence[str]) -> TsVector:
        # tsvectorsend: int32 count, then per lexeme: its bytes, a NUL, int16 positions, int16 each.
        parts = [struct.pack("!i", len(lexemes))]
        for position, lexeme in enumerate(sorted(set(lexemes)), start=1):
            parts.append(lexeme.encode() + b"\0" + struct.pack("!hh", 1, position))
        return cls(b"".join(parts))


class _TsVectorDumper(Dumper):
    format = Format.BINARY
    oid = 3614  # tsvector

    def dump(self, obj: object) -> bytes:
        assert isinstance(obj, TsVector)
        return bytes(obj)


def make_queries(rng: np.random.Generator, corpus: Matrix, count: int, noise: float) -> Matrix:
    """Perturbed copies of random corpus points (noise of norm about ``noise``), normalised."""
    return pick_queries(rng, corpus, count, noise)[0]


def pick_queries(
    rng: np.random.Generator, corpus: Matrix, count: int, noise: float
) -> tuple[Matrix, npt.NDArray[np.int64]]:
    """:func:`make_queries` and the corpus rows they were made from."""
    picks = rng.choice(len(corpus), size=count, replace=False)
    jitter = rng.standard_normal((count, DIM), dtype=np.float32) * np.float32(noise / math.sqrt(DIM))
    return _normalise(corpus[picks] + jitter), picks


def psycopg_url(db: Database) -> str:
    """The SQLAlchemy URL of the running database, as a plain libpq URL for psycopg.connect."""
    return db.engine.url.render_as_string(hide_password=False).replace("postgresql+psycopg://", "postgresql://", 1)


@dataclass
class LoadReport:
    generate_s: float = 0.0
    copy_s: float = 0.0
    analyze_s: float = 0.0
    index_s: float = 0.0
    halfvec_s: float = 0.0
    documents: int = 0
    settings: dict[str, str] = field(default_factory=dict)
    sizes: dict[str, int] = field(default_factory=dict)


async def load(
    db: Database,
    store: KnowledgeStore,
    vectors: Matrix,
    texts: Sequence[str],
    report: LoadReport,
    keywords: Sequence[TsVector] | None = None,
) -> None:
    """Documents, then chunks by binary COPY, ANALYZE, then the HNSW index (timed)."""
    n = len(vectors)
    n_docs = math.ceil(n / CHUNKS_PER_DOCUMENT)
    # As Kura's role, which owns these tables: the owner never writes rows in kura_knowledge.
    async with await psycopg.AsyncConnection.connect(psycopg_url(db), options="-c role=kura_app") as conn:
        await register_vector_async(conn)
        conn.adapters.register_dumper(TsVector, _TsVectorDumper)
        async with conn.cursor() as cur:
            # A reused --data-dir: start from no synthetic rows and no synthetic index.
            await cur.execute(f"DROP INDEX IF EXISTS {SCHEMA}.{_index_name(MODEL, DIM)}")
            await cur.execute(f"DROP INDEX IF EXISTS {SCHEMA}.{HALFVEC_INDEX}")
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
                "embedding_model, embedding_dim, embedding, keywords"
            )
            async with cur.copy(f"COPY {SCHEMA}.chunks ({columns}) FROM STDIN WITH (FORMAT BINARY)") as copy:
                copy.set_types(
                    [
                        "int8",
                        "int4",
                        "text",
                        "text",
                        "text",
                        "text[]",
                        "int2",
                        "int4",
                        "text",
                        "int4",
                        "vector",
                        "tsvector",
                    ]
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
                            None if keywords is None else keywords[i],
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
        await conn.execute(text("SET maintenance_work_mem = '4GB'"))
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
                       pg_relation_size(CAST(:acl AS regclass)),
                       pg_relation_size(CAST(:keywords AS regclass))
                """
            ),
            {
                "chunks": f"{SCHEMA}.chunks",
                "index": f"{SCHEMA}.{_index_name(MODEL, DIM)}",
                "acl": f"{SCHEMA}.ix_chunks_acl",
                "keywords": f"{SCHEMA}.ix_chunks_keywords",
            },
        )
        heap, toast, hnsw, gin, keyword_gin = sizes.one()
        report.sizes = {
            "chunks heap": heap,
            "chunks TOAST": toast,
            "HNSW index": hnsw,
            "GIN acl index": gin,
            "GIN keywords index": keyword_gin,
        }
        await conn.commit()


# --- halfvec (bench only: Kura stores and indexes vector) ------------------------------------------
HALFVEC_INDEX = "ix_bench_chunks_hnsw_halfvec"


async def build_halfvec(
    db: Database, store: KnowledgeStore, m: int = HNSW_M, ef_construction: int = HNSW_EF_CONSTRUCTION
) -> tuple[float, int]:
    """The same partial HNSW index over ``embedding::halfvec(dim)`` (16-bit floats), by default with
    the store's graph parameters: build seconds, bytes."""
    async with db.engine.connect() as conn:
        await conn.execute(text("SET maintenance_work_mem = '4GB'"))
        started = time.perf_counter()
        await conn.execute(
            text(
                f"CREATE INDEX IF NOT EXISTS {HALFVEC_INDEX} ON {SCHEMA}.chunks USING hnsw "
                f"((embedding::halfvec({store.dim})) halfvec_cosine_ops) "
                f"WITH (m = {int(m)}, ef_construction = {int(ef_construction)}) "
                f"WHERE embedding_model = '{store.model}'"
            )
        )
        await conn.commit()
        seconds = time.perf_counter() - started
        size = (await conn.execute(text(f"SELECT pg_relation_size('{SCHEMA}.{HALFVEC_INDEX}')"))).scalar_one()
        await conn.commit()
    return seconds, int(size)


def halfvec_sql(store: KnowledgeStore) -> str:
    """The store's search statement (one principal set ``:s0``) ordered by the halfvec expression."""
    vector = f"(embedding::vector({store.dim})) <=> :query"
    half = f"(embedding::halfvec({store.dim})) <=> CAST(:query AS halfvec({store.dim}))"
    return "/* bench: halfvec */\n" + store._search_sql.replace("{acl_filter}", "acl && :s0").replace(vector, half)


def server_memory(data_dir: Path) -> tuple[int, int]:
    """(processes, proportional set size in bytes) of the embedded PostgreSQL: its postmaster (pid in
    ``postmaster.pid``) and its children, from /proc/<pid>/smaps_rollup (shared memory counted once)."""
    try:
        postmaster = int((data_dir / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0, 0
    pids = [postmaster]
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == postmaster:
                pids.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1]) * 1024
        except (OSError, ValueError):
            continue
    return len(pids), total
