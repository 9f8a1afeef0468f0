"""Retrieval on the real embedded PostgreSQL: the access filter lives in the SQL, k results at 1%."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.db import Database
from bot.wiring import sample_knowledge
from knowledge import Ingestor, KnowledgeStore, PgVectorRetriever
from knowledge.store import ChunkRow, DocumentRow
from llm import E5Embedder

pytestmark = pytest.mark.db

ALICE = frozenset({"public", "user:alice@example.co.jp", "group:all-staff", "group:sales", "role:employee"})
CAROL = frozenset({"public", "user:carol@example.co.jp", "group:all-staff", "group:hr", "role:employee"})
INTERNAL, CONFIDENTIAL = 1, 2


async def _sample(db: Database, embedder: E5Embedder, tmp_path: Path) -> PgVectorRetriever:
    store = KnowledgeStore(db.sessions, embedder.name, embedder.dim)
    shutil.copytree(sample_knowledge(), tmp_path / "kb")
    await Ingestor(store, embedder).ingest(tmp_path / "kb")
    return PgVectorRetriever(store, embedder, ef_search=100, max_scan_tuples=20_000)


async def test_reader_finds_the_document_they_may_read(db: Database, embedder: E5Embedder, tmp_path: Path) -> None:
    """Carol (HR, confidential clearance) gets the pay rules first."""
    retriever = await _sample(db, embedder, tmp_path)
    chunks = await retriever.retrieve("G3の基本給はいくらですか？", [CAROL], CONFIDENTIAL, 5)
    assert chunks[0].source.startswith("hr/")


async def test_no_chunk_outside_the_access_list_is_returned(db: Database, embedder: E5Embedder, tmp_path: Path) -> None:
    """Alice asks about pay: nothing from hr/ or managers/ comes back, whatever the similarity."""
    retriever = await _sample(db, embedder, tmp_path)
    chunks = await retriever.retrieve("G3の基本給はいくらですか？ salary bands", [ALICE], CONFIDENTIAL, 20)
    assert chunks, "alice can read some documents"
    assert all(c.acl and set(c.acl) & ALICE for c in chunks)
    assert not [c.source for c in chunks if c.source.startswith(("hr/", "managers/", "it/"))]


async def test_channel_scope_is_what_every_member_may_read(db: Database, embedder: E5Embedder, tmp_path: Path) -> None:
    """Alice and Carol together: neither sales-only nor hr-only documents."""
    retriever = await _sample(db, embedder, tmp_path)
    chunks = await retriever.retrieve("commission and salary", [ALICE, CAROL], INTERNAL, 50)
    sources = {c.source for c in chunks}
    assert "handbook/sales/commission.md" not in sources
    assert not [s for s in sources if s.startswith("hr/")]
    assert "handbook/経費精算.md" in sources


async def test_clearance_caps_classification(db: Database, embedder: E5Embedder, tmp_path: Path) -> None:
    """Carol with only internal clearance cannot read her own group's confidential documents."""
    retriever = await _sample(db, embedder, tmp_path)
    chunks = await retriever.retrieve("給与規程", [CAROL], INTERNAL, 50)
    assert all(c.classification <= INTERNAL for c in chunks)
    assert not [c for c in chunks if c.source.startswith("hr/")]


async def _synthetic(db: Database, docs: int, per_doc: int, dim: int = 384) -> tuple[KnowledgeStore, np.ndarray]:
    """``docs`` documents of ``per_doc`` clustered random vectors; document i is readable by group:g{i}."""
    rng = np.random.default_rng(7)
    store = KnowledgeStore(db.sessions, "test-synthetic-384", dim, exact_below=0)  # the HNSW path
    await store.ensure_vector_index()
    centres = rng.normal(size=(20, dim))
    all_vectors = []
    for i in range(docs):
        vectors = centres[rng.integers(0, 20, per_doc)] + rng.normal(scale=0.6, size=(per_doc, dim))
        vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
        all_vectors.append(vectors)
        row = DocumentRow("/synthetic", f"doc-{i}.md", f"Doc {i}", f"h{i}", (f"group:g{i}",), 1, None, store.model)
        await store.replace_document(row, [ChunkRow(j, f"chunk {i}/{j}", 5) for j in range(per_doc)], vectors)
    return store, np.vstack(all_vectors)


