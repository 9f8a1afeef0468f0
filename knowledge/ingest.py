"""Ingest a folder: read, check access metadata, split, embed, store; report what happened.

Unchanged files do no work, a changed file replaces its chunks, a file whose access metadata alone
changed is updated without re-embedding, and files gone from the folder lose their chunks. A file
that cannot be read is reported and skipped; the rest goes on.

An unchanged re-sync costs a read and a hash per file: files are checked against the stored hashes
in groups on one worker thread (not a thread hop each), and each folder's ``.kura-access.yaml`` is
read once per run, not once per file (10,000 files: 5.3-5.7 s before, ~1.4 s after; bench/README.md).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal, NamedTuple, overload

import numpy as np

from knowledge.access import ACCESS_FILE, AccessError, AccessInfo, folder_access, merge_access
from knowledge.chunking import make_splitter, split_sections
from knowledge.keywords import to_tsvector
from knowledge.parsing import SUPPORTED_SUFFIXES, ParsedDocument, ParseError, Section, parse_file
from knowledge.store import ChunkRow, DocumentRow, DocumentState, KnowledgeStore
from llm.embeddings import Embedder, Vector

__all__ = ["IngestProgress", "IngestReport", "Ingestor", "ProgressCallback"]

_log = logging.getLogger(__name__)

#: A refusal's reason is cut to this many characters (a hostile file must not flood the report).
_REASON_CHARS = 200
#: Formats whose files can carry their own access metadata (front matter).
_METADATA_SUFFIXES = frozenset({".md", ".markdown"})
#: Files checked against their stored hash per trip to the worker thread.
_CHECK_GROUP = 256


@dataclass(frozen=True)
class IngestProgress:
    """Where an ingest run is: told at the start, after each file, and while a file's chunks are
    embedded (a long PDF takes minutes: the count of chunks moves meanwhile)."""

    files_done: int
    files_total: int
    #: Chunks embedded so far in this run.
    chunks: int
    #: The file just finished, or whose chunks are being embedded ("" at the start).
    path: str = ""
    #: A key of :meth:`IngestReport.counts` once the file is done; "embedding" while its chunks are.
    outcome: str = ""
    #: The share of ``path``'s chunks embedded so far while ``outcome`` is "embedding" (0 to 1).
    file_share: float = 0.0


#: Called with the run's progress; must be quick (it runs on the event loop).
ProgressCallback = Callable[[IngestProgress], None]


@dataclass
class IngestReport:
    """What one ingest run did."""

    root: str
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    access_updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)
    #: Refused files that were served before: taken out until they are fixed (fail closed).
    withdrawn: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    #: Files ingested with a part left out (a sheet cut at its row cap), and what was left out.
    cut: list[tuple[str, str]] = field(default_factory=list)
    chunks_written: int = 0
    seconds: float = 0.0

    def counts(self) -> dict[str, int]:
        """Number of files per outcome."""
        return {
            "added": len(self.added),
            "changed": len(self.changed),
            "access_updated": len(self.access_updated),
            "unchanged": len(self.unchanged),
            "removed": len(self.removed),
            "refused": len(self.refused),
            "withdrawn": len(self.withdrawn),
            "skipped": len(self.skipped),
        }


class _Read(NamedTuple):
    #: None when the file is unchanged and holds no access metadata: it was not parsed at all.
    parsed: ParsedDocument | None
    access: AccessInfo
    content_hash: str


#: A file's check against its stored hash: unchanged (read), a reason to refuse it, or None (read it in full).
_Checked = _Read | Exception | None


class _FolderAccess:
    """``folder_access`` once per folder for one run: the nearest ``.kura-access.yaml`` is the same
    for every file of a folder, and parsing it per file was a third of an unchanged re-sync."""

    def __init__(self, root: Path, default: AccessInfo | None) -> None:
        self._root = root
        self._default = default
        self._seen: dict[Path, AccessInfo | AccessError | None] = {}

    def of(self, folder: Path) -> AccessInfo | None:
        if folder not in self._seen:
            try:
                self._seen[folder] = folder_access(folder, self._root, self._default)
            except AccessError as exc:
                self._seen[folder] = exc
        found = self._seen[folder]
        if isinstance(found, AccessError):
            raise found
        return found


def _walk(root: Path) -> list[Path]:
    files: list[Path] = []
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if any(part.startswith(".") for part in relative.parts) or not path.is_file():
            continue
        files.append(path)
    return files


class Ingestor:
    """Brings a folder's documents into the store."""

    def __init__(
        self,
        store: KnowledgeStore,
        embedder: Embedder,
        *,
        chunk_tokens: int = 256,
        overlap_tokens: int = 32,
        max_file_bytes: int = 50 * 1024 * 1024,
        progress_chunks: int = 32,
    ) -> None:
        self._store = store
        self._embedder = embedder
        self._splitter = make_splitter(embedder.count_tokens, chunk_tokens, overlap_tokens)
        self._chunk_tokens = chunk_tokens
        self._max_bytes = max_file_bytes
        # Chunks embedded per call when progress is watched. The e5 engine's throughput does not
        # depend on how many texts a call holds (bench/ingest_throughput.py --profile-embedder).
        self._progress_chunks = max(1, progress_chunks)

    def files(self, root: Path) -> list[Path]:
        """The candidate files under ``root`` (hidden files and folders excluded)."""
        return _walk(root) if root.is_dir() else [root]

    async def ingest(
        self, path: Path, *, default_access: AccessInfo | None = None, progress: ProgressCallback | None = None
    ) -> IngestReport:
        """Ingest a folder (or one file) and return the report.

        Args:
            path: the folder to mirror; its files' paths are stored relative to it.
            default_access: access for files with no ``.kura-access.yaml`` or front matter; when
                None such files are refused (nothing is stored readable by accident).
            progress: told where the run is (:class:`IngestProgress`): at the start, after each
                file, and as a file's chunks are embedded.
        """
        started = time.perf_counter()
        target, is_dir, files = await asyncio.to_thread(self._scan, path)
        root = target if is_dir else target.parent
        report = IngestReport(root=str(root))
        run = _Run(root, _FolderAccess(root, default_access), report, progress, len(files))
        run.tell()
        await self._store.ensure_vector_index()
        known = await self._store.documents_under(str(root))
        seen: set[str] = set()
        for start in range(0, len(files), _CHECK_GROUP):
            group = files[start : start + _CHECK_GROUP]
            checked = await asyncio.to_thread(self._check_group, run, group, known)
            for file, check in zip(group, checked, strict=True):
                relative = file.relative_to(root).as_posix()
                seen.add(relative)
                outcome = await self._one(run, file, relative, known, check)
                run.files_done += 1
                run.tell(relative, outcome)
        if is_dir:
            gone = {p: s for p, s in known.items() if p not in seen}
            await self._store.delete_documents([s.id for s in gone.values()])
            report.removed.extend(sorted(gone))
        # Chunks stored before keywords existed get them now, without re-embedding (no-op when none).
        await self._store.fill_keywords(str(root), to_tsvector)
        report.seconds = time.perf_counter() - started
        _log.info("ingest done root=%s counts=%s", root, report.counts())
        return report

    def _scan(self, path: Path) -> tuple[Path, bool, list[Path]]:
        target = path.resolve()
        if not target.exists():
            raise FileNotFoundError(f"{path}: no such file or folder")
        return target, target.is_dir(), self.files(target)

    def _stored_hash(self, known: dict[str, DocumentState], relative: str) -> str | None:
        state = known.get(relative)
        return state.content_hash if state is not None and state.embedding_model == self._store.model else None

    def _check_group(self, run: _Run, files: list[Path], known: dict[str, DocumentState]) -> list[_Checked]:
        """Check files against their stored hashes on one worker thread: an unchanged file is read
        here and done; a new or changed one is left for :meth:`_read` (None), so that no more than
        one parsed document is held at a time."""
        checked: list[_Checked] = []
        for file in files:
            relative = file.relative_to(run.root).as_posix()
            stored = self._stored_hash(known, relative)
            if stored is None or not _ingestible(file):
                checked.append(None)
                continue
            try:
                checked.append(self._read(run, file, relative, stored, unchanged_only=True))
            except Exception as exc:  # refused by _one, with the same reasons as a full read
                checked.append(exc)
        return checked

    @overload
    def _read(
        self, run: _Run, file: Path, relative: str, stored_hash: str | None, *, unchanged_only: Literal[False] = False
    ) -> _Read: ...

    @overload
    def _read(
        self, run: _Run, file: Path, relative: str, stored_hash: str | None, *, unchanged_only: bool
    ) -> _Read | None: ...

    def _read(
        self, run: _Run, file: Path, relative: str, stored_hash: str | None, *, unchanged_only: bool = False
    ) -> _Read | None:
        """Read, parse and resolve access for one file (blocking I/O: runs in a worker thread).

        A file whose hash is ``stored_hash`` is not parsed unless its access can be in the file
        (Markdown front matter): an unchanged PDF costs a hash, not a parse. With ``unchanged_only``
        a file whose hash differs is not parsed either: None.

        A link is followed only inside the source, and the file then has the access of where it
        really is: a link in a public folder to an HR file is the HR file, not a public one.
        """
        real = file.resolve()
        if real != file and not real.is_relative_to(run.root):
            raise AccessError("a link to a file outside the source")
        size = real.stat().st_size
        if size > self._max_bytes:
            raise ParseError(
                f"larger than {_megabytes(self._max_bytes)} ({size:,} bytes; KURA_RETRIEVAL_MAX_FILE_BYTES)"
            )
        raw = real.read_bytes()
        content_hash = hashlib.sha256(raw).hexdigest()
        if unchanged_only and content_hash != stored_hash:
            return None
        if content_hash == stored_hash and real.suffix.lower() not in _METADATA_SUFFIXES:
            return _Read(None, merge_access(run.access.of(real.parent), {}, relative), content_hash)
        parsed = parse_file(real, raw)
        access = merge_access(run.access.of(real.parent), parsed.metadata, relative)
        return _Read(parsed, access, content_hash)

    async def _one(self, run: _Run, file: Path, relative: str, known: dict[str, DocumentState], check: _Checked) -> str:
        report = run.report
        if not _ingestible(file):
            report.skipped.append(relative)
            return "skipped"
        state = known.get(relative)
        try:
            if isinstance(check, Exception):
                raise check
            read = check
            if read is None:
                stored = self._stored_hash(known, relative)
                read = await asyncio.to_thread(self._read, run, file, relative, stored)
        except (OSError, ParseError, AccessError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            return await self._refuse(relative, reason, state, report)
        except Exception as exc:  # one bad file never stops a sync: it is refused like the others
            _log.warning("ingest: unexpected failure path=%s error=%s", relative, type(exc).__name__)
            return await self._refuse(relative, f"could not be read ({type(exc).__name__})", state, report)
        parsed, access, content_hash = read
        if state is not None and state.content_hash == content_hash and state.embedding_model == self._store.model:
            if (state.acl, state.classification, state.owner) == (access.allow, access.classification, access.owner):
                report.unchanged.append(relative)
                return "unchanged"
            await self._store.update_access(state.id, access.allow, access.classification, access.owner)
            report.access_updated.append(relative)
            return "access_updated"
        if parsed is None:  # unchanged (hash equal) yet not parsed: cannot happen, but never store nothing
            raise RuntimeError("an unparsed file reached the write path")
        # Each section is split on its own, so every chunk knows where it is (page, slide, rows).
        sections = parsed.sections or (Section(None, parsed.text),)
        pieces = split_sections(self._splitter, sections, self._embedder.count_tokens, self._chunk_tokens)
        vectors = await self._embed(run, relative, [f"{parsed.title}\n{p.text}" for p in pieces])
        chunks = [
            ChunkRow(i, p.text, self._embedder.count_tokens(p.text), location=p.location) for i, p in enumerate(pieces)
        ]
        # The keyword leg's terms, from the same "title + piece" the vector was made of.
        chunks = [replace(c, keywords=to_tsvector(f"{parsed.title}\n{c.text}")) for c in chunks]
        doc = DocumentRow(
            root=str(run.root),
            path=relative,
            title=parsed.title,
            content_hash=content_hash,
            acl=access.allow,
            classification=access.classification,
            owner=access.owner,
            embedding_model=self._store.model,
        )
        await self._store.replace_document(doc, chunks, vectors)
        report.chunks_written += len(chunks)
        report.cut.extend((relative, note) for note in parsed.notes)
        (report.changed if state is not None else report.added).append(relative)
        return "changed" if state is not None else "added"

    async def _embed(self, run: _Run, relative: str, texts: list[str]) -> Vector:
        """Embed a document's texts; when progress is watched, a slice at a time, telling after each."""
        if run.progress is None or len(texts) <= self._progress_chunks:
            vectors = await self._embedder.embed_passages(texts)
            run.chunks += len(texts)
            return vectors
        parts: list[Vector] = []
        for start in range(0, len(texts), self._progress_chunks):
            parts.append(await self._embedder.embed_passages(texts[start : start + self._progress_chunks]))
            run.chunks += len(parts[-1])
            run.tell(relative, "embedding", min(1.0, (start + self._progress_chunks) / len(texts)))
        return np.vstack(parts)

    async def _refuse(self, relative: str, reason: str, state: DocumentState | None, report: IngestReport) -> str:
        """Report a refused file; if it was served before, withdraw it (its old access may be wider
        than what its files now say): it comes back when it is fixed."""
        report.refused.append((relative, reason[:_REASON_CHARS]))
        if state is not None:
            await self._store.delete_documents([state.id])
            report.withdrawn.append(relative)
        return "refused"


@dataclass
class _Run:
    """One ingest run's state: its root, access per folder, report and progress."""

    root: Path
    access: _FolderAccess
    report: IngestReport
    progress: ProgressCallback | None
    files_total: int
    files_done: int = 0
    chunks: int = 0

    def tell(self, path: str = "", outcome: str = "", file_share: float = 0.0) -> None:
        if self.progress is not None:
            self.progress(IngestProgress(self.files_done, self.files_total, self.chunks, path, outcome, file_share))


def _ingestible(file: Path) -> bool:
    return file.suffix.lower() in SUPPORTED_SUFFIXES and file.name != ACCESS_FILE


def _megabytes(size: int) -> str:
    """A limit as people write it: ``50 MB`` (MiB), or bytes below one."""
    mib = size / (1024 * 1024)
    return f"{mib:.3g} MB" if mib >= 1 else f"{size:,} bytes"
