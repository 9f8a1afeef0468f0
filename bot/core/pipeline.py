"""The question-answering pipeline, the same for every adapter:

    InboundMessage -> identity -> decide -> retrieve (the reply's audience) -> generate (stream)
                   -> Reply with citations -> one audit record

Events are yielded as they happen so adapters can stream. Failures of the database, the embedder
or the model become an ``unavailable`` reply (audited when the database allows); nothing raises
to the adapter except cancellation.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, replace

from sqlalchemy.exc import SQLAlchemyError

from bot.audit.store import AuditEntry
from bot.core.admission import Admission, Reservation, Slot
from bot.core.messages import error_message, no_sources_message, refusal_message
from bot.core.ports import AuditLog, Directory, FaqAnswers, PolicySource, Signals
from bot.core.sanitize import CleanStream
from bot.core.types import (
    Citation,
    Completed,
    Decided,
    FaqHit,
    InboundMessage,
    PipelineEvent,
    Reply,
    ReplyStatus,
    SourcesFound,
    TextDelta,
)
from bot.errors import (
    DatabaseUnavailable,
    EmbeddingUnavailable,
    Language,
    ModelUnavailable,
    UpstreamError,
    user_message,
)
from bot.metrics import Metrics
from knowledge import RetrievedChunk, Retriever
from knowledge.relevance import RelevanceFloor, answers, within_budget
from knowledge.rerank import Reranker
from llm import PROMPT_VERSION, ChatMessage, ChatModel, Passage, TokenUsage, build_messages, detect_language
from llm.errors import EmbeddingError, ModelServerError
from policies import ChannelKind, Classification, Decision, Request, decide
from policies.guards import endpoints_for
from policies.model import Usage

__all__ = ["Pipeline", "PipelineConfig", "citations_of", "cited_documents"]

_log = logging.getLogger(__name__)
_CITE = re.compile(r"\[(\d{1,2})\]")


@dataclass(frozen=True)
class PipelineConfig:
    """Tunables of the pipeline."""

    top_k: int = 5
    max_tokens: int = 400
    #: Hosts answers may link to or show images from; every other link is removed.
    link_hosts: tuple[str, ...] = ()
    #: Waits (seconds) before writing a finished answer's audit record again when the database failed.
    audit_retry_s: tuple[float, ...] = (0.5, 1.0, 2.0)
    #: When the retrieved passages are too loose to answer from ("not found"); None: never.
    floor: RelevanceFloor | None = None
    #: Estimated tokens of passages one prompt carries (the model's); None: every retrieved passage.
    prompt_budget: int | None = None
    #: Candidates retrieved for the reranker, when there is one (the best ``top_k`` are kept).
    rerank_candidates: int = 20


#: How much of a cited passage travels with its citation (Teams shows up to 160 characters).
EXCERPT_CHARS = 400


def citations_of(chunks: Sequence[RetrievedChunk]) -> tuple[Citation, ...]:
    """One citation per document, numbered in order of first appearance (as in the prompt); its
    location lists the distinct locations of the document's passages, in that order."""
    seen: dict[str, Citation] = {}
    places: dict[str, list[str]] = {}
    for chunk in chunks:
        if chunk.source not in seen:
            seen[chunk.source] = Citation(len(seen) + 1, chunk.source, chunk.title, chunk.text[:EXCERPT_CHARS])
            places[chunk.source] = []
        if chunk.location and chunk.location not in places[chunk.source]:
            places[chunk.source].append(chunk.location)
    return tuple(replace(c, location=", ".join(places[s])) for s, c in seen.items())


#: When the model cites no number, documents this close to the best match are cited.
CITE_MARGIN = 0.05


