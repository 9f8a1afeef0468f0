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

from sqlalchemy.exc import SQLAlchemyError

from bot.audit.store import AuditEntry
from bot.core.faq_words import faq_text
from bot.core.ports import AuditLog, Directory, PolicySource
from bot.core.sanitize import sanitize_answer
from bot.errors import Language
from bot.identity import DirectoryUser
from knowledge.faq_store import FaqStore, FaqView
from policies import Request, decide

__all__ = ["MAX_ANSWER_CHARS", "VERDICTS", "FaqReviews", "reviewer_problem"]

_log = logging.getLogger(__name__)

VERDICTS = ("approve", "edit", "reject")
#: The longest answer a reviewer may write.
MAX_ANSWER_CHARS = 4000


async def reviewer_problem(
    store: FaqStore, policy: PolicySource, user: DirectoryUser | None, entry: FaqView
) -> str | None:
    """Why ``user`` may not review ``entry`` (a catalogue key), or None when they may."""
    if user is None:
        return "unknown_reviewer"
    owners = {s.owner.lower() for s in entry.sources if s.owner}
    current = policy.current()
    is_admin = decide(current, Request("admin", user.member())).allowed
    if user.email.lower() not in owners and not is_admin:
        return "not_reviewer"
    scope = decide(current, Request("ask", user.member())).scope
    if scope is None or entry.id not in await store.readable(
        [entry.id], scope.principal_sets, int(scope.clearance), unchanged=False
    ):
        return "cannot_read"
    return None


class FaqReviews:
    """The :class:`bot.core.ports.FaqReview` port over the FAQ store."""

    def __init__(
        self,
        store: FaqStore,
        policy: PolicySource,
        directory: Directory,
        audit: AuditLog,
        *,
        link_hosts: Sequence[str] = (),
    ) -> None:
        self._store = store
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
        return entry.answer if await reviewer_problem(self._store, self._policy, user, entry) is None else None

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
        started = time.perf_counter()
        if verdict not in VERDICTS:
            raise ValueError(f"unknown verdict {verdict!r}")
        user = await self._directory.user(reviewer)
        entry = await self._store.get(entry_id)
        outcome, text = await self._apply(user, entry, entry_id, verdict, answer)
        line = faq_text(outcome, language, id=entry_id, limit=MAX_ANSWER_CHARS)
        await self._record(user, reviewer, entry, entry_id, verdict, outcome, text, platform, started)
        return line

    async def _apply(
        self, user: DirectoryUser | None, entry: FaqView | None, entry_id: int, verdict: str, answer: str | None
    ) -> tuple[str, str | None]:
        """Do the review; (catalogue key of the outcome, the answer written if any)."""
        if entry is None:
            return "no_entry", None
        problem = await reviewer_problem(self._store, self._policy, user, entry)
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
        done = outcome in ("approved", "edited", "rejected")
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
