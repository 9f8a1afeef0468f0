"""All SQL of the FAQ: entries, the documents they cite as they were when checked, and the query
vectors of asked questions.

An entry is served to a reply audience only when every document it cites still exists unchanged and
every reader may read it: the same conditions as a chunk search (the access list intersects each
reader's principal set, the classification is within the clearance), on the documents as they are
now, in the same statement that finds the nearest entry.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from pgvector.sqlalchemy import Vector
from sqlalchemy import bindparam, delete, func, insert, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.types import Text

from knowledge.models import SCHEMA, Document, FaqAsked, FaqEntry, FaqSource
from knowledge.store import checked_model
from llm.embeddings import Vector as Array

__all__ = ["STATUSES", "FaqMatch", "FaqSourceView", "FaqStore", "FaqView", "NewEntry"]

#: An entry's statuses; only ``approved`` is ever served.
STATUSES = ("draft", "approved", "stale", "rejected")


@dataclass(frozen=True)
class FaqSourceView:
    """A cited document as the entry recorded it; ``document_id`` None once it is gone."""

    document_id: int | None
    root: str
    path: str
    title: str
    acl: tuple[str, ...]
    classification: int
    owner: str | None


@dataclass(frozen=True)
class FaqView:
    """An entry with its sources."""

    id: int
    question: str
    answer: str
    language: str
    status: str
    stale_reason: str | None
    origin: str
    owner: str | None
    asked: int
    created_at: datetime
    updated_at: datetime
    verified_at: datetime | None
    verified_by: str | None
    notified_at: datetime | None
    sources: tuple[FaqSourceView, ...]


@dataclass(frozen=True)
class FaqMatch:
    """The approved entry nearest a question that the audience may read, and how near."""

    entry: FaqView
    score: float


@dataclass(frozen=True)
class NewEntry:
    """An entry to write; its sources are document ids, snapshotted as they are now."""

    question: str
    answer: str
    language: str
    status: str
    origin: str
    owner: str | None
    asked: int
    embedding: Array
    centroid: Array | None
    documents: tuple[int, ...]
    verified_by: str | None = None


def _unreadable(names: Sequence[str], *, unchanged: bool) -> str:
    """A cited document that some reader may not read as it is now (``s`` the source row, ``d`` the
    document now); with ``unchanged``, also one that is gone or changed since the entry was checked."""
    readers = " OR ".join(f"NOT (d.acl && :{n})" for n in names)
    changed = "d.id IS NULL OR d.content_hash <> s.content_hash OR " if unchanged else ""
    return f"({changed}d.classification > :clearance OR {readers})"


class FaqStore:
    """Reads and writes FAQ entries in PostgreSQL with pgvector."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], model: str, dim: int) -> None:
        self._sessions = sessions
        self.model = checked_model(model)
        self.dim = int(dim)

    # -- serving ---------------------------------------------------------------------------------

    def _access(
        self, principal_sets: Sequence[frozenset[str]], clearance: int, *, unchanged: bool = True
    ) -> tuple[str, dict[str, object]]:
        """The condition "the audience may read every document entry ``e`` cites" (``unchanged``: each
        one still there as it was checked), and its parameters."""
        names = [f"s{i}" for i in range(len(principal_sets))]
        condition = (
            f"EXISTS (SELECT 1 FROM {SCHEMA}.faq_sources s WHERE s.faq_id = e.id) "  # noqa: S608 - names made here
            f"AND NOT EXISTS (SELECT 1 FROM {SCHEMA}.faq_sources s "
            f"LEFT JOIN {SCHEMA}.documents d ON d.id = s.document_id "
            f"WHERE s.faq_id = e.id AND {_unreadable(names, unchanged=unchanged)})"
        )
        params: dict[str, object] = {"clearance": int(clearance)}
        params |= {n: sorted(s) for n, s in zip(names, principal_sets, strict=True)}
        return condition, params

    async def match(
        self, query: Array, principal_sets: Sequence[frozenset[str]], clearance: int, threshold: float
    ) -> FaqMatch | None:
        """The approved entry nearest ``query`` (its question or its asked paraphrases) with a
        similarity of at least ``threshold``, among those every reader may read; None otherwise."""
        if not principal_sets:
            return None
        condition, params = self._access(principal_sets, clearance)
        vector = f"vector({self.dim})"
        sql = (
            f"SELECT id, score FROM (SELECT e.id, GREATEST(1 - (e.embedding::{vector} <=> :query), "  # noqa: S608 - dim an int, names constant
            f"COALESCE(1 - (e.centroid::{vector} <=> :query), 0)) AS score "
            f"FROM {SCHEMA}.faq_entries e WHERE e.status = 'approved' AND e.embedding_model = :model "
            f"AND {condition}) m WHERE score >= :threshold ORDER BY score DESC LIMIT 1"
        )
        statement = text(sql).bindparams(
            bindparam("query", type_=Vector(self.dim)),
            *(bindparam(n, type_=ARRAY(Text)) for n in params if n.startswith("s")),
        )
        params |= {"query": np.asarray(query, dtype=np.float32), "model": self.model, "threshold": float(threshold)}
        async with self._sessions() as session:
            row = (await session.execute(statement, params)).first()
            if row is None:
                return None
            views = await self._views(session, [int(row[0])])
        return FaqMatch(views[0], float(row[1])) if views else None

    async def readable(
        self, ids: Iterable[int], principal_sets: Sequence[frozenset[str]], clearance: int, *, unchanged: bool = True
    ) -> set[int]:
        """Which of ``ids`` every reader may read: every cited document readable (``unchanged``: and
        still as it was checked; without it, as reviewers see it: a gone document does not count)."""
        wanted = sorted(set(ids))
        if not wanted or not principal_sets:
            return set()
        condition, params = self._access(principal_sets, clearance, unchanged=unchanged)
        statement = text(
            f"SELECT e.id FROM {SCHEMA}.faq_entries e WHERE e.id = ANY(:ids) AND {condition}"  # noqa: S608 - as above
        ).bindparams(*(bindparam(n, type_=ARRAY(Text)) for n in params if n.startswith("s")))
        async with self._sessions() as session:
            rows = await session.execute(statement, params | {"ids": wanted})
        return {int(r[0]) for r in rows}

    async def readable_documents(
        self, ids: Iterable[int], principal_sets: Sequence[frozenset[str]], clearance: int
    ) -> set[int]:
        """Which of the documents ``ids`` every reader may read now."""
        wanted = sorted(set(ids))
        if not wanted or not principal_sets:
            return set()
        names = [f"s{i}" for i in range(len(principal_sets))]
        readers = " AND ".join(f"d.acl && :{n}" for n in names)
        statement = text(
            f"SELECT d.id FROM {SCHEMA}.documents d WHERE d.id = ANY(:ids) "  # noqa: S608 - names made here
            f"AND d.classification <= :clearance AND {readers}"
        ).bindparams(*(bindparam(n, type_=ARRAY(Text)) for n in names))
        params: dict[str, object] = {"ids": wanted, "clearance": int(clearance)}
        params |= {n: sorted(p) for n, p in zip(names, principal_sets, strict=True)}
        async with self._sessions() as session:
            return {int(r[0]) for r in await session.execute(statement, params)}

    async def find_documents(self, refs: Sequence[str]) -> dict[str, FaqSourceView | None]:
        """Each reference (a document's path in its source, or its absolute file path) to the stored
        document, None when no single document matches."""
        out: dict[str, FaqSourceView | None] = {}
        async with self._sessions() as session:
            for ref in refs:
                clean = ref.strip()
                rows = list(
                    await session.scalars(
                        select(Document).where(
                            (Document.path == clean.lstrip("./")) | (Document.root + "/" + Document.path == clean)
                        )
                    )
                )
                d = rows[0] if len(rows) == 1 else None
                out[ref] = (
                    FaqSourceView(d.id, d.root, d.path, d.title, tuple(d.acl), d.classification, d.owner) if d else None
                )
        return out

    # -- reading ---------------------------------------------------------------------------------

    async def get(self, entry_id: int) -> FaqView | None:
        """One entry with its sources."""
        async with self._sessions() as session:
            views = await self._views(session, [entry_id])
        return views[0] if views else None

    async def entries(self, status: str | None = None) -> list[FaqView]:
        """Entries (of one status), newest first."""
        query = select(FaqEntry.id).order_by(FaqEntry.id.desc())
        if status is not None:
            query = query.where(FaqEntry.status == status)
        async with self._sessions() as session:
            ids = list(await session.scalars(query))
            return await self._views(session, ids)

    async def _views(self, session: AsyncSession, ids: Sequence[int]) -> list[FaqView]:
        if not ids:
            return []
        entries = {e.id: e for e in await session.scalars(select(FaqEntry).where(FaqEntry.id.in_(list(ids))))}
        rows = await session.execute(
            select(FaqSource, Document.owner)
            .outerjoin(Document, Document.id == FaqSource.document_id)
            .where(FaqSource.faq_id.in_(list(ids)))
            .order_by(FaqSource.faq_id, FaqSource.ordinal)
        )
        sources: dict[int, list[FaqSourceView]] = {}
        for source, owner in rows:
            sources.setdefault(source.faq_id, []).append(
                FaqSourceView(
                    source.document_id,
                    source.root,
                    source.path,
                    source.title,
                    tuple(source.acl),
                    source.classification,
                    owner,
                )
            )
        return [_view(entries[i], sources.get(i, [])) for i in ids if i in entries]

    async def nearest(self, query: Array, threshold: float) -> tuple[int, str, float] | None:
        """The entry of any status nearest ``query`` (its question or paraphrases), when at least
        ``threshold`` similar: (id, status, score). Mining uses it not to draft a question twice."""
        score = func.greatest(
            1 - FaqEntry.embedding.cast(Vector(self.dim)).cosine_distance(query),
            func.coalesce(1 - FaqEntry.centroid.cast(Vector(self.dim)).cosine_distance(query), 0),
        )
        query_ = (
            select(FaqEntry.id, FaqEntry.status, score.label("score"))
            .where(FaqEntry.embedding_model == self.model)
            .order_by(score.desc())
            .limit(1)
        )
        async with self._sessions() as session:
            row = (await session.execute(query_)).first()
        if row is None or float(row[2]) < threshold:
            return None
        return int(row[0]), str(row[1]), float(row[2])

    # -- writing ---------------------------------------------------------------------------------

    async def add(self, entry: NewEntry) -> int:
        """Write an entry and snapshot its sources; ``approved`` entries are verified now."""
        if entry.status not in STATUSES:
            raise ValueError(f"unknown status {entry.status!r}")
        async with self._sessions.begin() as session:
            row = FaqEntry(
                question=entry.question,
                answer=entry.answer,
                language=entry.language,
                status=entry.status,
                origin=entry.origin,
                owner=entry.owner,
                asked=entry.asked,
                embedding_model=self.model,
                embedding=np.asarray(entry.embedding, dtype=np.float32),
                centroid=None if entry.centroid is None else np.asarray(entry.centroid, dtype=np.float32),
            )
            if entry.status == "approved":
                row.verified_at = func.now()
                row.verified_by = entry.verified_by
            session.add(row)
            await session.flush()
            await self._snapshot(session, row.id, entry.documents)
            return row.id

    @staticmethod
    async def _snapshot(session: AsyncSession, entry_id: int, documents: Sequence[int]) -> None:
        """Record the cited documents as they are now (replacing what was recorded)."""
        await session.execute(delete(FaqSource).where(FaqSource.faq_id == entry_id))
        found = {d.id: d for d in await session.scalars(select(Document).where(Document.id.in_(list(documents))))}
        ordered = [found[i] for i in dict.fromkeys(documents) if i in found]
        if ordered:
            await session.execute(
                insert(FaqSource),
                [
                    {
                        "faq_id": entry_id,
                        "ordinal": n,
                        "document_id": d.id,
                        "root": d.root,
                        "path": d.path,
                        "title": d.title,
                        "content_hash": d.content_hash,
                        "acl": list(d.acl),
                        "classification": d.classification,
                    }
                    for n, d in enumerate(ordered)
                ],
            )

    async def approve(self, entry_id: int, by: str, answer: str | None = None) -> bool:
        """Approve (with a new answer when given): verified now, its sources recorded as they are now.
        False when a cited document is gone (the entry then needs new sources: edit or reject)."""
        async with self._sessions.begin() as session:
            entry = await session.get(FaqEntry, entry_id, with_for_update=True)
            if entry is None:
                return False
            cited = list(
                await session.scalars(
                    select(FaqSource.document_id).where(FaqSource.faq_id == entry_id).order_by(FaqSource.ordinal)
                )
            )
            if not cited or any(d is None for d in cited):
                return False
            await self._snapshot(session, entry_id, [d for d in cited if d is not None])
            entry.status, entry.stale_reason = "approved", None
            entry.verified_at, entry.verified_by, entry.updated_at = func.now(), by, func.now()
            if answer is not None:
                entry.answer = answer
            return True

    async def set_status(self, entry_id: int, status: str, reason: str | None = None) -> bool:
        """Change an entry's status (``rejected``, back to ``draft``); False when there is none."""
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}")
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(FaqEntry)
                .where(FaqEntry.id == entry_id)
                .values(status=status, stale_reason=reason, updated_at=func.now())
            )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def set_answer(self, entry_id: int, answer: str) -> bool:
        """Replace a draft's or stale entry's answer without approving it."""
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(FaqEntry).where(FaqEntry.id == entry_id).values(answer=answer, updated_at=func.now())
            )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def set_owner(self, entry_id: int, owner: str) -> None:
        """Record who was chosen to review the entry."""
        async with self._sessions.begin() as session:
            await session.execute(update(FaqEntry).where(FaqEntry.id == entry_id).values(owner=owner))

    async def counted(self, entry_id: int, asked: int, centroid: Array | None) -> None:
        """Update how many distinct people asked (never fewer than known), and give an entry written by
        hand the paraphrases' centroid (a mined entry keeps the one it was drafted for: a later group
        that matched it may be only a part of its question)."""
        values: dict[str, object] = {"asked": func.greatest(FaqEntry.asked, asked)}
        if centroid is not None:
            vector = bindparam("centroid", np.asarray(centroid, dtype=np.float32), type_=Vector())
            values["centroid"] = func.coalesce(FaqEntry.centroid, vector)
        async with self._sessions.begin() as session:
            await session.execute(update(FaqEntry).where(FaqEntry.id == entry_id).values(**values))

    async def notified(self, ids: Sequence[int]) -> None:
        """Reviewers were asked about these entries now."""
        if ids:
            async with self._sessions.begin() as session:
                await session.execute(update(FaqEntry).where(FaqEntry.id.in_(list(ids))).values(notified_at=func.now()))

    async def mark_stale(self, verify_every_days: int | None) -> list[tuple[int, str]]:
        """Send back to review every approved or draft entry a cited document of which is gone,
        changed or has other readers now, and approved entries not verified for ``verify_every_days``.

        Returns:
            (entry id, reason) of each entry marked now.
        """
        changed = text(
            f"SELECT s.faq_id, s.path, CASE WHEN d.id IS NULL THEN 'gone' "  # noqa: S608 - constant schema
            f"WHEN d.content_hash <> s.content_hash THEN 'changed' ELSE 'readers' END "
            f"FROM {SCHEMA}.faq_sources s JOIN {SCHEMA}.faq_entries e ON e.id = s.faq_id "
            f"LEFT JOIN {SCHEMA}.documents d ON d.id = s.document_id "
            f"WHERE e.status IN ('approved', 'draft') AND (d.id IS NULL OR d.content_hash <> s.content_hash "
            f"OR d.classification <> s.classification OR NOT (d.acl @> s.acl AND s.acl @> d.acl)) "
            f"ORDER BY s.faq_id, s.ordinal"
        )
        words = {
            "gone": "was moved or removed",
            "changed": "changed",
            "readers": "has other readers now",
        }
        reasons: dict[int, str] = {}
        async with self._sessions.begin() as session:
            for faq_id, path, why in await session.execute(changed):
                reasons.setdefault(int(faq_id), f"{path} {words[str(why)]}")
            if verify_every_days is not None:
                old = await session.execute(
                    select(FaqEntry.id).where(
                        FaqEntry.status == "approved",
                        FaqEntry.verified_at < func.now() - func.make_interval(0, 0, 0, int(verify_every_days)),
                    )
                )
                for (faq_id,) in old:
                    reasons.setdefault(int(faq_id), f"not verified for {verify_every_days} days")
            for faq_id, reason in reasons.items():
                await session.execute(
                    update(FaqEntry)
                    .where(FaqEntry.id == faq_id)
                    .values(status="stale", stale_reason=reason, updated_at=func.now(), notified_at=None)
                )
        return sorted(reasons.items())

    # -- asked questions' vectors ----------------------------------------------------------------

    async def asked_vectors(self, audit_ids: Sequence[str]) -> dict[str, Array]:
        """The stored query vectors of these audit records' questions."""
        out: dict[str, Array] = {}
        async with self._sessions() as session:
            for start in range(0, len(audit_ids), 5000):
                batch = list(audit_ids[start : start + 5000])
                rows = await session.execute(
                    select(FaqAsked.audit_id, FaqAsked.embedding).where(
                        FaqAsked.embedding_model == self.model, FaqAsked.audit_id.in_(batch)
                    )
                )
                out.update({r[0]: np.asarray(r[1], dtype=np.float32) for r in rows})
        return out

    async def keep_asked(self, audit_ids: Sequence[str], new: dict[str, Array]) -> None:
        """Store the vectors of newly embedded questions, and drop those of questions no longer in
        ``audit_ids`` (their text left the audit log)."""
        async with self._sessions.begin() as session:
            await session.execute(
                delete(FaqAsked).where(
                    FaqAsked.embedding_model == self.model,
                    ~(FaqAsked.audit_id == func.any(bindparam("kept", list(audit_ids), type_=ARRAY(Text)))),
                )
            )
            rows = [
                {"audit_id": k, "embedding_model": self.model, "embedding": np.asarray(v, dtype=np.float32)}
                for k, v in new.items()
            ]
            for start in range(0, len(rows), 1000):
                await session.execute(pg_insert(FaqAsked).on_conflict_do_nothing(), rows[start : start + 1000])


def _view(entry: FaqEntry, sources: Sequence[FaqSourceView]) -> FaqView:
    return FaqView(
        id=entry.id,
        question=entry.question,
        answer=entry.answer,
        language=entry.language,
        status=entry.status,
        stale_reason=entry.stale_reason,
        origin=entry.origin,
        owner=entry.owner,
        asked=entry.asked,
        created_at=entry.created_at,
        updated_at=entry.updated_at,
        verified_at=entry.verified_at,
        verified_by=entry.verified_by,
        notified_at=entry.notified_at,
        sources=tuple(sources),
    )