def cited_documents(
    answer: str, candidates: tuple[Citation, ...], chunks: Sequence[RetrievedChunk]
) -> tuple[Citation, ...]:
    """The documents the answer cites by number. Small models often cite nothing: then the
    documents whose best passage scored within ``CITE_MARGIN`` of the best one."""
    numbers = {int(n) for n in _CITE.findall(answer)}
    used = tuple(c for c in candidates if c.number in numbers)
    if used:
        return used
    best: dict[str, float] = {}
    for chunk in chunks:
        best[chunk.source] = max(best.get(chunk.source, -1.0), chunk.score)
    top = max(best.values(), default=0.0)
    return tuple(c for c in candidates if best.get(c.source, -1.0) >= top - CITE_MARGIN)


class Pipeline:
    """Answers questions; one instance serves every adapter."""

    def __init__(
        self,
        directory: Directory,
        policy: PolicySource,
        retriever: Retriever,
        chat: ChatModel,
        audit: AuditLog,
        config: PipelineConfig,
        *,
        signals: Signals | None = None,
        secondary: ChatModel | None = None,
        redact: Callable[[str], str] | None = None,
        metrics: Metrics | None = None,
        admission: Admission | None = None,
        faq: FaqAnswers | None = None,
        reranker: Reranker | None = None,
    ) -> None:
        self._directory = directory
        self._policy = policy
        self._retriever = retriever
        self._chat = chat
        self._audit = audit
        self._config = config
        self._signals = signals
        self._secondary = secondary
        self._redact = redact
        self._faq = faq
        self._reranker = reranker
        #: Shared with the conversation, which counts what never reaches the pipeline.
        self.metrics = metrics or Metrics()
        #: Requests being answered now, for ``status`` (shared with the admin service).
        self.in_flight: dict[str, int] = {"ask": 0}
        #: Running requests per person (for rate limits) and the cap on answers at once; one per
        #: process, shared by every platform's pipeline.
        self.admission = admission or Admission()

    async def answer(self, message: InboundMessage) -> Reply:
        """Run the pipeline to the end and return the reply (no streaming)."""
        reply: Reply | None = None
        async for event in self.handle(message):
            if isinstance(event, Completed):
                reply = event.reply
        if reply is None:
            raise RuntimeError("the pipeline ended without a reply")
        return reply

    async def _decide(
        self, message: InboundMessage, entry: _EntryBuilder
    ) -> tuple[Decision, str | None, Language | None, str]:
        policy = self._policy.current()
        user = await self._directory.user(message.user)
        # The place in the person's queue is taken before anything below awaits the audit log's
        # count, so requests of a burst see each other (released once this one is recorded).
        reservation = self.admission.reserve(user.email) if user is not None else None
        entry.reservation = reservation
        members = None
        kind = ChannelKind()
        if message.channel_id is not None:
            found = await self._directory.channel_kind(message.channel_id)
            if found is not None:
                kind = found
                members = await self._directory.channel_members(message.channel_id)
        scores: dict[str, float] = {}
        finished = Usage()
        if self._signals is not None and user is not None:
            scores = await self._signals.topic_scores(policy, message.text)
            finished = await self._signals.usage(user.email)
        ahead = reservation.ahead if reservation is not None else 0
        usage = Usage(finished.requests_last_minute + ahead, finished.tokens_today)
        request = Request(
            "ask",
            user.member() if user else None,
            message.channel_id,
            members,
            channel_kind=kind,
            text=message.text,
            topic_scores=scores,
            usage=usage,
        )
        return decide(policy, request), user.email if user else None, user.locale if user else None, policy.version

    async def handle(self, message: InboundMessage) -> AsyncIterator[PipelineEvent]:
        """Answer one message, yielding Decided, SourcesFound, TextDelta... and finally Completed."""
        self.in_flight["ask"] += 1
        entry = _EntryBuilder(message, time.perf_counter())
        try:
            with self.metrics.in_flight():
                async for event in self._handle(message, entry):
                    yield event
        finally:
            self.in_flight["ask"] -= 1
            self._release(entry)  # a request that ended without its record (cancelled) too

    async def _handle(self, message: InboundMessage, entry: _EntryBuilder) -> AsyncIterator[PipelineEvent]:
        started = entry.started
        language: Language = message.locale or detect_language(message.text)
        try:
            with self.metrics.timed("decide"):
                decision, email, _, policy_version = await self._decide(message, entry)
        except (SQLAlchemyError, UpstreamError) as exc:
            _log.warning("directory lookup failed error=%s", type(exc).__name__)
            denied = Decision(False, "policy_error", "the directory could not be read")
            yield await self._finish(entry, denied, "unavailable", user_message("upstream", language), (), language)
            return
        entry.email, entry.policy_version = email, policy_version
        if decision.allowed:
            entry.slot = self.admission.try_answer()
            if entry.slot is None:
                busy = _busy(decision, self.admission.max_concurrent)
                yield Decided(busy)
                yield await self._finish(entry, busy, "unavailable", error_message("busy", language), (), language)
                return
        yield Decided(decision)
        if not decision.allowed or decision.scope is None:
            own_words = decision.message_ja if language == "ja" else decision.message_en
            text = own_words or refusal_message(decision.reason_code, language)
            yield await self._finish(entry, decision, "refused", text, (), language)
            return
        hit = await self._faq_hit(message, decision, language)
        if hit is not None:
            async for event in self._serve_faq(entry, decision, hit, language):
                yield event
            return
        top_k = self._config.top_k
        wanted = max(top_k, self._config.rerank_candidates) if self._reranker is not None else top_k
        try:
            with self.metrics.timed("retrieve"):
                retrieved = await self._retriever.retrieve(
                    message.text, decision.scope.principal_sets, int(decision.scope.clearance), wanted
                )
                chunks, rerank_scores = await self._rerank(message.text, retrieved)
        except (EmbeddingError, SQLAlchemyError) as exc:
            code = EmbeddingUnavailable.code if isinstance(exc, EmbeddingError) else DatabaseUnavailable.code
            _log.warning("retrieval failed error=%s", type(exc).__name__)
            yield await self._finish(entry, decision, "unavailable", user_message(code, language), (), language)
            return
        # The audit record lists everything retrieved, also what the floor or the budget held back.
        entry.retrieved = retrieved
        floor = self._config.floor
        if chunks and floor is not None and not answers(message.text, chunks, floor, rerank_scores):
            chunks = []  # loosely related at best: "not found" rather than an answer built on it
        # Only what fits the model's budget is sent, numbered and cited.
        chunks = within_budget(chunks, self._config.prompt_budget)
        candidates = citations_of(chunks)
        yield SourcesFound(candidates)
        if not chunks:
            yield await self._finish(entry, decision, "no_sources", no_sources_message(language), (), language)
            return
        # The prompt numbers documents, not chunks, in the order of ``candidates``.
        grouped: dict[str, list[RetrievedChunk]] = {}
        for chunk in chunks:
            grouped.setdefault(chunk.source, []).append(chunk)
        passages = [Passage(cs[0].title, src, "\n…\n".join(c.text for c in cs)) for src, cs in grouped.items()]
        model, prompt = self._route(chunks, message, passages, entry)
        parts: list[str] = []
        usage: TokenUsage | None = None
        # Adapters only ever see sanitised text: deltas are released by the same rules as the answer.
        clean = CleanStream(self._config.link_hosts)
        try:
            async for piece in model.stream(prompt, max_tokens=self._config.max_tokens):
                if isinstance(piece, TokenUsage):
                    usage = piece
                    continue
                if not parts:
                    entry.first_token_ms = int((time.perf_counter() - started) * 1000)
                    self.metrics.observe("first_token", time.perf_counter() - started)
                parts.append(piece)
                if shown := clean.feed(piece):
                    yield TextDelta(shown)
        except ModelServerError as exc:
            _log.warning("model failed error=%s", exc)
            text = user_message(ModelUnavailable.code, language)
            yield await self._finish(entry, decision, "unavailable", text, (), language)
            return
        tail, answer = clean.finish()
        if tail:
            yield TextDelta(tail)
        self.metrics.tokens(usage.completion_tokens if usage is not None else len(parts))
        if usage is not None:
            entry.tokens = usage.total
        else:
            # The server did not count (llama.cpp's embedded server never does when streaming):
            # estimate, CJK ~1 token per 2 characters and ~1 token per streamed piece.
            entry.tokens = sum(len(m.content) for m in prompt) // 2 + len(parts)
        if not answer:
            _log.warning("model returned an empty answer model=%s", model.name)
            text = user_message(ModelUnavailable.code, language)
            yield await self._finish(entry, decision, "unavailable", text, (), language)
            return
        yield await self._finish(
            entry, decision, "answered", answer, cited_documents(answer, candidates, chunks), language
        )

    async def _rerank(
        self, query: str, retrieved: list[RetrievedChunk]
    ) -> tuple[list[RetrievedChunk], list[float] | None]:
        """The best ``top_k`` chunks: by the reranker when there is one and it answers, else in the
        retriever's order (a reranker that is down costs the ordering, not the answer)."""
        top_k = self._config.top_k
        if self._reranker is None or not retrieved:
            return retrieved[:top_k], None
        ranked = await self._reranker.rerank(query, retrieved, top_k)
        if ranked is None:
            return retrieved[:top_k], None
        return ranked.hits, ranked.scores

    async def _faq_hit(self, message: InboundMessage, decision: Decision, language: Language) -> FaqHit | None:
        """The approved FAQ entry that answers a new question for this audience, if any. A follow-up
        in a thread depends on what came before, so it is answered the usual way; so is every
        question when the FAQ cannot be read."""
        if self._faq is None or decision.scope is None or _continues_a_thread(message):
            return None
        scope = decision.scope
        try:
            return await self._faq.match(message.text, scope.principal_sets, int(scope.clearance), language)
        except (EmbeddingError, SQLAlchemyError) as exc:
            _log.warning("faq lookup failed error=%s", type(exc).__name__)
            return None

    async def _serve_faq(
        self, entry: _EntryBuilder, decision: Decision, hit: FaqHit, language: Language
    ) -> AsyncIterator[PipelineEvent]:
        """Answer from an approved entry at once: no retrieval, no model."""
        entry.model, entry.endpoint, entry.tokens = f"faq:{hit.entry_id}", "faq", 0
        self.metrics.faq_answer()
        entry.faq_sources = [
            {"faq_id": hit.entry_id, "source": s.source, "acl": list(s.acl), "classification": s.classification}
            for s in hit.sources
        ]
        yield SourcesFound(hit.citations)
        clean = CleanStream(self._config.link_hosts)
        shown = clean.feed(hit.text)
        tail, answer = clean.finish()
        entry.first_token_ms = int((time.perf_counter() - entry.started) * 1000)
        if shown + tail:
            yield TextDelta(shown + tail)
        yield await self._finish(entry, decision, "answered", answer, hit.citations, language, faq_id=hit.entry_id)

    def _release(self, entry: _EntryBuilder) -> None:
        if entry.reservation is not None:
            self.admission.release(entry.reservation)
        if entry.slot is not None:
            self.admission.done(entry.slot)

    def _route(
        self, chunks: Sequence[RetrievedChunk], message: InboundMessage, passages: list[Passage], entry: _EntryBuilder
    ) -> tuple[ChatModel, list[ChatMessage]]:
        """The model this data may reach, and the prompt it gets. Only ``public`` data may leave the
        local model, with PII redacted; anything above public goes local whatever the policy says
        (second lock). A thread's earlier turns are data of unknown class (an answer drawn on
        confidential documents, a person quoting one), so a follow-up stays local, where the
        history may go and still helps the answer."""
        touched = Classification(max((c.classification for c in chunks), default=0))
        endpoints = endpoints_for(self._policy.current(), touched)
        if (
            self._secondary is None
            or self._redact is None
            or endpoints[0] != "secondary"
            or touched != Classification.PUBLIC
            or _continues_a_thread(message)
        ):
            entry.model, entry.endpoint = self._chat.name, "local"
            history = [ChatMessage(t.role, t.text) for t in message.history]
            return self._chat, build_messages(message.text, passages, history)
        redact = self._redact
        entry.model, entry.endpoint = self._secondary.name, "secondary"
        # Built without history whatever the check above says: a later change cannot let a turn out.
        prompt = build_messages(message.text, passages)
        return self._secondary, [ChatMessage(m.role, redact(m.content)) for m in prompt]

    async def _finish(
        self,
        entry: _EntryBuilder,
        decision: Decision,
        status: ReplyStatus,
        text: str,
        citations: tuple[Citation, ...],
        language: Language,
        *,
        faq_id: int | None = None,
    ) -> Completed:
        audit_id: str | None = None
        # An answer the model already wrote is worth a short wait for the database (a restart, a
        # failover): it cannot leave without its record, and the person has been reading it stream.
        waits = self._config.audit_retry_s if status == "answered" else ()
        for wait in (*waits, None):
            try:
                audit_id = await self._audit.append(entry.build(decision, status, text))
                break
            except SQLAlchemyError as exc:
                _log.error("audit write failed error=%s retry_in=%s", type(exc).__name__, wait)
                if wait is not None:
                    await asyncio.sleep(wait)
        # The request is in the audit log now (its count includes it): its place can go.
        self._release(entry)
        if audit_id is None and status == "answered":
            # No answer leaves without its audit record.
            status, text, citations = "unavailable", user_message(DatabaseUnavailable.code, language), ()
        self.metrics.request(entry.message.platform, status)
        if status == "refused":
            self.metrics.refusal(decision.reason_code)
        self.metrics.observe("total", time.perf_counter() - entry.started)
        return Completed(Reply(status, text, citations, decision, audit_id, language, faq_id if citations else None))


