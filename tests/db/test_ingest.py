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
    """All 23 sample documents are added with chunks; nothing refused."""
    store, ingestor = _ingestor(db, embedder)
    report = await ingestor.ingest(corpus)
    assert 23 == len(report.added)
    assert [] == report.refused
    stats = await store.stats()
    assert 23 == stats.documents
    assert report.chunks_written == stats.chunks
    assert {("group:hr",)} == await _chunk_acls(db, "hr/給与規程.md")
    assert {("public",)} == await _chunk_acls(db, "handbook/announcements.md")  # front matter wins
    assert {("group:sales",)} == await _chunk_acls(db, "handbook/sales/commission.md")  # nearest file wins


async def test_reingest_unchanged_does_no_work(db: Database, embedder: E5Embedder, corpus: Path) -> None:
    """A second run over the same files writes nothing."""
    _, ingestor = _ingestor(db, embedder)
    await ingestor.ingest(corpus)
    again = await ingestor.ingest(corpus)
    assert 23 == len(again.unchanged)
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
    assert 23 == (await store.stats()).documents


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
    expected = ["public/company-overview.md", "public/faq.html", "public/会社概要.md", "public/製品ラインナップ.pptx"]
    assert expected == sorted(report.access_updated)
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
    assert 23 == len(report.added)


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


async def test_links_never_leave_the_source_and_carry_their_targets_access(
    db: Database, embedder: E5Embedder, corpus: Path, tmp_path: Path
) -> None:
    """In a public folder: a link to an HR file is stored with HR's access (never public); a link to
    a file outside the source (an .env) and a linked access file are refused; nothing outside is read."""
    secret = tmp_path / "outside.md"
    secret.write_text("# Secrets\n\nKURA_AUDIT_KEY=do-not-read\n", encoding="utf-8")
    (corpus / "public" / "pay-link.md").symlink_to(corpus / "hr" / "給与規程.md")
    (corpus / "public" / "env-link.md").symlink_to(secret)
    linked = corpus / "linked"
    linked.mkdir()
    (linked / ".kura-access.yaml").symlink_to(corpus / "public" / ".kura-access.yaml")
    (linked / "note.md").write_text("# Note\n\n誰でも読める？\n", encoding="utf-8")
    _, ingestor = _ingestor(db, embedder)
    report = await ingestor.ingest(corpus)
    refused = dict(report.refused)
    assert {"public/env-link.md", "linked/note.md"} == set(refused)
    assert "outside the source" in refused["public/env-link.md"]
    assert "may not be a link" in refused["linked/note.md"]
    assert {("group:hr",)} == await _chunk_acls(db, "public/pay-link.md")
    async with db.sessions() as session:
        texts = list(await session.scalars(select(Chunk.text)))
    assert not any("do-not-read" in t for t in texts)


async def test_a_document_refused_on_resync_is_withdrawn_until_fixed(
    db: Database, embedder: E5Embedder, corpus: Path
) -> None:
    """A served folder whose access file breaks: its documents are no longer stored (fail closed) and
    the report says so; fixing the file brings them back."""
    store, ingestor = _ingestor(db, embedder)
    await ingestor.ingest(corpus)
    access = corpus / "hr" / ".kura-access.yaml"
    good = access.read_text(encoding="utf-8")
    access.write_text("allow: [group:hr\nclassification: confidential\n", encoding="utf-8")
    broken = await ingestor.ingest(corpus)
    hr = sorted(p for p in (await store.documents_under(broken.root)) if p.startswith("hr/"))
    assert [] == hr
    assert {"hr/salary-bands.md", "hr/人事評価.md", "hr/給与規程.md"} == set(broken.withdrawn)
    assert all("not valid YAML" in reason for path, reason in broken.refused if path.startswith("hr/"))
    access.write_text(good, encoding="utf-8")
    fixed = await ingestor.ingest(corpus)
    assert {"hr/salary-bands.md", "hr/人事評価.md", "hr/給与規程.md"} == set(fixed.added)


async def test_hostile_yaml_is_refused_per_file_and_the_sync_goes_on(
    db: Database, embedder: E5Embedder, corpus: Path
) -> None:
    """An alias bomb in an access file, deep nesting and megabytes in front matter: each file is
    refused with a short reason; the rest of the run (other files, deletions) still happens."""
    _, ingestor = _ingestor(db, embedder)
    await ingestor.ingest(corpus)
    bomb = corpus / "bomb"
    bomb.mkdir()
    laughs = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8)
    )
    (bomb / ".kura-access.yaml").write_text(laughs, encoding="utf-8")
    (bomb / "a.md").write_text("# A\n\nbody\n", encoding="utf-8")
    (corpus / "public" / "deep.md").write_text("---\nx: " + "[" * 5000 + "]" * 5000 + "\n---\n# D\n\nbody\n", "utf-8")
    (corpus / "public" / "huge.md").write_text("---\nx: '" + "y" * 200_000 + "'\n---\n# H\n\nbody\n", "utf-8")
    (corpus / "handbook" / "remote-work.md").unlink()
    report = await ingestor.ingest(corpus)
    refused = dict(report.refused)
    assert "aliases are not allowed" in refused["bomb/a.md"]
    assert "nested deeper" in refused["public/deep.md"]
    assert "larger than" in refused["public/huge.md"]
    assert all(len(reason) <= 200 for reason in refused.values())
    assert ["handbook/remote-work.md"] == report.removed
    assert 22 == len(report.unchanged)
