"""Approved FAQ entries answer first: the :class:`bot.core.ports.FaqAnswers` port over the FAQ store.

The question's query vector (the embedder remembers it, so retrieval does not embed it again when no
entry answers) is compared with each approved entry's question and asked paraphrases; the nearest at
or above the policy's ``faq.match`` among those every reader may read is served, with its sources and
the date its owner approved it.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.core.faq_words import faq_text
from bot.core.ports import PolicySource
from bot.core.sanitize import sanitize_answer
from bot.core.types import Citation, FaqHit, SourceRef
from bot.errors import Language
from knowledge.faq_store import FaqStore, FaqView
from llm.embeddings import Embedder

__all__ = ["FaqMatcher", "served_text"]


def served_text(entry: FaqView, language: Language, link_hosts: Sequence[str] = ()) -> str:
    """The entry's answer (sanitised like any answer) and the line saying when its owner approved it."""
    answer = sanitize_answer(entry.answer, link_hosts).strip()
    if entry.verified_at is None:
        return answer
    return f"{answer}\n\n{faq_text('approved_on', language, date=f'{entry.verified_at:%Y-%m-%d}')}"


class FaqMatcher:
    """Finds the approved entry that answers a question for an audience."""

    def __init__(
        self, store: FaqStore, embedder: Embedder, policy: PolicySource, *, link_hosts: Sequence[str] = ()
    ) -> None:
        self._store = store
        self._embedder = embedder
        self._policy = policy
        self._hosts = tuple(link_hosts)

    async def match(
        self, question: str, principal_sets: Sequence[frozenset[str]], clearance: int, language: Language
    ) -> FaqHit | None:
        """See :class:`bot.core.ports.FaqAnswers`."""
        threshold = self._policy.current().faq.match
        vector = await self._embedder.embed_query(question)
        found = await self._store.match(vector, principal_sets, clearance, threshold)
        if found is None:
            return None
        entry = found.entry
        citations = tuple(Citation(i, s.path, s.title) for i, s in enumerate(entry.sources, 1))
        sources = tuple(SourceRef(s.path, s.title, s.acl, s.classification) for s in entry.sources)
        return FaqHit(entry.id, served_text(entry, language, self._hosts), citations, sources, found.score)