def _continues_a_thread(message: InboundMessage) -> bool:
    """Whether earlier turns came with the message, or it replies in a thread begun earlier (whose
    turns may simply have been unreadable: the question itself may then quote them)."""
    return bool(message.history) or message.thread_id not in (None, message.message_id)


def _busy(decision: Decision, limit: int) -> Decision:
    """The refusal when ``limit`` answers are being generated already: not the policy's doing."""
    why = f"{limit} answers are being generated (KURA_PIPELINE_MAX_CONCURRENT): busy"
    return Decision(False, "busy", why, roles=decision.roles, rules=(*decision.rules, f"{why}: deny"))


class _EntryBuilder:
    """Collects what the audit record needs as the pipeline goes."""

    def __init__(self, message: InboundMessage, started: float) -> None:
        self.message = message
        self.started = started
        self.reservation: Reservation | None = None
        self.slot: Slot | None = None
        self.email: str | None = None
        self.policy_version: str | None = None
        self.retrieved: Sequence[RetrievedChunk] = ()
        self.model: str | None = None
        self.endpoint: str | None = None
        self.tokens: int | None = None
        self.first_token_ms: int | None = None
        #: The cited documents of the FAQ entry that answered, instead of retrieved chunks.
        self.faq_sources: list[dict[str, object]] | None = None

    def build(self, decision: Decision, status: str, answer: str) -> AuditEntry:
        m = self.message
        return AuditEntry(
            platform=m.platform,
            user_ref=m.user,
            user_email=self.email,
            action="ask",
            allowed=decision.allowed,
            reason_code=decision.reason_code,
            status=status,
            question=m.text,
            answer=answer,
            latency_ms=int((time.perf_counter() - self.started) * 1000),
            channel_id=m.channel_id,
            thread_id=m.thread_id,
            rules=decision.rules,
            retrieved=self.faq_sources
            if self.faq_sources is not None
            else [
                {
                    "chunk_id": c.chunk_id,
                    "document_id": c.document_id,
                    "source": c.source,
                    "acl": list(c.acl),
                    "classification": c.classification,
                    "score": round(c.score, 4),
                }
                for c in self.retrieved
            ],
            model=self.model,
            prompt_version=PROMPT_VERSION,
            policy_version=self.policy_version,
            first_token_ms=self.first_token_ms,
            tokens=self.tokens,
            endpoint=self.endpoint,
        )
