"""Ingest progress on the real embedded PostgreSQL and the packaged e5 model: what the callback hears
as a run goes (files done of all, chunks embedded), and the file size limit."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from bot.db import Database
from bot.settings import RetrievalSettings
from bot.wiring import sample_knowledge
from knowledge import Ingestor, KnowledgeStore
from knowledge.ingest import IngestProgress
from llm import E5Embedder

pytestmark = pytest.mark.db


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """The sample handbook folder (with its access files), and one file the ingest skips."""
    target = tmp_path / "kb"
    shutil.copytree(sample_knowledge() / "handbook", target)
    (target / "picture.bin").write_bytes(b"\x00" * 16)
    return target


async def test_progress_tells_files_done_of_all_and_chunks_as_ingest_goes(
    db: Database, embedder: E5Embedder, corpus: Path
) -> None:
    """Told at the start (0 of all, 0 chunks), while a file's chunks are embedded (a slice at a
    time) and after each file; the counts only grow and end at the report's; a re-sync tells every
    file again, with no chunks."""
    store = KnowledgeStore(db.sessions, embedder.name, embedder.dim)
    ingestor = Ingestor(store, embedder, chunk_tokens=64, overlap_tokens=8, progress_chunks=2)
    heard: list[IngestProgress] = []
    report = await ingestor.ingest(corpus, progress=heard.append)

    total = await asyncio.to_thread(lambda: len(ingestor.files(corpus.resolve())))
    assert IngestProgress(0, total, 0) == heard[0]
    assert {p.files_total for p in heard} == {total}
    done = [p for p in heard if p.outcome not in {"", "embedding"}]
    assert [p.files_done for p in done] == list(range(1, total + 1))
    assert sorted(p.path for p in done) == sorted(report.added + report.skipped)
    assert {"picture.bin": "skipped"} == {p.path: p.outcome for p in done if p.outcome != "added"}
    assert [p.chunks for p in heard] == sorted(p.chunks for p in heard)
    assert report.chunks_written == heard[-1].chunks > 0
    embedding = [p for p in heard if p.outcome == "embedding"]
    assert embedding, "a file cut into more than two chunks is told about while it is embedded"
    assert all(0 < p.file_share <= 1 and p.files_done < total for p in embedding)
    # Within a file the chunk count moves before the file is done.
    first = embedding[0]
    assert first.chunks < next(p.chunks for p in done if p.path == first.path)

    again: list[IngestProgress] = []
    resync = await ingestor.ingest(corpus, progress=again.append)
    assert [p.files_done for p in again] == list(range(total + 1))
    assert all(p.chunks == 0 for p in again)
    assert len(resync.unchanged) == len(report.added)


async def test_a_file_over_the_size_limit_is_refused_in_one_line_and_the_sync_goes_on(
    db: Database, embedder: E5Embedder, corpus: Path
) -> None:
    """The reason names the limit, the size and the setting; the other files are ingested."""
    big = corpus / "big.md"
    big.write_text("# Big\n\n" + "大きな文書です。" * 2000, encoding="utf-8")
    store = KnowledgeStore(db.sessions, embedder.name, embedder.dim)
    ingestor = Ingestor(store, embedder, max_file_bytes=20_000)
    report = await ingestor.ingest(corpus)
    reason = dict(report.refused)["big.md"]
    assert "\n" not in reason
    assert reason.startswith("larger than 20,000 bytes (")
    assert f"{big.stat().st_size:,} bytes" in reason
    assert "KURA_RETRIEVAL_MAX_FILE_BYTES" in reason
    assert report.added


def test_the_default_file_size_limit_is_the_office_guards_unpacked_cap() -> None:
    """Real PDFs, decks and workbooks are often over 5 MB: the default is 50 MiB, the size the Office
    zip-bomb guard lets a package unpack to, so one limit holds for every format."""
    from knowledge.formats.office import MAX_UNPACKED

    assert 50 * 1024 * 1024 == RetrievalSettings().max_file_bytes == MAX_UNPACKED
