"""Sources as data: the one seam every sync goes through (``kura sources …``, ``kura ingest``,
``/kura sync``, schedules of kind ``sync``, ``kura faq refresh``).

A source is a registered folder with the default access of its files that carry none. A sync
ingests it incrementally (unchanged files cost nothing), records what changed, and then sends the
FAQ entries whose cited documents changed, moved or lost readers back to review, once per run, so
that no sync path can leave an entry served from a document that is no longer what was approved.
"""

from __future__ import annotations

import asyncio
import builtins
import logging
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import TYPE_CHECKING

from bot.core.ports import PolicySource
from bot.errors import InputError
from knowledge.access import LEVELS, AccessError, AccessInfo, merge_access
from knowledge.sources_store import SourceClash, SourceRecord, SourceStore

if TYPE_CHECKING:
    from knowledge.faq_store import FaqStore
    from knowledge.ingest import Ingestor, IngestReport, ProgressCallback

__all__ = ["ProgressFactory", "Removed", "SourceService", "SourceSync", "SyncRun", "source_access"]

_log = logging.getLogger(__name__)

#: A source's name: short enough that its schedule ``sync-NAME`` is a valid schedule name too.
_NAME_CHARS = 59
_NAME = re.compile(rf"^[A-Za-z0-9._-]{{1,{_NAME_CHARS}}}$")

#: Given a source's name and how many files it has, a context whose callback hears each file's
#: outcome (the CLI's progress bar).
ProgressFactory = Callable[[str, int], AbstractContextManager["ProgressCallback"]]


def source_access(source: SourceRecord) -> AccessInfo | None:
    """The access of a source's files that carry none (None: such files are refused)."""
    if source.allow is None or source.classification is None:
        return None
    return AccessInfo(source.allow, source.classification)


@dataclass(frozen=True)
class SourceSync:
    """One source's part of a sync: the ingest report, or the one line saying why it could not run."""

    name: str
    path: str
    report: IngestReport | None = None
    error: str | None = None

    def as_json(self) -> dict[str, object]:
        """``{name, path, counts, seconds, chunks_written, refused: [{path, reason}], cut: [{path,
        reason}], withdrawn, removed, error}`` (counts and seconds null when it failed)."""
        r = self.report
        return {
            "name": self.name,
            "path": self.path,
            "counts": r.counts() if r else None,
            "seconds": round(r.seconds, 3) if r else None,
            "chunks_written": r.chunks_written if r else 0,
            "refused": [{"path": p, "reason": why} for p, why in r.refused] if r else [],
            "cut": [{"path": p, "reason": why} for p, why in r.cut] if r else [],
            "withdrawn": list(r.withdrawn) if r else [],
            "removed": list(r.removed) if r else [],
            "error": self.error,
        }


@dataclass(frozen=True)
class SyncRun:
    """A sync of one source or all: each source's result, and the FAQ entries sent back to review
    after it (id, reason). Iterating gives the sources' results."""

    sources: tuple[SourceSync, ...]
    stale: tuple[tuple[int, str], ...] = ()

    def __iter__(self) -> Iterator[SourceSync]:
        return iter(self.sources)

    def __len__(self) -> int:
        return len(self.sources)

    def stale_json(self) -> list[dict[str, object]]:
        """The stale entries as ``[{id, reason}]``."""
        return [{"id": entry, "reason": reason} for entry, reason in self.stale]

    def as_json(self) -> dict[str, object]:
        """``{"sources": [one per source], "stale": [{id, reason}]}``."""
        return {"sources": [s.as_json() for s in self.sources], "stale": self.stale_json()}


@dataclass(frozen=True)
class Removed:
    """A removed source and how many of its documents went."""

    source: SourceRecord
    documents: int


def _default_name(path: Path, taken: set[str]) -> str:
    """The folder's name in the letters a name may have, made unique with -2, -3, …; the same rule
    as migration 0011's backfill."""
    base = re.sub(r"[^A-Za-z0-9._-]+", "-", PurePath(path).name).strip("-.")[: _NAME_CHARS - 4] or "source"
    name, n = base, 2
    while name in taken:
        name, n = f"{base}-{n}", n + 1
    return name


def _checked_access(allow: Sequence[str], classification: str | None) -> AccessInfo | None:
    if not allow and not classification:
        return None
    if not allow or not classification:
        raise InputError("--allow and --classification go together")
    try:
        return merge_access(None, {"allow": list(allow), "classification": classification}, "default access")
    except AccessError as exc:
        raise InputError(str(exc)) from exc


def _folder(path: Path) -> Path:
    """``path`` resolved; InputError when it is not an existing folder."""
    target = path.expanduser().resolve()
    if not target.is_dir():
        raise InputError(f"{path}: not a folder" if target.exists() else f"{path}: no such folder")
    return target