async def test_one_percent_visible_user_still_gets_k_results_through_the_hnsw_index(
    db: Database, dba: AsyncEngine
) -> None:
    """With the index forced, iterative scan fills k; without it the same query comes back short."""
    store, vectors = await _synthetic(db, docs=100, per_doc=40)  # 4000 chunks; group:g0 sees 40 = 1%
    query = vectors[3000]  # a point of some other document: the visible chunks are far from it
    scope = [frozenset({"group:g0"})]

    # Force the HNSW path (no sequential or GIN bitmap scan) for this database's new sessions.
    async with dba.execution_options(isolation_level="AUTOCOMMIT").connect() as conn:
        name = (await conn.execute(text("SELECT current_database()"))).scalar_one()
        await conn.execute(text(f'ALTER DATABASE "{name}" SET enable_seqscan = off'))
        await conn.execute(text(f'ALTER DATABASE "{name}" SET enable_bitmapscan = off'))
    await db.engine.dispose()

    hits = await store.search(query, scope, clearance=3, k=10, ef_search=40)
    assert 10 == len(hits)
    assert {("group:g0",)} == {h.acl for h in hits}
    assert [h.distance for h in hits] == sorted(h.distance for h in hits)

    sql = (
        f"SELECT id FROM kura_knowledge.chunks WHERE embedding_model = '{store.model}' AND acl && :s "
        f"ORDER BY (embedding::vector(384)) <=> :q LIMIT 10"
    )
    async with db.sessions.begin() as session:
        await session.execute(text("SET LOCAL hnsw.iterative_scan = off"))
        await session.execute(text("SET LOCAL hnsw.ef_search = 40"))
        plan = "\n".join(
            r[0] for r in await session.execute(text("EXPLAIN " + sql), {"s": ["group:g0"], "q": str(query.tolist())})
        )
        short = (await session.execute(text(sql), {"s": ["group:g0"], "q": str(query.tolist())})).all()
    assert "ix_chunks_hnsw_" in plan
    assert len(short) < 10, "without iterative scan the post-filtered HNSW search loses results"


async def test_exact_and_index_search_agree_on_a_small_scope(db: Database) -> None:
    """The exact path (benchmarks' ground truth) returns the same top hit as the index path."""
    store, vectors = await _synthetic(db, docs=10, per_doc=30)
    scope = [frozenset({f"group:g{i}" for i in range(10)})]
    query = vectors[42]
    exact = await store.search(query, scope, clearance=3, k=5, exact=True)
    approx = await store.search(query, scope, clearance=3, k=5)
    assert exact[0].chunk_id == approx[0].chunk_id
    assert exact[0].distance == pytest.approx(0.0, abs=1e-5)


async def test_empty_scope_returns_nothing(db: Database) -> None:
    """No reader sets means no rows (fail closed), not every row."""
    store, vectors = await _synthetic(db, docs=2, per_doc=5)
    assert [] == await store.search(vectors[0], [], clearance=3, k=5)


async def test_a_searchs_settings_hold_in_its_transaction_only(db: Database) -> None:
    """The planner and HNSW settings are set together, for the search's own transaction."""
    names = ("plan_cache_mode", "hnsw.ef_search", "hnsw.iterative_scan", "hnsw.max_scan_tuples", "enable_indexscan")
    async with db.sessions.begin() as session:
        await KnowledgeStore._tune(session, 77, 1234, True)
        inside = [(await session.execute(text(f"SHOW {name}"))).scalar_one() for name in names]
    async with db.sessions() as session:
        after = (await session.execute(text("SHOW enable_indexscan"))).scalar_one()

    assert ["force_custom_plan", "77", "relaxed_order", "1234", "off"] == inside
    assert "on" == after
