"""The exact/HNSW switch of KnowledgeStore on the real embedded PostgreSQL: a selective scope is read
exactly (GIN bitmap on acl, then sort), a broad one through the HNSW index; both give the same top-k,
k is filled for a 1% reader, and neither path ever returns a chunk the scope may not read."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.types import Text

from bot.db import Database
from knowledge import KnowledgeStore
from knowledge.keywords import query_terms, to_tsvector
from knowledge.store import ChunkRow, DocumentRow

pytestmark = pytest.mark.db

MODEL, OTHER, DIM = "test-switch-384", "test-switch-other-384", 384
DOCS, PER_DOC = 100, 20  # 2000 chunks; group:g0 may read 20 of them (1%)


async def _corpus(db: Database, exact_below: int, share: float = 0.05) -> tuple[KnowledgeStore, np.ndarray]:
    """Document i: readable by group:g{i} (and group:odd for odd i), classification i % 3, vectors
    clustered; every chunk holds the word 在庫. Also a document of another model, readable by
    group:g0, whose vectors are the corpus's own: it must never come back from this model's search."""
    rng = np.random.default_rng(11)
    store = KnowledgeStore(db.sessions, MODEL, DIM, exact_below=exact_below, exact_share=share)
    await store.ensure_vector_index()
    centres = rng.normal(size=(10, DIM))
    rows = []
    for i in range(DOCS):
        vectors = centres[rng.integers(0, 10, PER_DOC)] + rng.normal(scale=0.6, size=(PER_DOC, DIM))
        vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
        rows.append(vectors)
        acl = (f"group:g{i}", "group:odd") if i % 2 else (f"group:g{i}",)
        doc = DocumentRow("/switch", f"doc-{i}.md", f"Doc {i}", f"h{i}", acl, i % 3, None, store.model)
        texts = [f"在庫 報告 {i} {j}" for j in range(PER_DOC)]
        await store.replace_document(
            doc, [ChunkRow(j, t, 5, keywords=to_tsvector(t)) for j, t in enumerate(texts)], vectors
        )
    other = KnowledgeStore(db.sessions, OTHER, DIM)
    doc = DocumentRow("/switch-other", "other.md", "Other", "o", ("group:g0",), 0, None, OTHER)
    chunks = [ChunkRow(j, f"在庫 other {j}", 5, keywords=to_tsvector(f"在庫 other {j}")) for j in range(PER_DOC)]
    await other.replace_document(doc, chunks, rows[0])
    async with db.engine.connect() as conn:  # what autovacuum does after a large ingest
        await conn.execute(text("ANALYZE kura_knowledge.chunks"))
        await conn.commit()
    return store, np.vstack(rows)


SELECTIVE = [frozenset({"group:g0"})]  # 20 chunks
BROAD = [frozenset(f"group:g{i}" for i in range(DOCS))]  # 2000 chunks


async def test_selective_scope_is_exact_and_broad_scope_uses_hnsw(db: Database) -> None:
    """The switch chooses by the scope's readable count, in search and in the hybrid vector leg."""
    store, vectors = await _corpus(db, exact_below=100)
    selective, broad = SELECTIVE, BROAD
    query = vectors[1500]
    await store.search(query, selective, 2, 10)
    assert "exact" == store.last_path
    await store.search(query, broad, 2, 10)
    assert "hnsw" == store.last_path
    await store.hybrid_search(query, query_terms("在庫"), selective, 2, 10)
    assert "exact" == store.last_path
    await store.hybrid_search(query, query_terms("在庫"), broad, 2, 10)
    assert "hnsw" == store.last_path
    never = KnowledgeStore(db.sessions, MODEL, DIM, exact_below=0)
    await never.search(query, selective, 2, 10)
    assert "hnsw" == never.last_path
    by_share = KnowledgeStore(db.sessions, MODEL, DIM, exact_below=1_000_000, exact_share=0.05)
    await by_share.search(query, selective, 2, 10)  # 1% of the model's chunks
    assert "exact" == by_share.last_path
    await by_share.search(query, [frozenset(f"group:g{i}" for i in range(10))], 2, 10)  # 10%
    assert "hnsw" == by_share.last_path


