"""Drafting an FAQ entry for a group of paraphrases: one general question (written by the model from
a few redacted phrasings, redacted again), then an answer with citations, written the way chat
answers are (same retrieval, same prompt), from what every asker of the group may read.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from bot.core.pipeline import citations_of, cited_documents
from bot.core.ports import Directory, PolicySource
from bot.core.sanitize import sanitize_answer
from bot.faq.mining import Asked, Group
from bot.redaction import redact
from knowledge import RetrievedChunk, Retriever
from llm import ChatMessage, ChatModel, Passage, TokenUsage, build_messages, detect_language
from llm.faq import general_question_messages
from policies import Request, decide

__all__ = ["Draft", "Drafter", "audience_of"]

_log = logging.getLogger(__name__)

#: The longest general question kept; a longer one is not a question but a story.
MAX_QUESTION_CHARS = 300


@dataclass(frozen=True)
class Draft:
    """A drafted entry: the question, its answer, its language and the documents it cites."""

    question: str
    answer: str
    language: str
    documents: tuple[int, ...]
    tokens: int


async def audience_of(
    directory: Directory, policy: PolicySource, askers: Sequence[str]
) -> tuple[list[frozenset[str]], int] | None:
    """The principal sets and clearance of a group's askers together, as if they all read one reply:
    a draft draws only on what each of them may read. A person's own ``user:`` principal is left out
    (a document readable by one asker alone is no FAQ material), which also keeps the sets few.
    None when no asker may ask any more."""
    current = policy.current()
    sets: set[frozenset[str]] = set()
    clearance: int | None = None
    for email in sorted(set(askers)):
        user = await directory.user(email)
        scope = decide(current, Request("ask", user.member())).scope if user else None
        if scope is None:
            continue
        for principals in scope.principal_sets:
            sets.add(frozenset(p for p in principals if not p.startswith("user:")))
        clearance = int(scope.clearance) if clearance is None else min(clearance, int(scope.clearance))
    if not sets or clearance is None:
        return None
    return sorted(sets, key=sorted), clearance


async def _complete(model: ChatModel, prompt: list[ChatMessage], max_tokens: int) -> tuple[str, int]:
    parts: list[str] = []
    tokens = 0
    async for piece in model.stream(prompt, max_tokens=max_tokens):
        if isinstance(piece, TokenUsage):
            tokens = piece.total
        else:
            parts.append(piece)
    text = "".join(parts).strip()
    return text, tokens or (sum(len(m.content) for m in prompt) // 2 + len(parts))


def _one_question(text: str) -> str | None:
    line = next((ln.strip(" \t\"'「」*-・") for ln in text.splitlines() if ln.strip()), "")
    if not line or len(line) > MAX_QUESTION_CHARS:
        return None
    return redact(line)


#: How the answer prompt makes the model say the documents do not answer (llm.prompts rule 1).
_NOT_FOUND = ("提供された資料には記載がありません", "資料には記載がありません", "do not know", "don't know")


def _says_not_found(answer: str) -> bool:
    head = answer[:120].lower()
    return any(words in head for words in _NOT_FOUND)


class Drafter:
    """Writes draft entries with the chat model and the retriever."""

    def __init__(
        self,
        retriever: Retriever,
        chat: ChatModel,
        *,
        top_k: int,
        max_tokens: int,
        samples: int,
        link_hosts: Sequence[str] = (),
    ) -> None:
        self._retriever = retriever
        self._chat = chat
        self._top_k = top_k
        self._max_tokens = max_tokens
        self._samples = samples
        self._hosts = tuple(link_hosts)

    async def draft(
        self, group: Group, asked: Sequence[Asked], sets: Sequence[frozenset[str]], clearance: int
    ) -> Draft | None:
        """A draft for ``group``, or None when no document the askers may read answers it (a content
        gap) or the model wrote nothing usable.

        Raises:
            ModelServerError, EmbeddingError, SQLAlchemyError: a part failed (the caller reports it).
        """
        central = [redact(asked[i].text) for i in group.members[: self._samples]]
        language = detect_language(central[0])
        written, tokens = await _complete(self._chat, general_question_messages(central, language), 80)
        question = _one_question(written) or central[0]
        chunks = await self._retriever.retrieve(question, sets, clearance, self._top_k)
        if not chunks:
            return None
        grouped: dict[str, list[RetrievedChunk]] = {}
        for chunk in chunks:
            grouped.setdefault(chunk.source, []).append(chunk)
        passages = [Passage(cs[0].title, src, "\n…\n".join(c.text for c in cs)) for src, cs in grouped.items()]
        text, more = await _complete(self._chat, build_messages(question, passages), self._max_tokens)
        answer = sanitize_answer(text, self._hosts).strip()
        if not answer or _says_not_found(answer):
            _log.info("faq draft: no answer in the documents the askers may read")
            return None
        cited = cited_documents(answer, citations_of(chunks), chunks)
        by_source = {c.source: c.document_id for c in chunks}
        documents = tuple(by_source[c.source] for c in cited if c.source in by_source)
        return Draft(question, answer, language, documents, tokens + more)
