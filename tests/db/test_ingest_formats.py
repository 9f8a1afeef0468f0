"""Ingest of every document format on the real embedded PostgreSQL: chunks know where they are,
search returns it, bad files are refused with a reason and the rest goes on."""

from __future__ import annotations

import io
import shutil
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.db import Database
from bot.wiring import sample_knowledge
from knowledge import Ingestor, KnowledgeStore
from knowledge.access import ACCESS_FILE
from knowledge.models import Chunk, Document
from llm import E5Embedder

pytestmark = pytest.mark.db

DATA = Path(__file__).resolve().parent.parent / "data" / "formats"
NEW_FORMATS = [
    "handbook/出張規程.docx",
    "handbook/経費科目.xlsx",
    "handbook/拠点一覧.csv",
    "it/ネットワーク構成.pdf",
    "managers/キックオフ.vtt",
    "public/faq.html",
    "public/製品ラインナップ.pptx",
]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """The sample files of every new format (with their folders' access), plus bad files."""
    root = tmp_path / "kb"
    for relative in NEW_FORMATS:
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(sample_knowledge() / relative, target)
        shutil.copy(sample_knowledge() / target.parent.name / ACCESS_FILE, target.parent / ACCESS_FILE)
    bad = root / "public" / "bad"
    bad.mkdir()
    shutil.copy(DATA / "encrypted.pdf", bad / "secret.pdf")
    shutil.copy(DATA / "image-only.pdf", bad / "scan.pdf")
    (bad / "broken.docx").write_bytes(b"PK\x03\x04 not really a zip")
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", '<Types><Override ContentType="x.spreadsheetml.sheet.main+xml"/></Types>')
        z.writestr("xl/workbook.xml", b"<" * (60 * 1024 * 1024))
    (bad / "bomb.xlsx").write_bytes(archive.getvalue())
    return root


async def _locations(db: Database, path: str) -> list[str | None]:
    async with db.sessions() as session:
        rows = await session.scalars(
            select(Chunk.location).join(Document).where(Document.path == path).order_by(Chunk.ordinal)
        )
        return list(rows)


async def test_every_format_ingested_with_locations(db: Database, embedder: E5Embedder, folder: Path) -> None:
    """Each format's chunks carry their location; bad files are refused with one line each."""
    store = KnowledgeStore(db.sessions, embedder.name, embedder.dim)
    ingestor = Ingestor(store, embedder, chunk_tokens=120, overlap_tokens=10)
    report = await ingestor.ingest(folder)
    assert sorted(NEW_FORMATS) == sorted(report.added)
    refused = dict(report.refused)
    assert refused["public/bad/secret.pdf"].startswith("encrypted")
    assert "no text layer (scanned?)" == refused["public/bad/scan.pdf"]
    assert "not a valid DOCX file" == refused["public/bad/broken.docx"]
    assert refused["public/bad/bomb.xlsx"].startswith("too large when unpacked")

    assert {"p. 1", "p. 2", "p. 3"} == set(await _locations(db, "it/ネットワーク構成.pdf"))
    assert {"slide 1", "slide 2", "slide 3", "slide 4"} == set(await _locations(db, "public/製品ラインナップ.pptx"))
    assert "第2条 日当" in await _locations(db, "handbook/出張規程.docx")
    assert {"00:00:05", "00:01:10"} == set(await _locations(db, "managers/キックオフ.vtt"))
    assert ["rows 2-3", "row 4"] == await _locations(db, "handbook/拠点一覧.csv")  # 120-token chunks
    sheet = await _locations(db, "handbook/経費科目.xlsx")
    assert len(sheet) > 1
    assert str(sheet[0]).startswith("経費科目 rows 2-")
    assert "注意事項 rows 2-3" == sheet[-1]
    async with db.sessions() as session:
        texts = await session.scalars(
            select(Chunk.text)
            .join(Document)
            .where(Document.path == "handbook/経費科目.xlsx", Chunk.location.like("経費科目%"))
        )
        assert all(t.startswith("コード | 科目 | 内容 | 上限（円） | 承認\n") for t in texts)

    query = await embedder.embed_query("VPN ゲートウェイのホスト名は？")
    hits = await store.search(query, [frozenset({"group:it"})], clearance=3, k=3)
    assert ("it/ネットワーク構成.pdf", "p. 2") == (hits[0].source, hits[0].location)

    again = await ingestor.ingest(folder)
    assert sorted(NEW_FORMATS) == sorted(again.unchanged)
    assert 0 == again.chunks_written