class SourceService:
    """The registry and its syncs. The ingestor and the FAQ store are asked for only when a sync
    runs: listing or removing sources never loads the embedding model."""

    def __init__(
        self,
        store: SourceStore,
        policy: PolicySource,
        *,
        ingestor: Callable[[], Ingestor],
        faq_store: Callable[[], FaqStore],
    ) -> None:
        self.store = store
        self._policy = policy
        self._ingestor = ingestor
        self._faq_store = faq_store

    async def add(
        self,
        path: Path,
        name: str | None = None,
        allow: Sequence[str] = (),
        classification: str | None = None,
        by: str | None = None,
    ) -> SourceRecord:
        """Register an existing folder (resolved absolute) under ``name`` (default: the folder's
        name, made unique), with the default access given by ``allow`` and a classification name
        (both or neither); InputError naming the problem or the clash."""
        access = _checked_access(allow, classification)
        folder = await asyncio.to_thread(_folder, path)
        name = await self.name_for(folder, name)
        try:
            return await self.store.add(
                name,
                str(folder),
                allow=access.allow if access else None,
                classification=access.classification if access else None,
                added_by=by,
            )
        except SourceClash as exc:
            raise InputError(str(exc)) from exc

    async def name_for(self, path: Path, name: str | None = None) -> str:
        """The name a folder is registered under: ``name`` checked, else the folder's name made
        unique (InputError for a bad name; a clash with ``name`` is found when adding)."""
        if name is None:
            folder = await asyncio.to_thread(_folder, path)
            return _default_name(folder, {s.name for s in await self.store.all()})
        if not _NAME.match(name):
            raise InputError(f"bad source name {name!r} (letters, digits, '.', '_' or '-'; at most {_NAME_CHARS})")
        return name

    async def ensure(self, path: Path, default: AccessInfo | None = None, by: str | None = None) -> SourceRecord:
        """The source registered for the folder ``path``, registered now (named after the folder,
        with ``default`` as its access) when it is not."""
        folder = await asyncio.to_thread(_folder, path)
        found = await self.store.by_path(str(folder))
        if found is not None:
            return found
        allow, level = (default.allow, LEVELS[default.classification]) if default else ((), None)
        try:
            return await self.add(folder, allow=allow, classification=level, by=by)
        except InputError:
            again = await self.store.by_path(str(folder))  # registered by someone else meanwhile
            if again is None:
                raise
            return again

    async def get(self, name: str) -> SourceRecord:
        """The source called ``name``; InputError when there is none."""
        found = await self.store.get(name)
        if found is None:
            raise InputError(f"no source named {name!r}")
        return found

    async def list(self) -> builtins.list[SourceRecord]:
        """Every source by name with its document and chunk counts and last sync."""
        return await self.store.all()

    async def sync(
        self, name: str | None = None, *, progress: ProgressFactory | None = None, mark_stale: bool = True
    ) -> SyncRun:
        """Sync one source (InputError when there is no such source) or every source, then send the
        FAQ entries whose documents changed back to review (once, unless ``mark_stale`` is False:
        ``kura faq refresh`` does it as a step of its own). A source that cannot be synced (its
        folder vanished) gets a one-line error and the others go on."""
        sources = [await self.get(name)] if name is not None else await self.store.all()
        results = [await self._sync_one(source, progress) for source in sources]
        stale = await self.mark_stale() if mark_stale else ()
        return SyncRun(tuple(results), stale)

    async def sync_folder(self, path: Path, *, by: str | None = None) -> SyncRun:
        """Sync the source of the folder ``path``, registering the folder first if it is not one."""
        source = await self.ensure(path, by=by)
        return await self.sync(source.name)

    async def mark_stale(self) -> tuple[tuple[int, str], ...]:
        """Send FAQ entries whose cited documents changed, moved or lost readers (or that are past
        the policy's verification interval) back to review."""
        days = self._policy.current().faq.verify_every_days
        return tuple(await self._faq_store().mark_stale(days))

    async def _sync_one(self, source: SourceRecord, progress: ProgressFactory | None) -> SourceSync:
        path = Path(source.path)
        ingestor = self._ingestor()
        try:
            if not await asyncio.to_thread(path.is_dir):
                raise FileNotFoundError(f"{source.path}: no such folder")
            default = source_access(source)
            if progress is None:
                report = await ingestor.ingest(path, default_access=default)
            else:
                total = len(await asyncio.to_thread(ingestor.files, path))
                with progress(source.name, total) as tell:
                    report = await ingestor.ingest(path, default_access=default, progress=tell)
        except OSError as exc:
            error = str(exc) if isinstance(exc, FileNotFoundError) else f"{source.path}: {exc.strerror or exc}"
            _log.warning("sync failed source=%s error=%s", source.name, type(exc).__name__)
            await self.store.record_failure(source.name, error)
            return SourceSync(source.name, source.path, error=error)
        await self.record(source.name, report)
        return SourceSync(source.name, source.path, report)

    async def record(self, name: str, report: IngestReport) -> None:
        """Remember an ingest of a source's folder as its last sync."""
        await self.store.record_sync(name, report.counts(), report.seconds)

    async def remove(self, name: str) -> Removed:
        """Unregister a source and delete its documents: they stop being served at once, and so do
        FAQ entries citing them (an entry is served only while every document it cites is there; the
        next sync sends it back to review). InputError when there is no such source."""
        removed = await self.store.remove(name)
        if removed is None:
            raise InputError(f"no source named {name!r}")
        return Removed(*removed)
