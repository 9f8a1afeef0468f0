"""Ingest a folder: read, check access metadata, split, embed, store; report what happened.

Unchanged files do no work, a changed file replaces its chunks, a file whose access metadata alone
changed is updated without re-embedding, and files gone from the folder lose their chunks. A file
that cannot be read is reported and skipped; the rest goes on.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import NamedTuple

from knowledge.access import ACCESS_FILE, AccessError, AccessInfo, folder_access, merge_access
from knowledge.chunking import make_splitter, split_sections
from knowledge.keywords import to_tsvector
from knowledge.parsing import SUPPORTED_SUFFIXES, ParsedDocument, ParseError, Section, parse_file
from knowledge.store import ChunkRow, DocumentRow, DocumentState, KnowledgeStore
from llm.embeddings import Embedder

__all__ = ["IngestReport", "Ingestor", "ProgressCallback"]

_log = logging.getLogger(__name__)

#: A refusal's reason is cut to this many characters (a hostile file must not flood the report).
_REASON_CHARS = 200
#: Formats whose files can carry their own access metadata (front matter).
_METADATA_SUFFIXES = frozenset({".md", ".markdown"})
#: Called once per file with (relative path, outcome); outcome is a key of IngestReport.counts().
ProgressCallback = Callable[[str, str], None]


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
        max_file_bytes: int = 5_000_000,
    ) -> None:
        self._store = store
        self._embedder = embedder
        self._splitter = make_splitter(embedder.count_tokens, chunk_tokens, overlap_tokens)
        self._chunk_tokens = chunk_tokens
        self._max_bytes = max_file_bytes

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
            progress: called after each file.
        """
        started = time.perf_counter()
        target, is_dir, files = await asyncio.to_thread(self._scan, path)
        root = target if is_dir else target.parent
        report = IngestReport(root=str(root))
        await self._store.ensure_vector_index()
        known = await self._store.documents_under(str(root))
        seen: set[str] = set()
        for file in files:
            relative = file.relative_to(root).as_posix()
            seen.add(relative)
            outcome = await self._one(root, file, relative, known, default_access, report)
            if progress is not None:
                progress(relative, outcome)
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

    def _read(
        self, root: Path, file: Path, relative: str, default: AccessInfo | None, stored_hash: str | None = None
    ) -> _Read:
        """Read, parse and resolve access for one file (blocking I/O: runs in a worker thread).

        A file whose hash is ``stored_hash`` is not parsed unless its access can be in the file
        (Markdown front matter): an unchanged PDF costs a hash, not a parse.

        A link is followed only inside the source, and the file then has the access of where it
        really is: a link in a public folder to an HR file is the HR file, not a public one.
        """
        real = file.resolve()
        if real != file and not real.is_relative_to(root):
            raise AccessError("a link to a file outside the source")
        if real.stat().st_size > self._max_bytes:
            raise ParseError(f"larger than {self._max_bytes} bytes")
        raw = real.read_bytes()
        content_hash = hashlib.sha256(raw).hexdigest()
        if content_hash == stored_hash and real.suffix.lower() not in _METADATA_SUFFIXES:
            return _Read(None, merge_access(folder_access(real.parent, root, default), {}, relative), content_hash)
        parsed = parse_file(real, raw)
        access = merge_access(folder_access(real.parent, root, default), parsed.metadata, relative)
        return _Read(parsed, access, content_hash)

    async def _one(
        self,
        root: Path,
        file: Path,
        relative: str,
        known: dict[str, DocumentState],
        default_access: AccessInfo | None,
        report: IngestReport,
    ) -> str:
        if file.suffix.lower() not in SUPPORTED_SUFFIXES or file.name == ACCESS_FILE:
            report.skipped.append(relative)
            return "skipped"
        state = known.get(relative)
        same_model = state is not None and state.embedding_model == self._store.model
        stored_hash = state.content_hash if state is not None and same_model else None
        try:
            parsed, access, content_hash = await asyncio.to_thread(
                self._read, root, file, relative, default_access, stored_hash
            )
        except (OSError, ParseError, AccessError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            return await self._refuse(relative, reason, state, report)
        except Exception as exc:  # one bad file never stops a sync: it is refused like the others
            _log.warning("ingest: unexpected failure path=%s error=%s", relative, type(exc).__name__)
            return await self._refuse(relative, f"could not be read ({type(exc).__name__})", state, report)
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
        vectors = await self._embedder.embed_passages([f"{parsed.title}\n{p.text}" for p in pieces])
        chunks = [
            ChunkRow(i, p.text, self._embedder.count_tokens(p.text), location=p.location) for i, p in enumerate(pieces)
        ]
        # The keyword leg's terms, from the same "title + piece" the vector was made of.
        chunks = [replace(c, keywords=to_tsvector(f"{parsed.title}\n{c.text}")) for c in chunks]
        doc = DocumentRow(
            root=str(root),
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

    async def _refuse(self, relative: str, reason: str, state: DocumentState | None, report: IngestReport) -> str:
        """Report a refused file; if it was served before, withdraw it (its old access may be wider
        than what its files now say): it comes back when it is fixed."""
        report.refused.append((relative, reason[:_REASON_CHARS]))
        if state is not None:
            await self._store.delete_documents([state.id])
            report.withdrawn.append(relative)
        return "refused"
