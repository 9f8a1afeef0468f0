"""Ingest on the real embedded PostgreSQL: idempotence, changes, deletions, refusals."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.db import Database
from bot.wiring import sample_knowledge
from knowledge import AccessInfo, Ingestor, KnowledgeStore
from knowledge.models import Chunk, Document
from llm import E5Embedder

pytestmark = pytest.mark.db


@pytest.fixture(scope="module")
def embedder() -> E5Embedder:
    """The packaged multilingual-e5-small, loaded once."""
    return E5Embedder(threads=2)


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """A private copy of the sample knowledge base."""
    target = tmp_path / "kb"
    shutil.copytree(sample_knowledge(), target)
    return target


def _ingestor(db: Database, embedder: E5Embedder) -> tuple[KnowledgeStore, Ingestor]:
    store = KnowledgeStore(db.sessions, embedder.name, embedder.dim)
    return store, Ingestor(store, embedder, chunk_tokens=200, overlap_tokens=20)


async def _chunk_acls(db: Database, path: str) -> set[tuple[str, ...]]:
    async with db.sessions() as session:
        rows = await session.scalars(select(Chunk.acl).join(Document).where(Document.path == path))
        return {tuple(acl) for acl in rows}


async def test_first_ingest_stores_every_sample_document(db: Database, embedder: E5Embedder, corpus: Path) -> None:
    """All 16 sample documents are added with chunks; nothing refused."""
    store, ingestor = _ingestor(db, embedder)
    report = await ingestor.ingest(corpus)
    assert 16 == len(report.added)
    assert [] == report.refused
    stats = await store.stats()
    assert 16 == stats.documents
    assert report.chunks_written == stats.chunks
    assert {("group:hr",)} == await _chunk_acls(db, "hr/給与規程.md")
    assert {("public",)} == await _chunk_acls(db, "handbook/announcements.md")  # front matter wins
    assert {("group:sales",)} == await _chunk_acls(db, "handbook/sales/commission.md")  # nearest file wins


async def test_reingest_unchanged_does_no_work(db: Database, embedder: E5Embedder, corpus: Path) -> None:
    """A second run over the same files writes nothing."""
    _, ingestor = _ingestor(db, embedder)
    await ingestor.ingest(corpus)
    again = await ingestor.ingest(corpus)
    assert 16 == len(again.unchanged)
    assert 0 == again.chunks_written
    assert [] == again.added + again.changed + again.removed


async def test_changed_file_replaces_its_chunks(db: Database, embedder: E5Embedder, corpus: Path) -> None:
    """Editing a file re-embeds only that file, and its old text is gone."""
    store, ingestor = _ingestor(db, embedder)
    await ingestor.ingest(corpus)
    doc = corpus / "handbook" / "remote-work.md"
    doc.write_text("# Remote work\n\nRemote work is allowed up to 4 days per week from 2027.\n", encoding="utf-8")
    report = await ingestor.ingest(corpus)
    assert ["handbook/remote-work.md"] == report.changed
    async with db.sessions() as session:
        texts = list(await session.scalars(select(Chunk.text).where(Chunk.source == "handbook/remote-work.md")))
    assert 1 == len(texts)
    assert "4 days" in texts[0]
    assert 16 == (await store.stats()).documents


async def test_access_change_updates_chunks_without_reembedding(
    db: Database, embedder: E5Embedder, corpus: Path
) -> None:
    """Tightening a folder's access file updates every chunk's access list in place."""
    _, ingestor = _ingestor(db, embedder)
    await ingestor.ingest(corpus)
    (corpus / "public" / ".kura-access.yaml").write_text(
        "allow: [group:managers]\nclassification: confidential\n", encoding="utf-8"
    )
    report = await ingestor.ingest(corpus)
    assert ["public/company-overview.md", "public/会社概要.md"] == sorted(report.access_updated)
    assert 0 == report.chunks_written
    assert {("group:managers",)} == await _chunk_acls(db, "public/会社概要.md")


async def test_deleted_file_loses_its_chunks(db: Database, embedder: E5Embedder, corpus: Path) -> None:
    """A file gone from the folder is removed with its chunks."""
    store, ingestor = _ingestor(db, embedder)
    await ingestor.ingest(corpus)
    before = await store.stats()
    removed_chunks = len(await _chunk_acls(db, "it/runbook-vpn.md"))
    (corpus / "it" / "runbook-vpn.md").unlink()
    report = await ingestor.ingest(corpus)
    assert ["it/runbook-vpn.md"] == report.removed
    after = await store.stats()
    assert before.documents - 1 == after.documents
    assert removed_chunks >= 1
    assert set() == await _chunk_acls(db, "it/runbook-vpn.md")


async def test_bad_files_are_reported_and_the_rest_goes_on(db: Database, embedder: E5Embedder, corpus: Path) -> None:
    """Binary, metadata-less and badly classified files are refused with a reason; others are stored."""
    _, ingestor = _ingestor(db, embedder)
    loose = corpus / "loose"
    loose.mkdir()
    (loose / "no-access.md").write_text("# Orphan\n\nNo access metadata here.\n", encoding="utf-8")
    (loose / "binary.txt").write_bytes(b"\x00\x01\x02binary")
    (corpus / "hr" / "bad.md").write_text("---\nclassification: top-secret\n---\n# Bad\n\ntext\n", encoding="utf-8")
    (corpus / "public" / "image.png").write_bytes(b"\x89PNG")
    report = await ingestor.ingest(corpus)
    refused = dict(report.refused)
    assert {"loose/no-access.md", "loose/binary.txt", "hr/bad.md"} == set(refused)
    assert "no access metadata" in refused["loose/no-access.md"]
    assert "binary" in refused["loose/binary.txt"]
    assert "top-secret" in refused["hr/bad.md"]
    assert ["public/image.png"] == report.skipped
    assert 16 == len(report.added)


async def test_default_access_applies_to_files_without_metadata(
    db: Database, embedder: E5Embedder, tmp_path: Path
) -> None:
    """An operator-given default makes metadata-less files ingestible, with that access."""
    folder = tmp_path / "plain"
    folder.mkdir()
    (folder / "note.txt").write_text("Lunch is at noon.\n", encoding="utf-8")
    _, ingestor = _ingestor(db, embedder)
    report = await ingestor.ingest(folder, default_access=AccessInfo(("group:sales",), 1))
    assert ["note.txt"] == report.added
    assert {("group:sales",)} == await _chunk_acls(db, "note.txt")
