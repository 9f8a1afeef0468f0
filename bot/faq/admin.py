"""``/kura faq …`` for admins in chat: the entries waiting for review, and approve, reject or edit by
id (the same review rules and audit as the buttons and the command line)."""

from __future__ import annotations

from bot.core.faq_words import faq_text
from bot.core.ports import PolicySource
from bot.errors import Language
from bot.faq.review import FaqReviews, reviewer_problem
from bot.identity import FileDirectory
from knowledge.faq_store import FaqStore

__all__ = ["FaqAdmin"]

#: Entries listed by ``/kura faq review`` at most.
LISTED = 15


class FaqAdmin:
    """Runs ``/kura faq`` for an admin (the admin service decided and audits the command)."""

    def __init__(self, store: FaqStore, reviews: FaqReviews, policy: PolicySource, directory: FileDirectory) -> None:
        self._store = store
        self._reviews = reviews
        self._policy = policy
        self._directory = directory

    async def run(self, rest: tuple[str, ...], email: str | None, platform: str, language: Language) -> str:
        """``review`` (default), ``approve ID``, ``reject ID``, ``edit ID new answer…``."""
        verb = rest[0].lower() if rest else "review"
        if email is None:
            return faq_text("unknown_reviewer", language)
        if verb in ("approve", "reject", "edit") and len(rest) >= 2 and rest[1].lstrip("#").isdigit():
            answer = " ".join(rest[2:]) if verb == "edit" else None
            return await self._reviews.review(
                email, int(rest[1].lstrip("#")), verb, answer=answer, platform=platform, language=language
            )
        if verb == "review":
            return await self._pending(email, language)
        return faq_text("admin_usage", language)

    async def _pending(self, email: str, language: Language) -> str:
        """Drafts and stale entries this admin may review, oldest change first."""
        user = await self._directory.user(email)
        waiting = [e for status in ("stale", "draft") for e in await self._store.entries(status)]
        mine = [e for e in waiting if await reviewer_problem(self._store, self._policy, user, e.sources) is None]
        if not mine:
            return faq_text("nothing_to_review", language, others=len(waiting))
        lines = [faq_text("pending_title", language, count=len(mine))]
        for e in sorted(mine, key=lambda e: e.updated_at)[:LISTED]:
            reason = f" — {e.stale_reason}" if e.stale_reason else ""
            lines.append(faq_text("pending_line", language, id=e.id, status=e.status, question=e.question) + reason)
        if len(waiting) > len(mine):
            lines.append(faq_text("pending_others", language, others=len(waiting) - len(mine)))
        lines.append(faq_text("admin_usage", language))
        return "\n".join(lines)
