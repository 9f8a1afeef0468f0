"""Who reviews an FAQ entry, and the review itself (approve, edit, reject), from chat buttons, the
admin command or the command line alike.

A reviewer is the owner of a document the entry cites (``owner:`` in its access metadata) or holds
the policy's ``admin`` action, and in either case may read every document the entry cites, as they
are now (checked in SQL, like chunk access). Every review, done or refused, leaves an audit record.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.exc import SQLAlchemyError

from bot.audit.store import AuditEntry
from bot.core.faq_words import faq_text
from bot.core.ports import AuditLog, Directory, PolicySource
from bot.core.sanitize import sanitize_answer
from bot.errors import Language
from bot.identity import DirectoryUser, FileDirectory
from bot.redaction import redact
from knowledge.faq_store import FaqSourceView, FaqStore, FaqView, NewEntry
from llm import Embedder, detect_language
from policies import Request, decide

__all__ = ["MAX_ANSWER_CHARS", "VERDICTS", "FaqReviews", "ReviewResult", "reviewer_problem", "reviewers"]

_log = logging.getLogger(__name__)

VERDICTS = ("approve", "edit", "reject")
#: The longest answer a reviewer may write.
MAX_ANSWER_CHARS = 4000


async def reviewer_problem(
    store: FaqStore, policy: PolicySource, user: DirectoryUser | None, sources: Sequence[FaqSourceView]
) -> str | None:
    """Why ``user`` may not review an entry citing ``sources`` (a catalogue key), or None when they
    may: the owner of a cited document or an admin, who may read every cited document there is now."""
    if user is None:
        return "unknown_reviewer"
    owners = {s.owner.lower() for s in sources if s.owner}
    current = policy.current()
    is_admin = decide(current, Request("admin", user.member())).allowed
    if user.email.lower() not in owners and not is_admin:
        return "not_reviewer"
    scope = decide(current, Request("ask", user.member())).scope
    present = {s.document_id for s in sources if s.document_id is not None}
    if scope is None or (
        present and present != await store.readable_documents(present, scope.principal_sets, int(scope.clearance))
    ):
        return "cannot_read"
    return None


@dataclass(frozen=True)
class ReviewResult:
    """A review's outcome (``approved``, ``edited``, ``rejected``, or a catalogue key saying why not)
    and the line shown to the reviewer."""

    outcome: str
    line: str

    @property
    def done(self) -> bool:
        """Whether the entry changed."""
        return self.outcome in ("approved", "edited", "rejected", "added")


class FaqReviews:
    """The :class:`bot.core.ports.FaqReview` port over the FAQ store."""

    def __init__(
        self,
        store: FaqStore,
        policy: PolicySource,
        directory: Directory,
        audit: AuditLog,
        *,
        embedder: Embedder | None = None,
        link_hosts: Sequence[str] = (),
    ) -> None:
        self._store = store
        self._embedder = embedder
        self._policy = policy
        self._directory = directory
        self._audit = audit
        self._hosts = tuple(link_hosts)

    async def current_answer(self, reviewer: str, entry_id: int) -> str | None:
        """See :class:`bot.core.ports.FaqReview`."""
        entry = await self._store.get(entry_id)
        if entry is None:
            return None
        user = await self._directory.user(reviewer)
        return entry.answer if await reviewer_problem(self._store, self._policy, user, entry.sources) is None else None

    async def review(
        self,
        reviewer: str,
        entry_id: int,
        verdict: str,
        *,
        answer: str | None = None,
        platform: str,
        language: Language,
    ) -> str:
        """See :class:`bot.core.ports.FaqReview`."""
        return (
            await self.review_result(reviewer, entry_id, verdict, answer=answer, platform=platform, language=language)
        ).line

    async def review_result(
        self,
        reviewer: str,
        entry_id: int,
        verdict: str,
        *,
        answer: str | None = None,
        platform: str,
        language: Language,
    ) -> ReviewResult:
        """As :meth:`review`, with the outcome (the command line's exit code depends on it)."""
        started = time.perf_counter()
        if verdict not in VERDICTS:
            raise ValueError(f"unknown verdict {verdict!r}")
        user = await self._directory.user(reviewer)
        entry = await self._store.get(entry_id)
        outcome, text = await self._apply(user, entry, entry_id, verdict, answer)
        line = faq_text(outcome, language, id=entry_id, limit=MAX_ANSWER_CHARS)
        await self._record(user, reviewer, entry, entry_id, verdict, outcome, text, platform, started)
        return ReviewResult(outcome, line)

    async def write(
        self, writer: str, question: str, answer: str, refs: Sequence[str], *, platform: str, language: Language
    ) -> tuple[ReviewResult, int | None]:
        """An entry written by a reviewer (``kura faq add``): approved at once, since its writer is a
        reviewer of the documents it cites. Audited like a review."""
        started = time.perf_counter()
        user = await self._directory.user(writer)
        found = await self._store.find_documents(refs)
        missing = [ref for ref, doc in found.items() if doc is None]
        sources = [doc for doc in found.values() if doc is not None]
        question = redact(sanitize_answer(question, self._hosts).strip())
        text = sanitize_answer(answer, self._hosts).strip()
        entry_id: int | None = None
        if missing:
            outcome, line = "unknown_source", faq_text("unknown_source", language, source=", ".join(missing))
        elif not question or not text or len(text) > MAX_ANSWER_CHARS or len(question) > MAX_ANSWER_CHARS:
            outcome = "empty_answer"
            line = faq_text(outcome, language, id="", limit=MAX_ANSWER_CHARS)
        elif (problem := await reviewer_problem(self._store, self._policy, user, sources)) is not None or user is None:
            outcome = problem or "unknown_reviewer"
            line = faq_text(outcome, language, id="", limit=MAX_ANSWER_CHARS)
        elif self._embedder is None:
            raise RuntimeError("FaqReviews.write needs the embedder")
        else:
            vector = await self._embedder.embed_query(question)
            entry = NewEntry(
                question, text, detect_language(question), "approved", "manual", user.email, 0, vector, None,
                tuple(s.document_id for s in sources if s.document_id is not None), user.email,
            )  # fmt: skip
            entry_id = await self._store.add(entry)
            outcome, line = "added", faq_text("added", language, id=entry_id)
        view = await self._store.get(entry_id) if entry_id is not None else None
        await self._record(
            user, writer, view, entry_id or 0, "add", outcome, text if entry_id else None, platform, started
        )
        return ReviewResult(outcome, line), entry_id

    async def _apply(
        self, user: DirectoryUser | None, entry: FaqView | None, entry_id: int, verdict: str, answer: str | None
    ) -> tuple[str, str | None]:
        """Do the review; (catalogue key of the outcome, the answer written if any)."""
        if entry is None:
            return "no_entry", None
        problem = await reviewer_problem(self._store, self._policy, user, entry.sources)
        if problem is not None or user is None:
            return problem or "unknown_reviewer", None
        if verdict == "reject":
            await self._store.set_status(entry_id, "rejected", f"rejected by {user.email}")
            return "rejected", None
        text = None
        if answer is not None or verdict == "edit":
            text = sanitize_answer(answer or "", self._hosts).strip()
            if not text or len(text) > MAX_ANSWER_CHARS:
                return "empty_answer", None
        if not await self._store.approve(entry_id, user.email, text):
            return "source_gone", None
        return ("edited" if text is not None else "approved"), text

    async def _record(
        self,
        user: DirectoryUser | None,
        reviewer: str,
        entry: FaqView | None,
        entry_id: int,
        verdict: str,
        outcome: str,
        written: str | None,
        platform: str,
        started: float,
    ) -> None:
        done = outcome in ("approved", "edited", "rejected", "added")
        entry_ = AuditEntry(
            platform=platform,
            user_ref=reviewer,
            user_email=user.email if user else None,
            action="faq_review",
            allowed=done,
            reason_code="allowed" if done else outcome,
            status="answered" if done else "refused",
            question=f"faq {verdict} #{entry_id}",
            answer=written if written is not None else outcome,
            latency_ms=int((time.perf_counter() - started) * 1000),
            retrieved=[
                {
                    "faq_id": entry_id,
                    "document_id": s.document_id,
                    "source": s.path,
                    "acl": list(s.acl),
                    "classification": s.classification,
                }
                for s in (entry.sources if entry else ())
            ],
            policy_version=self._policy.current().version,
        )
        try:
            await self._audit.append(entry_)
        except SQLAlchemyError as exc:
            _log.error("faq review audit write failed error=%s", type(exc).__name__)


async def reviewers(
    store: FaqStore, policy: PolicySource, directory: FileDirectory, entry: FaqView, limit: int
) -> list[DirectoryUser]:
    """Who is asked to review ``entry``: the owners of its documents who may review it, in the order
    the documents are cited; when none may, the admins who may (admin grants no reading: only those
    whose own rights cover every cited document)."""
    chosen: list[DirectoryUser] = []
    for email in dict.fromkeys(s.owner.lower() for s in entry.sources if s.owner):
        user = await directory.user(email)
        if user is not None and await reviewer_problem(store, policy, user, entry.sources) is None:
            chosen.append(user)
    if not chosen:
        current = policy.current()
        for user in directory.users():
            admin = decide(current, Request("admin", user.member())).allowed
            if admin and await reviewer_problem(store, policy, user, entry.sources) is None:
                chosen.append(user)
    return chosen[:limit]
