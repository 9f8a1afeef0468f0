"""All SQL of the sources registry (``kura_knowledge.sources``): the folders Kura keeps in sync.

A source's documents are the rows of ``documents`` whose ``root`` is the source's path, so counting
and removing them needs no column of its own, and folders ingested before the registry existed
(backfilled by migration 0011) count the same way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from knowledge.models import Document, Source

__all__ = ["SourceClash", "SourceRecord", "SourceStore"]


class SourceClash(ValueError):
    """A source with that name or path is registered already; the message names it."""


@dataclass(frozen=True)
class SourceRecord:
    """A registered source with what it holds now."""

    name: str
    path: str
    #: Access of files with no metadata of their own (None: such files are refused).
    allow: tuple[str, ...] | None
    classification: int | None
    added_by: str | None
    added_at: datetime
    synced_at: datetime | None
    #: The last sync: ``{"counts": {...}, "seconds": s}``, or ``{"error": line}`` when it failed.
    last_report: dict[str, Any] | None
    documents: int = 0
    chunks: int = 0


def _record(row: Source, documents: int = 0, chunks: int = 0) -> SourceRecord:
    return SourceRecord(
        row.name,
        row.path,
        tuple(row.allow) if row.allow is not None else None,
        row.classification,
        row.added_by,
        row.added_at,
        row.synced_at,
        row.last_report,
        documents,
        chunks,
    )


class SourceStore:
    """Reads and writes the registry, and a source's documents when it is removed."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def add(
        self,
        name: str,
        path: str,
        *,
        allow: Sequence[str] | None = None,
        classification: int | None = None,
        added_by: str | None = None,
    ) -> SourceRecord:
        """Register a source; SourceClash naming the source that has this name or path already."""
        async with self._sessions.begin() as session:
            await self._check_clash(session, name, path)
            row = Source(
                name=name,
                path=path,
                allow=list(allow) if allow is not None else None,
                classification=classification,
                added_by=added_by,
            )
            session.add(row)
            try:
                await session.flush()
            except IntegrityError as exc:  # added by someone else since the check
                raise SourceClash(f"a source named {name!r} or with the folder {path} was just added") from exc
            await session.refresh(row)
            documents, chunks = await self._counts(session, path)
            return _record(row, documents, chunks)

    @staticmethod
    async def _check_clash(session: AsyncSession, name: str, path: str) -> None:
        found = await session.scalars(select(Source).where(or_(Source.name == name, Source.path == path)))
        for other in found:
            if other.name == name:
                raise SourceClash(f"a source named {name!r} exists already ({other.path})")
            raise SourceClash(f"{path} is registered already as source {other.name!r}")

    @staticmethod
    async def _counts(session: AsyncSession, path: str) -> tuple[int, int]:
        query = select(func.count(), func.coalesce(func.sum(Document.chunk_count), 0)).where(Document.root == path)
        documents, chunks = (await session.execute(query)).one()
        return int(documents), int(chunks)

    async def get(self, name: str) -> SourceRecord | None:
        """The source called ``name``, with its counts."""
        async with self._sessions() as session:
            row = await session.get(Source, name)
            return None if row is None else _record(row, *await self._counts(session, row.path))

    async def by_path(self, path: str) -> SourceRecord | None:
        """The source registered for the folder ``path`` (absolute, as stored), with its counts."""
        async with self._sessions() as session:
            row = await session.scalar(select(Source).where(Source.path == path))
            return None if row is None else _record(row, *await self._counts(session, row.path))

    async def all(self) -> list[SourceRecord]:
        """Every source by name, with its document and chunk counts (one statement)."""
        counts = (
            select(
                Document.root.label("root"),
                func.count().label("documents"),
                func.sum(Document.chunk_count).label("chunks"),
            )
            .group_by(Document.root)
            .subquery()
        )
        query = (
            select(Source, func.coalesce(counts.c.documents, 0), func.coalesce(counts.c.chunks, 0))
            .outerjoin(counts, counts.c.root == Source.path)
            .order_by(Source.name)
        )
        async with self._sessions() as session:
            rows = (await session.execute(query)).all()
        return [_record(row, int(documents), int(chunks)) for row, documents, chunks in rows]

    async def remove(self, name: str) -> tuple[SourceRecord, int] | None:
        """Unregister a source and delete its documents (their chunks go with them) in one
        transaction; the source as it was and how many documents went, or None when there is none."""
        async with self._sessions.begin() as session:
            row = await session.get(Source, name, with_for_update=True)
            if row is None:
                return None
            record = _record(row, *await self._counts(session, row.path))
            gone = await session.execute(delete(Document).where(Document.root == row.path).returning(Document.id))
            removed = len(gone.all())
            await session.delete(row)
            return record, removed

    async def record_sync(self, name: str, counts: Mapping[str, int], seconds: float) -> None:
        """Remember a sync that ran: when, and how many files had each outcome."""
        report = {"counts": dict(counts), "seconds": round(seconds, 3)}
        async with self._sessions.begin() as session:
            await session.execute(
                update(Source).where(Source.name == name).values(synced_at=func.now(), last_report=report)
            )

    async def record_failure(self, name: str, error: str) -> None:
        """Remember a sync that could not run (its one-line reason); ``synced_at`` stays the last
        sync that did."""
        async with self._sessions.begin() as session:
            await session.execute(update(Source).where(Source.name == name).values(last_report={"error": error}))
