"""Hybrid search on the real embedded PostgreSQL: the access filter in both legs, codes found, k filled."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.db import Database
from bot.wiring import sample_knowledge
from knowledge import Ingestor, KnowledgeStore, PgVectorRetriever
from knowledge.keywords import query_terms, to_tsvector
from knowledge.models import Chunk
from knowledge.retrieval import RetrievalMode
from knowledge.store import ChunkRow, DocumentRow
from llm import E5Embedder

pytestmark = pytest.mark.db

ALICE = frozenset({"public", "user:alice@example.co.jp", "group:all-staff", "group:sales", "role:employee"})
CAROL = frozenset({"public", "user:carol@example.co.jp", "group:all-staff", "group:hr", "role:employee"})
INTERNAL, CONFIDENTIAL = 1, 2
#: A sentence of hr/給与規程.md, word for word.
HR_SENTENCE = "G3の基本給レンジは月額32万円〜38万円です。"


async def _sample(db: Database, embedder: E5Embedder, tmp_path: Path) -> tuple[KnowledgeStore, Path]:
    store = KnowledgeStore(db.sessions, embedder.name, embedder.dim)
    shutil.copytree(sample_knowledge(), tmp_path / "kb")
    await Ingestor(store, embedder).ingest(tmp_path / "kb")
    return store, tmp_path / "kb"


def _retriever(store: KnowledgeStore, embedder: E5Embedder, mode: RetrievalMode = "hybrid") -> PgVectorRetriever:
    return PgVectorRetriever(store, embedder, ef_search=100, max_scan_tuples=20_000, mode=mode)


async def test_ingest_writes_keywords_for_every_chunk(db: Database, embedder: E5Embedder, tmp_path: Path) -> None:
    """Every chunk gets a tsvector with positions (ts_rank_cd ranks with them)."""
    await _sample(db, embedder, tmp_path)
    async with db.sessions() as session:
        missing = await session.scalar(text("SELECT count(*) FROM kura_knowledge.chunks WHERE keywords IS NULL"))
        positions = await session.scalar(
            text("SELECT count(*) FROM kura_knowledge.chunks WHERE keywords::text ~ ':[0-9]'")
        )
        total = await session.scalar(text("SELECT count(*) FROM kura_knowledge.chunks"))
    assert 0 == missing
    assert total == positions


async def test_hostile_the_hr_documents_own_sentence_never_reaches_alice(
    db: Database, embedder: E5Embedder, tmp_path: Path
) -> None:
    """Alice (sales, internal) asks with hr/給与規程.md's exact sentence: no hr/ chunk in any mode."""
    store, _ = await _sample(db, embedder, tmp_path)
    for mode in ("hybrid", "keyword", "vector"):
        chunks = await _retriever(store, embedder, mode).retrieve(HR_SENTENCE, [ALICE], CONFIDENTIAL, 50)
        assert not [c.source for c in chunks if c.source.startswith(("hr/", "managers/", "it/"))], mode
        assert all(set(c.acl) & ALICE for c in chunks), mode
    # Carol, who may read it, gets it first from the keyword leg alone.
    carol = await _retriever(store, embedder, "keyword").retrieve(HR_SENTENCE, [CAROL], CONFIDENTIAL, 5)
    assert "hr/給与規程.md" == carol[0].source
    assert 1 == carol[0].keyword_rank


async def test_the_keyword_leg_filters_before_its_limit(db: Database, embedder: E5Embedder, tmp_path: Path) -> None:
    """With one keyword candidate, Alice still gets a readable chunk: the filter is not applied after.

    (Any shared term counts here, so her own documents' weak matches compete with the HR ones.)"""
    store, _ = await _sample(db, embedder, tmp_path)
    vector = await embedder.embed_query(HR_SENTENCE)
    terms = query_terms(HR_SENTENCE)
    hits = await store.hybrid_search(
        vector, terms, [ALICE], CONFIDENTIAL, 1, candidates=1, legs=(False, True), min_share=0.0
    )
    assert 1 == len(hits)
    assert set(hits[0].acl) & ALICE
    assert not hits[0].source.startswith("hr/")


async def test_clearance_holds_in_the_keyword_leg(db: Database, embedder: E5Embedder, tmp_path: Path) -> None:
    """Carol with internal clearance does not get her own group's confidential pay rules by keywords."""
    store, _ = await _sample(db, embedder, tmp_path)
    chunks = await _retriever(store, embedder, "keyword").retrieve(HR_SENTENCE, [CAROL], INTERNAL, 50)
    assert all(c.classification <= INTERNAL for c in chunks)