async def test_the_switch_really_changes_the_plan(db: Database) -> None:
    """EXPLAIN of the store's statement after the store's own switch, in its transaction: index scans
    off and no HNSW index for the selective scope; index scans left on for the broad one."""
    store, vectors = await _corpus(db, exact_below=100)
    statement = text("EXPLAIN " + store._search_sql.replace("{acl_filter}", "acl && :s0")).bindparams(
        bindparam("s0", type_=ARRAY(Text))
    )
    plans, settings = [], []
    for scope in (SELECTIVE, BROAD):
        params: dict[str, object] = {"query": str(vectors[1500].tolist()), "clearance": 2, "k": 10}
        params["s0"] = sorted(scope[0])
        async with db.sessions.begin() as session:
            await store._tune(session, 100, 20_000, False)
            await store._switch(session, "acl && :s0", ["s0"], params, False)
            settings.append(await session.scalar(text("SELECT current_setting('enable_indexscan')")))
            plans.append("\n".join(r[0] for r in await session.execute(statement, params)))
    assert ["off", "on"] == settings
    assert "ix_chunks_hnsw_" not in plans[0]
    assert "Sort" in plans[0]
    assert "Bitmap Index Scan on ix_chunks_acl" in plans[0]


async def test_both_paths_return_the_same_top_k(db: Database) -> None:
    """On a small corpus the HNSW path finds the exact answer: both paths agree with numpy."""
    store, vectors = await _corpus(db, exact_below=1_000_000, share=1.0)
    hnsw = KnowledgeStore(db.sessions, MODEL, DIM, exact_below=0)
    scope = [frozenset({"group:g3", "group:g4", "group:g5"})]  # classifications 0, 1, 2: clearance 2 reads all
    for row in (0, 70, 1999):
        query = vectors[row]
        exact = await store.search(query, scope, 2, 10)
        assert "exact" == store.last_path
        approx = await hnsw.search(query, scope, 2, 10)
        assert "hnsw" == hnsw.last_path
        visible = np.concatenate([np.arange(d * PER_DOC, (d + 1) * PER_DOC) for d in (3, 4, 5)])
        distances = 1 - vectors[visible] @ query
        want = sorted(distances)[:10]
        assert np.allclose(want, [h.distance for h in exact], atol=1e-5)
        assert [h.chunk_id for h in exact] == [h.chunk_id for h in approx]


async def test_a_one_percent_reader_gets_k_exactly(db: Database) -> None:
    """group:g0 reads 1% of the chunks: the exact path fills k with exactly its nearest readable chunks."""
    store, vectors = await _corpus(db, exact_below=100)
    query = vectors[1234]  # far from document 0's chunks
    hits = await store.search(query, [frozenset({"group:g0"})], 2, 10)
    assert "exact" == store.last_path
    assert 10 == len(hits)
    want = sorted(1 - vectors[:PER_DOC] @ query)[:10]
    assert np.allclose(want, [h.distance for h in hits], atol=1e-5)
    hybrid = await store.hybrid_search(query, query_terms("在庫"), [frozenset({"group:g0"})], 2, 10)
    assert 10 == len(hybrid)


@pytest.mark.parametrize("exact_below", [1_000_000, 0])
async def test_no_unreadable_chunk_in_either_path(db: Database, exact_below: int) -> None:
    """Access list (every set must intersect), clearance and model hold on the exact and the HNSW path."""
    store, vectors = await _corpus(db, exact_below=exact_below, share=1.0)
    path = "exact" if exact_below else "hnsw"
    scopes = [
        [frozenset({"group:g0"})],
        [frozenset({"group:g0", "group:g1", "group:g2", "group:g3"}), frozenset({"group:odd"})],
        [frozenset(f"group:g{i}" for i in range(DOCS)), frozenset({"group:odd"})],
    ]
    for scope in scopes:
        for clearance in (0, 1):
            for row in (0, 5, 777):
                query = vectors[row]
                found = await store.search(query, scope, clearance, 20)
                assert path == store.last_path
                found += await store.hybrid_search(query, query_terms("在庫"), scope, clearance, 20)
                assert path == store.last_path
                assert found
                for hit in found:
                    assert all(set(hit.acl) & s for s in scope), (hit.acl, scope)
                    assert hit.classification <= clearance
                    assert hit.source.startswith("doc-"), "a chunk of another embedding model came back"
