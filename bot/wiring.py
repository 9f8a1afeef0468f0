"""The composition root: build every part from the settings, once, and hand them out."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import bot
import policies
from bot.audit import AuditStore, Keyring
from bot.audit.keyring import existing_checkpoint_key
from bot.audit.retention import RetentionPlan
from bot.db import Database
from bot.errors import ConfigurationError
from bot.identity import FileDirectory
from bot.metrics import Metrics
from bot.model_clients import Status, chat_model, secondary_model
from bot.policy_source import ReloadingPolicy
from bot.settings import KuraSettings
from policies import Policy, PolicyError, load_policy

# The model clients, the embedder, the pipeline and the knowledge store pull in openai, numpy and
# the embedded e5 engine (seconds of imports): they are imported where they are built, so that
# `kura policy …`, `kura audit …` and `kura --help` start fast.
if TYPE_CHECKING:
    from bot.core.admin import AdminService
    from bot.core.admission import Admission
    from bot.core.conversation import Conversation
    from bot.core.outbound import Outbox
    from bot.core.pipeline import Pipeline
    from bot.core.ports import ChannelHistory, Directory, Files, History, Meetings, PolicySource, Transport
    from bot.faq.review import FaqReviews
    from bot.faq.service import FaqService
    from bot.minutes.service import MinutesService
    from bot.sources import SourceService
    from knowledge import Ingestor, KnowledgeStore, PgVectorRetriever
    from knowledge.faq_store import FaqStore
    from knowledge.relevance import RelevanceFloor
    from knowledge.rerank import Reranker
    from llm import ChatModel, Embedder
    from llm.chat import OpenAIChatModel
    from llm.structured import JsonModel

__all__ = [
    "Runtime",
    "StaticPolicy",
    "default_directory_file",
    "default_policy_file",
    "open_runtime",
    "sample_knowledge",
]

_log = logging.getLogger(__name__)


def default_policy_file() -> Path:
    """The policy shipped with Kura."""
    return Path(policies.__file__).parent / "default.yaml"


def default_directory_file() -> Path:
    """The sample company's directory, the default when none is configured."""
    return Path(bot.__file__).parent / "sample" / "directory.yaml"


def sample_knowledge() -> Path:
    """The sample knowledge base (Japanese and English, four access levels)."""
    return Path(bot.__file__).parent / "sample" / "knowledge"


class StaticPolicy:
    """A policy loaded once at start."""

    def __init__(self, policy: Policy) -> None:
        self._policy = policy

    def current(self) -> Policy:
        """The policy in force."""
        return self._policy


def load_configured_policy(settings: KuraSettings) -> Policy:
    """The configured policy file, validated; ConfigurationError listing its problems."""
    path = settings.policy.file or default_policy_file()
    try:
        return load_policy(path)
    except PolicyError as exc:
        raise ConfigurationError("; ".join(exc.problems)) from exc


def relevance_floor(settings: KuraSettings) -> RelevanceFloor | None:
    """The "not found" floor the settings describe (``KURA_RETRIEVAL_MIN_*``); None when all are 0."""
    from knowledge.relevance import RelevanceFloor

    r = settings.retrieval
    floors = (r.min_similarity_ja, r.min_similarity_en, r.min_coverage, r.min_rerank_score or 0.0)
    if not any(floors):
        return None
    return RelevanceFloor(r.min_similarity_ja, r.min_similarity_en, r.min_coverage, r.min_rerank_score)


def prompt_budget(settings: KuraSettings) -> int | None:
    """Estimated tokens of passages per prompt: ``KURA_LLM_PROMPT_BUDGET`` for a served model, the
    catalogue's for the embedded one (either may be unset: no limit)."""
    if settings.llm.base_url is not None:
        return settings.llm.prompt_budget
    from llm.catalog import CATALOG

    model = CATALOG.get(settings.llm.local_model)
    return settings.llm.prompt_budget or (model.prompt_budget if model is not None else None)


def _check_embedder(settings: KuraSettings) -> None:
    e = settings.embedding
    if e.backend == "openai" and not e.base_url:
        raise ConfigurationError("KURA_EMBEDDING_BASE_URL is required when KURA_EMBEDDING_BACKEND=openai")