async def test_codes_are_found_by_the_keyword_leg(db: Database, embedder: E5Embedder, tmp_path: Path) -> None:
    """`vpnctl` and `restore-db` are in one document each: hybrid puts it first, with a keyword rank."""
    store, _ = await _sample(db, embedder, tmp_path)
    dave = frozenset({"public", "user:dave@example.co.jp", "group:all-staff", "group:it", "role:employee"})
    retriever = _retriever(store, embedder)
    vpn = await retriever.retrieve("vpnctl", [dave], INTERNAL, 5)
    assert "it/runbook-vpn.md" == vpn[0].source
    assert 1 == vpn[0].keyword_rank
    restore = await retriever.retrieve("restore-db のオプションは？", [dave], INTERNAL, 5)
    assert "it/バックアップ手順.md" == restore[0].source


async def test_an_exact_code_ranked_low_by_vectors_is_still_found(db: Database) -> None:
    """A chunk holding KH-101 whose vector is the farthest of all is in the hybrid top 3, first by keywords."""
    rng = np.random.default_rng(3)
    store = KnowledgeStore(db.sessions, "test-hybrid-384", 384)
    await store.ensure_vector_index()
    query = rng.normal(size=384).astype(np.float32)
    query /= np.linalg.norm(query)
    texts = [f"部品の在庫と発注 {i} について" for i in range(59)] + ["部品 KH-101 の在庫"]
    vectors = query + rng.normal(scale=0.3, size=(60, 384))
    vectors[-1] = -query  # the code's chunk: the vector leg ranks it last
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    row = DocumentRow("/codes", "parts.md", "Parts", "h", ("group:g",), 1, None, store.model)
    await store.replace_document(
        row, [ChunkRow(i, t, 5, keywords=to_tsvector(t)) for i, t in enumerate(texts)], vectors
    )

    scope = [frozenset({"group:g"})]
    vector_only = await store.search(query, scope, 3, 3)
    hybrid = await store.hybrid_search(query, query_terms("KH-101"), scope, 3, 3)
    assert "部品 KH-101 の在庫" not in [h.text for h in vector_only]
    found = [h for h in hybrid if h.text == "部品 KH-101 の在庫"]
    assert found
    assert 1 == found[0].keyword_rank
    assert found[0].vector_rank is None
    assert 1.0 == found[0].keyword_coverage


async def test_a_one_percent_reader_still_gets_k_results(db: Database, dba: AsyncEngine) -> None:
    """Hybrid through the HNSW index (no sequential scan) fills k for a reader of 1% of the chunks."""
    rng = np.random.default_rng(7)
    store = KnowledgeStore(db.sessions, "test-hybrid-1pct-384", 384, exact_below=0)  # the HNSW path
    await store.ensure_vector_index()
    centres = rng.normal(size=(20, 384))
    for i in range(100):
        vectors = centres[rng.integers(0, 20, 40)] + rng.normal(scale=0.6, size=(40, 384))
        vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
        row = DocumentRow("/one", f"doc-{i}.md", f"Doc {i}", f"h{i}", (f"group:g{i}",), 1, None, store.model)
        chunks = [ChunkRow(j, f"在庫の報告 {i}/{j}", 5, keywords=to_tsvector(f"在庫の報告 {i}/{j}")) for j in range(40)]
        await store.replace_document(row, chunks, vectors)
    async with dba.execution_options(isolation_level="AUTOCOMMIT").connect() as conn:
        name = (await conn.execute(text("SELECT current_database()"))).scalar_one()
        await conn.execute(text(f'ALTER DATABASE "{name}" SET enable_seqscan = off'))
    await db.engine.dispose()

    query = rng.normal(size=384).astype(np.float32)
    scope = [frozenset({"group:g0"})]
    for terms in (query_terms("在庫"), query_terms("nothing-matches-this")):
        hits = await store.hybrid_search(query, terms, scope, 3, 10, ef_search=40)
        assert 10 == len(hits)
        assert {("group:g0",)} == {h.acl for h in hits}


async def test_fill_keywords_backfills_old_chunks_without_re_embedding(
    db: Database, embedder: E5Embedder, tmp_path: Path
) -> None:
    """Chunks from before migration 0012 (NULL keywords) get them on the next sync; vectors stay."""
    store, kb = await _sample(db, embedder, tmp_path)
    async with db.sessions.begin() as session:
        await session.execute(update(Chunk).values(keywords=None))
        before = dict((await session.execute(text("SELECT id, embedding::text FROM kura_knowledge.chunks"))).all())
    report = await Ingestor(store, embedder).ingest(kb)
    assert 0 == report.chunks_written
    async with db.sessions() as session:
        after = dict((await session.execute(text("SELECT id, embedding::text FROM kura_knowledge.chunks"))).all())
        missing = await session.scalar(text("SELECT count(*) FROM kura_knowledge.chunks WHERE keywords IS NULL"))
    assert before == after
    assert 0 == missing
    assert 0 == await store.fill_keywords(str(kb.resolve()), to_tsvector)
