"""The FAQ loop after a sync: mine frequent questions from the audit log, draft entries for new
ones, send changed or unverified entries back to review, find content gaps, ask the reviewers.

Privacy: a question counts only when the policy's ``faq.min_askers`` distinct people asked it; what
reaches the model are a few phrasings with personal data redacted, and what is stored is the model's
general rewrite (redacted again) and a centroid vector. Who asked is never stored with an entry.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy.exc import SQLAlchemyError

from bot.audit.store import AuditEntry, AuditStore
from bot.core.types import Destination
from bot.errors import Language, UpstreamError
from bot.faq.asked import AskedQuestion, asked_questions
from bot.faq.draft import Drafter, audience_of
from bot.faq.mining import Group, Matrix, frequent
from bot.faq.render import Gap, review_actions, review_request, source_refs
from bot.faq.review import reviewers
from bot.identity import FileDirectory
from bot.redaction import redact
from bot.settings import FaqSettings
from knowledge.faq_store import FaqStore, NewEntry
from llm import Embedder
from llm.errors import EmbeddingError, ModelServerError
from llm.faq import FAQ_PROMPT_VERSION

if TYPE_CHECKING:
    from bot.core.outbound import Outbox
    from bot.core.ports import PolicySource

__all__ = ["FaqService", "RefreshReport"]

_log = logging.getLogger(__name__)

#: Questions embedded per call when mining.
EMBED_BATCH = 128


@dataclass
class RefreshReport:
    """What one refresh did, step by step (``kura faq refresh --json``)."""

    synced: list[dict[str, object]] = field(default_factory=list)
    mined: dict[str, object] = field(default_factory=dict)
    drafted: list[dict[str, object]] = field(default_factory=list)
    known: list[dict[str, object]] = field(default_factory=list)
    not_drafted: list[dict[str, object]] = field(default_factory=list)
    stale: list[dict[str, object]] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)
    notified: list[dict[str, object]] = field(default_factory=list)
    seconds: float = 0.0

    def as_json(self) -> dict[str, object]:
        """The report as plain values."""
        return asdict(self)


class FaqService:
    """Mines, drafts, checks and asks; the store, the audit log and the outbox do the rest."""

    def __init__(
        self,
        store: FaqStore,
        audit: AuditStore,
        embedder: Embedder,
        policy: PolicySource,
        directory: FileDirectory,
        settings: FaqSettings,
        *,
        drafter: Drafter | None = None,
        outbox: Outbox | None = None,
    ) -> None:
        self.store = store
        self._audit = audit
        self._embedder = embedder
        self._policy = policy
        self._directory = directory
        self._settings = settings
        self._drafter = drafter
        self._outbox = outbox

    async def vectors(self, asked: Sequence[AskedQuestion]) -> tuple[Matrix, int]:
        """Query vectors of the asked questions (each embedded once, ever: kept by audit record id)
        and how many were embedded now. Vectors of questions no longer in the log are dropped."""
        ids = [a.audit_id for a in asked]
        known = await self.store.asked_vectors(ids)
        missing = [a for a in asked if a.audit_id not in known]
        new: dict[str, np.ndarray] = {}
        for start in range(0, len(missing), EMBED_BATCH):
            batch = missing[start : start + EMBED_BATCH]
            vectors = await self._embedder.embed_query_batch([a.text for a in batch])
            new.update({a.audit_id: v for a, v in zip(batch, vectors, strict=True)})
        await self.store.keep_asked(ids, new)
        known.update(new)
        dim = self._embedder.dim
        matrix = np.stack([known[i] for i in ids]) if ids else np.zeros((0, dim), np.float32)
        return matrix.astype(np.float32), len(new)

    async def mine(self) -> tuple[list[AskedQuestion], Matrix, list[Group], dict[str, object]]:
        """The held questions, their vectors, and the groups at least ``faq.min_askers`` people asked."""
        started = time.perf_counter()
        asked = await asked_questions(self._audit)
        matrix, embedded = await self.vectors(asked)
        groups = frequent(asked, matrix, self._settings.group_similarity, self._policy.current().faq.min_askers)
        facts: dict[str, object] = {
            "questions": len(asked),
            "embedded": embedded,
            "frequent": len(groups),
            "seconds": round(time.perf_counter() - started, 2),
        }
        return asked, matrix, groups, facts

    async def gaps(self, asked: Sequence[AskedQuestion] | None = None, matrix: Matrix | None = None) -> list[Gap]:
        """Frequent questions (``faq.min_askers`` distinct people) whose answers found no sources or
        got 👎, grouped; each shown as its most central phrasing, redacted."""
        if asked is None or matrix is None:
            asked = await asked_questions(self._audit)
            matrix, _ = await self.vectors(asked)
        poor = [i for i, a in enumerate(asked) if a.status == "no_sources" or a.thumbs_down > 0]
        subset = [asked[i] for i in poor]
        groups = frequent(subset, matrix[poor], self._settings.group_similarity, self._policy.current().faq.min_askers)
        return [
            Gap(
                redact(subset[g.members[0]].text),
                g.askers,
                sum(1 for i in g.members if subset[i].status == "no_sources"),
                sum(subset[i].thumbs_down for i in g.members),
            )
            for g in groups
        ]

    async def refresh(self, *, notify: bool, actor: str, platform: str = "cli") -> RefreshReport:
        """Steps 2-5 of a refresh (the caller syncs the sources first): mine, draft new questions,
        mark stale, list gaps, ask reviewers. One audit record says what was done."""
        started = time.perf_counter()
        report = RefreshReport()
        asked, matrix, groups, report.mined = await self.mine()
        await self._draft(asked, groups, report)
        verify = self._policy.current().faq.verify_every_days
        report.stale = [{"id": i, "reason": why} for i, why in await self.store.mark_stale(verify)]
        report.gaps = await self.gaps(asked, matrix)
        if notify:
            report.notified = await self.notify(actor)
        report.seconds = round(time.perf_counter() - started, 2)
        await self._record(report, actor, platform, started)
        return report

    async def _draft(self, asked: Sequence[AskedQuestion], groups: Sequence[Group], report: RefreshReport) -> None:
        threshold = self._settings.group_similarity
        drafted = 0
        for group in groups:
            near = await self.store.nearest(group.centroid, threshold)
            if near is not None:
                await self.store.counted(near[0], group.askers, group.centroid)
                report.known.append({"id": near[0], "status": near[1], "askers": group.askers})
                continue
            if self._drafter is None or drafted >= self._settings.max_drafts:
                why = "no model" if self._drafter is None else "max_drafts reached: next refresh"
                report.not_drafted.append({"askers": group.askers, "reason": why})
                continue
            drafted += 1
            report_line = await self._draft_one(self._drafter, group, asked)
            (report.drafted if "id" in report_line else report.not_drafted).append(report_line)

    async def _draft_one(self, drafter: Drafter, group: Group, asked: Sequence[AskedQuestion]) -> dict[str, object]:
        audience = await audience_of(self._directory, self._policy, [asked[i].asker for i in group.members])
        if audience is None:
            return {"askers": group.askers, "reason": "none of its askers may ask any more"}
        try:
            draft = await drafter.draft(group, asked, *audience)
        except (ModelServerError, EmbeddingError, SQLAlchemyError) as exc:
            _log.warning("faq draft failed error=%s", type(exc).__name__)
            return {"askers": group.askers, "reason": f"could not draft ({type(exc).__name__})"}
        if draft is None or not draft.documents:
            return {"askers": group.askers, "reason": "no document its askers may read answers it (a gap)"}
        vector = await self._embedder.embed_query(draft.question)
        entry = NewEntry(
            draft.question,
            draft.answer,
            draft.language,
            "draft",
            "mined",
            None,
            group.askers,
            vector,
            group.centroid,
            draft.documents,
        )
        entry_id = await self.store.add(entry)
        view = await self.store.get(entry_id)
        chosen = await reviewers(self.store, self._policy, self._directory, view, 1) if view else []
        if chosen:
            await self.store.set_owner(entry_id, chosen[0].email)
        sources = [s.path for s in view.sources] if view else []
        return {"id": entry_id, "question": draft.question, "askers": group.askers, "sources": sources}

    async def notify(self, actor: str) -> list[dict[str, object]]:
        """Ask the reviewers of every draft or stale entry not asked about since it changed, by a
        private message with buttons on the first chat platform that takes it."""
        out: list[dict[str, object]] = []
        platforms = self._outbox.platforms if self._outbox is not None else ()
        pending = [
            e for status in ("draft", "stale") for e in await self.store.entries(status) if e.notified_at is None
        ]
        for entry in pending:
            people = await reviewers(self.store, self._policy, self._directory, entry, self._settings.max_reviewers)
            if not people:
                out.append({"id": entry.id, "reviewer": None, "posted": False, "reason": "no reviewer may read it"})
                continue
            asked_any = False
            for person in people:
                line = await self._ask(entry.id, person.email, person.locale, platforms, actor)
                asked_any = asked_any or bool(line["posted"])
                out.append(line)
            if asked_any:
                await self.store.notified([entry.id])
        return out

    async def _ask(
        self, entry_id: int, email: str, language: Language, platforms: Sequence[str], actor: str
    ) -> dict[str, object]:
        entry = await self.store.get(entry_id)
        if entry is None or self._outbox is None or not platforms:
            return {"id": entry_id, "reviewer": email, "posted": False, "reason": "no chat platform configured"}
        reason = "not posted"
        for platform in platforms:
            try:
                result = await self._outbox.post(
                    Destination(platform, user=email),
                    review_request(entry, language, email),
                    owner=email,
                    actor=actor,
                    sources=source_refs(entry),
                    language=language,
                    subject=f"faq review #{entry_id}",
                    actions=review_actions(entry, language),
                )
            except UpstreamError as exc:
                reason = exc.code
                continue
            if result.posted:
                return {"id": entry_id, "reviewer": email, "to": platform, "posted": True, "reason": None}
            reason = result.reason_code
        return {"id": entry_id, "reviewer": email, "posted": False, "reason": reason}

    async def _record(self, report: RefreshReport, actor: str, platform: str, started: float) -> None:
        summary = (
            f"questions {report.mined.get('questions')}, frequent {report.mined.get('frequent')}, "
            f"drafted {[d['id'] for d in report.drafted]}, known {len(report.known)}, "
            f"stale {[s['id'] for s in report.stale]}, gaps {len(report.gaps)}, "
            f"review requests {sum(1 for n in report.notified if n.get('posted'))}"
        )
        entry = AuditEntry(
            platform=platform,
            user_ref=actor,
            user_email=None,
            action="faq_refresh",
            allowed=True,
            reason_code="allowed",
            status="answered",
            question="faq refresh",
            answer=summary,
            latency_ms=int((time.perf_counter() - started) * 1000),
            prompt_version=FAQ_PROMPT_VERSION,
            policy_version=self._policy.current().version,
        )
        try:
            await self._audit.append(entry)
        except SQLAlchemyError as exc:
            _log.error("faq refresh audit write failed error=%s", type(exc).__name__)