def _embedder(settings: KuraSettings) -> Embedder:
    _check_embedder(settings)
    e = settings.embedding
    if e.backend == "openai":
        import openai

        from llm.embeddings import OpenAIEmbedder

        client = openai.AsyncOpenAI(base_url=e.base_url, api_key=e.api_key.get_secret_value())
        return OpenAIEmbedder(client, e.model, e.dim, batch_size=e.batch_size)
    from llm.embeddings import E5Embedder

    return E5Embedder(threads=e.threads, batch_size=e.batch_size)


def _anchor_key(settings: KuraSettings) -> bytes | None:
    """The checkpoint key, which checks retention anchors; None until one was made at its default
    location (a configured one must exist)."""
    return existing_checkpoint_key(settings)


@dataclass
class Runtime:
    """Every part, built. ``pipeline`` and ``chat`` exist when a model was asked for; the embedder,
    the knowledge store and the ingestor are built on first use (commands about the audit log or
    the policy never load the embedding model)."""

    settings: KuraSettings
    database: Database
    audit: AuditStore
    directory: FileDirectory
    policy: PolicySource
    chat: ChatModel | None = None
    pipeline: Pipeline | None = None
    model_url: str | None = None
    retriever: PgVectorRetriever | None = None
    secondary: ChatModel | None = None
    metrics: Metrics = field(default_factory=Metrics)
    #: The chat model asked for JSON following a schema (minutes); the same server as ``chat``.
    structured: JsonModel | None = None

    @cached_property
    def embedder(self) -> Embedder:
        """The configured embedder (the in-process e5 model loads here, once)."""
        return _embedder(self.settings)

    @cached_property
    def store(self) -> KnowledgeStore:
        """Documents and chunks, for this embedder's vectors."""
        from knowledge import KnowledgeStore

        return KnowledgeStore(
            self.database.sessions,
            self.embedder.name,
            self.embedder.dim,
            exact_below=self.settings.retrieval.exact_below,
        )

    @cached_property
    def faq_store(self) -> FaqStore:
        """FAQ entries, matched with this embedder's query vectors."""
        from knowledge.faq_store import FaqStore

        return FaqStore(self.database.sessions, self.embedder.name, self.embedder.dim)

    @cached_property
    def sources(self) -> SourceService:
        """The sources registry, the one way every path syncs (the ingestor and the FAQ store are
        built when a sync runs: listing sources never loads the embedding model)."""
        from bot.sources import SourceService
        from knowledge.sources_store import SourceStore

        return SourceService(
            SourceStore(self.database.sessions),
            self.policy,
            ingestor=lambda: self.ingestor,
            faq_store=lambda: self.faq_store,
        )

    @cached_property
    def faq_reviews(self) -> FaqReviews:
        """Reviews of FAQ entries (chat buttons, ``/kura faq``, ``kura faq approve|reject|edit``)."""
        from bot.faq.review import FaqReviews

        return FaqReviews(
            self.faq_store,
            self.policy,
            self.directory,
            self.audit,
            embedder=self.embedder,
            link_hosts=tuple(self.settings.answer_link_hosts),
        )

    @cached_property
    def faq(self) -> FaqService:
        """The FAQ loop: mining, drafting (with the chat model, when the runtime has one), staleness,
        gaps and review requests through the outbox."""
        from bot.faq.draft import Drafter
        from bot.faq.service import FaqService

        drafter = None
        if self.chat is not None and self.retriever is not None:
            drafter = Drafter(
                self.retriever,
                self.chat,
                top_k=self.settings.retrieval.top_k,
                max_tokens=self.settings.llm.max_tokens,
                samples=self.settings.faq.samples,
                link_hosts=tuple(self.settings.answer_link_hosts),
            )
        return FaqService(
            self.faq_store,
            self.audit,
            self.embedder,
            self.policy,
            self.directory,
            self.settings.faq,
            drafter=drafter,
            outbox=self.outbox,
        )

    @cached_property
    def ingestor(self) -> Ingestor:
        """Adds and syncs folders of documents."""
        from knowledge import Ingestor

        r = self.settings.retrieval
        return Ingestor(
            self.store,
            self.embedder,
            chunk_tokens=r.chunk_tokens,
            overlap_tokens=r.chunk_overlap_tokens,
            max_file_bytes=r.max_file_bytes,
        )

    @cached_property
    def admission(self) -> Admission:
        """Running requests per person and the cap on answers at once, shared by every platform."""
        from bot.core.admission import Admission

        return Admission(self.settings.pipeline.max_concurrent)

    def make_retriever(self) -> PgVectorRetriever:
        """The retriever these settings describe, over this runtime's store and embedder."""
        from knowledge import PgVectorRetriever

        r = self.settings.retrieval
        return PgVectorRetriever(
            self.store, self.embedder, ef_search=r.ef_search, max_scan_tuples=r.max_scan_tuples, mode=r.mode
        )

    def derived(self, settings: KuraSettings, chat: OpenAIChatModel | None = None) -> Runtime:
        """A runtime over the same database, audit log, directory, policy and embedder, with other
        settings for answering (``kura eval --config``): its own retriever and, when given, chat model."""
        other = Runtime(
            settings,
            self.database,
            self.audit,
            self.directory,
            self.policy,
            chat=chat or self.chat,
            model_url=self.model_url,
            secondary=self.secondary,
            metrics=self.metrics,
        )
        for shared in ("embedder", "store", "faq_store", "admission"):
            if shared in self.__dict__:  # built already: shared, not built twice
                other.__dict__[shared] = self.__dict__[shared]
        other.structured = chat if chat is not None else self.structured
        other.retriever = other.make_retriever()
        return other

    def make_pipeline(self, directory: Directory) -> Pipeline:
        """A pipeline over these parts, with a platform's own directory (e.g. Slack ids)."""
        if self.chat is None or self.retriever is None:
            raise ConfigurationError("the runtime was opened without a model")
        from bot.core.pipeline import Pipeline, PipelineConfig
        from bot.faq.serve import FaqMatcher
        from bot.redaction import redact
        from bot.signals import RequestSignals

        config = PipelineConfig(
            top_k=self.settings.retrieval.top_k,
            max_tokens=self.settings.llm.max_tokens,
            link_hosts=tuple(self.settings.answer_link_hosts),
            floor=relevance_floor(self.settings),
            prompt_budget=prompt_budget(self.settings),
            rerank_candidates=self.settings.rerank.candidates,
        )
        return Pipeline(
            directory,
            self.policy,
            self.retriever,
            self.chat,
            self.audit,
            config,
            signals=RequestSignals(self.embedder, self.audit),
            secondary=self.secondary,
            redact=redact,
            metrics=self.metrics,
            admission=self.admission,
            faq=FaqMatcher(self.faq_store, self.embedder, self.policy, link_hosts=config.link_hosts),
            reranker=self.reranker,
        )

    @cached_property
    def reranker(self) -> Reranker | None:
        """The reranking stage's client when ``KURA_RERANK_BASE_URL`` is set (one per runtime)."""
        r = self.settings.rerank
        if r.base_url is None:
            return None
        from knowledge.rerank import Reranker

        key = r.api_key.get_secret_value()
        return Reranker(r.base_url, r.model, timeout_s=r.timeout_s, api_key=None if key == "not-needed" else key)

    def retention_plan(self) -> RetentionPlan:
        """Retention per data class: the policy's ``retention:`` section when it has one, else the
        settings (``KURA_AUDIT_TEXT_RETENTION_DAYS`` for question and answer text; records kept)."""
        policy = self.policy.current()
        rules = policy.retention
        if rules is None:
            days = self.settings.audit_text_retention_days
            return RetentionPlan(days, days, None, "settings")
        return RetentionPlan(
            rules.question_text_days,
            rules.answer_text_days,
            rules.audit_metadata_days,
            policy.source,
            rules.minutes_text_days,
        )

    def make_admin(self, directory: Directory, pipeline: Pipeline | None = None) -> AdminService:
        """The admin commands over these parts; ``pipeline`` lends its in-flight counter to ``status``."""
        from bot.core.admin import AdminService
        from bot.eval.admin import EvalAdmin
        from bot.faq.admin import FaqAdmin
        from bot.jobs.service import ScheduleService

        return AdminService(
            directory,
            self.policy,
            self.audit,
            self.store,
            self.sources,
            model_name=self.chat.name if self.chat else "(none)",
            sync_roots=self.settings.slack.sync_roots,
            in_flight=pipeline.in_flight if pipeline else None,
            schedules=ScheduleService(self),
            faq=FaqAdmin(self.faq_store, self.faq_reviews, self.policy, self.directory),
            evaluation=EvalAdmin(self),
        )

    @cached_property
    def minutes(self) -> MinutesService:
        """Meeting minutes with the chat model (structured output), posted through the outbox."""
        if self.structured is None:
            raise ConfigurationError("the runtime was opened without a model")
        from bot.minutes.service import MinutesService
        from bot.minutes.writer import MinutesWriter

        m = self.settings.minutes
        writer = MinutesWriter(
            self.structured,
            part_tokens=m.part_tokens,
            extract_max_tokens=m.extract_max_tokens,
            summary_max_tokens=m.summary_max_tokens,
        )
        return MinutesService(
            self.policy, self.audit, writer, self.outbox, link_hosts=tuple(self.settings.answer_link_hosts)
        )

    @cached_property
    def outbox(self) -> Outbox:
        """Posts without an inbound event (jobs), on every platform an adapter attached."""
        from bot.core.outbound import Outbox

        return Outbox(self.policy, self.audit, link_hosts=self.settings.answer_link_hosts)

    def attach(
        self,
        transport: Transport,
        directory: Directory,
        history: History | None = None,
        *,
        channels: ChannelHistory | None = None,
        files: Files | None = None,
        meetings: Meetings | None = None,
    ) -> Conversation:
        """The conversation for a platform an adapter serves (its transport, directory, thread
        history, and for minutes channel history, attached files and meeting transcripts), also made reachable for
        outbound posts."""
        from bot.core.conversation import Conversation, PlatformParts
        from bot.ledger import EventLedger
        from bot.minutes.chat import ChatMinutes

        pipeline = self.make_pipeline(directory)
        parts = PlatformParts(transport, directory, pipeline, history, channels, files, meetings)
        self.outbox.attach(parts)
        limit = self.settings.minutes.max_file_bytes
        return Conversation(
            parts,
            ledger=EventLedger(self.database.sessions),
            feedback=self.audit,
            admin=self.make_admin(directory, pipeline),
            policy=self.policy,
            minutes=ChatMinutes(self.minutes, parts, self.policy, max_bytes=limit) if self.structured else None,
            faq=self.faq_reviews,
        )


@asynccontextmanager
async def open_runtime(
    settings: KuraSettings, *, with_model: bool = False, status: Status | None = None
) -> AsyncIterator[Runtime]:
    """Start the database (embedded or configured), and the model if asked; stop them on exit."""
    say = status or (lambda _msg: None)
    async with AsyncExitStack() as stack:
        policy = ReloadingPolicy(settings.policy.file or default_policy_file(), load_configured_policy(settings))
        directory = FileDirectory.load(settings.policy.directory_file or default_directory_file(), watch=True)
        database = Database(settings)
        say("database: " + ("embedded PostgreSQL" if database.embedded else "configured PostgreSQL"))
        await database.start()
        stack.push_async_callback(database.close)
        await database.ensure_schema()
        _check_embedder(settings)  # a missing setting fails now, before the embedder is first used
        cipher = Keyring.from_settings(settings)
        audit = AuditStore(database.sessions, cipher, anchor_key=_anchor_key(settings))
        runtime = Runtime(settings, database, audit, directory, policy)
        if with_model:
            chat, runtime.model_url = await chat_model(settings, stack, say)
            runtime.chat = runtime.structured = chat
            runtime.secondary = secondary_model(settings, stack)
            runtime.retriever = runtime.make_retriever()
            runtime.pipeline = runtime.make_pipeline(directory)
            if runtime.reranker is not None:
                stack.push_async_callback(runtime.reranker.close)
        yield runtime
