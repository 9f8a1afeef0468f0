"""The pipeline with in-memory fakes of its ports: events in order, refusals, citations, failures."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

import bot
import policies
from bot.audit import AuditEntry
from bot.core import Completed, Decided, InboundMessage, Pipeline, SourcesFound, TextDelta
from bot.core.conversation import Conversation, PlatformParts
from bot.core.pipeline import PipelineConfig
from bot.core.types import HistoryMessage, Turn
from bot.identity import FileDirectory
from bot.redaction import redact
from bot.wiring import StaticPolicy
from knowledge.store import SearchHit
from llm import ChatMessage, OpenAIChatModel
from llm.errors import ModelServerError
from tests.fakes.chat import ListAudit, MemoryHistory, MemoryLedger, MemoryTransport, RecordingAdmin, ScopedRetriever
from tests.fakes.kura import POLICY, mention
from tests.fakes.openai_server import FakeOpenAI, local_client

pytestmark = pytest.mark.unit


class FakeRetriever:
    """Returns fixed hits filtered by the scope, as the SQL would."""

    def __init__(self, hits: list[SearchHit]) -> None:
        self.hits = hits
        self.calls: list[tuple[frozenset[str], ...]] = []

    async def retrieve(
        self, query: str, principal_sets: Sequence[frozenset[str]], clearance: int, k: int
    ) -> list[SearchHit]:
        self.calls.append(tuple(principal_sets))
        return [h for h in self.hits if all(set(h.acl) & s for s in principal_sets)][:k]


class FakeChat:
    """Streams a fixed answer, or fails."""

    name = "fake-model"

    def __init__(self, answer: str, fail: bool = False) -> None:
        self.answer, self.fail = answer, fail
        self.prompts: list[Sequence[ChatMessage]] = []

    async def stream(self, messages: Sequence[ChatMessage], *, max_tokens: int | None = None) -> AsyncIterator[str]:
        self.prompts.append(messages)
        if self.fail:
            raise ModelServerError("down")
        for word in self.answer.split(" "):
            yield word + " "


class FakeAudit:
    """Keeps entries in a list."""

    def __init__(self) -> None:
        self.entries: list[AuditEntry] = []

    async def append(self, entry: AuditEntry) -> str:
        self.entries.append(entry)
        return f"a{len(self.entries)}"


def _hit(i: int, source: str, acl: tuple[str, ...], distance: float) -> SearchHit:
    return SearchHit(i, i, source, source.upper(), f"text of {source}", acl, 1, distance)


HITS = [
    _hit(1, "handbook/expenses.md", ("group:all-staff",), 0.09),
    _hit(2, "hr/pay.md", ("group:hr",), 0.10),
    _hit(3, "handbook/leave.md", ("group:all-staff",), 0.17),
]


def _pipeline(chat: FakeChat) -> tuple[Pipeline, FakeRetriever, FakeAudit]:
    directory = FileDirectory.load(Path(bot.__file__).parent / "sample" / "directory.yaml")
    policy = StaticPolicy(policies.load_policy(Path(policies.__file__).parent / "default.yaml"))
    retriever, audit = FakeRetriever(HITS), FakeAudit()
    return Pipeline(directory, policy, retriever, chat, audit, PipelineConfig(top_k=5)), retriever, audit


async def test_events_come_in_order_and_the_answer_is_audited() -> None:
    """Decided, SourcesFound, deltas, Completed; one audit record with the retrieved chunk ids."""
    pipeline, _, audit = _pipeline(FakeChat("締め日は25日です [1]"))
    events = [e async for e in pipeline.handle(InboundMessage("cli", "alice@example.co.jp", "締め日は？"))]
    assert [Decided, SourcesFound, TextDelta, TextDelta, Completed] == [type(e) for e in events]
    reply = events[-1].reply if isinstance(events[-1], Completed) else None
    assert reply is not None
    assert ("handbook/expenses.md",) == tuple(c.source for c in reply.citations)
    assert [1, 3] == [r["chunk_id"] for r in audit.entries[0].retrieved]
    assert "a1" == reply.audit_id


async def test_uncited_answer_cites_only_documents_close_to_the_best() -> None:
    """No [n] in the answer: the best document (and those within the margin) are cited, not all."""
    pipeline, _, _ = _pipeline(FakeChat("締め日は25日です"))
    reply = await pipeline.answer(InboundMessage("cli", "alice@example.co.jp", "締め日は？"))
    assert ["handbook/expenses.md"] == [c.source for c in reply.citations]


async def test_unknown_user_is_refused_without_retrieval_or_model() -> None:
    """Denied before any data is touched; the refusal is audited."""
    chat = FakeChat("x")
    pipeline, retriever, audit = _pipeline(chat)
    reply = await pipeline.answer(InboundMessage("cli", "mallory@evil.example", "給与は？", locale="en"))
    assert ("refused", "unknown_user") == (reply.status, reply.decision.reason_code)
    assert "not registered" in reply.text
    assert ([], []) == (retriever.calls, chat.prompts)
    assert [False] == [e.allowed for e in audit.entries]


async def test_channel_scope_passes_one_reader_set_per_member() -> None:
    """In C-SALES the retriever gets alice's and bob's sets; hr/ never reaches the model."""
    chat = FakeChat("ok")
    pipeline, retriever, _ = _pipeline(chat)
    await pipeline.answer(InboundMessage("cli", "bob@example.co.jp", "pay?", channel_id="C-SALES"))
    assert 2 == len(retriever.calls[0])
    assert "hr/pay.md" not in chat.prompts[0][-1].content


async def test_model_down_gives_unavailable_in_the_users_language() -> None:
    """The model failing mid-request becomes an 'unavailable' reply, audited."""
    pipeline, _, audit = _pipeline(FakeChat("x", fail=True))
    reply = await pipeline.answer(InboundMessage("cli", "alice@example.co.jp", "締め日は？"))
    assert "unavailable" == reply.status
    assert "一時的に利用できません" in reply.text
    assert ["unavailable"] == [e.status for e in audit.entries]


def _routed(hits: list[SearchHit], routing: str) -> tuple[Pipeline, FakeChat, FakeChat, FakeAudit]:
    directory = FileDirectory.load(Path(bot.__file__).parent / "sample" / "directory.yaml")
    text = (Path(policies.__file__).parent / "default.yaml").read_text(encoding="utf-8")
    policy = StaticPolicy(policies.load_policy_text(text.replace("routing:\n  public: [local]", routing)))
    local, cloud, audit = FakeChat("local answer [1]"), FakeChat("cloud answer [1]"), FakeAudit()
    pipeline = Pipeline(
        directory,
        policy,
        FakeRetriever(hits),
        local,
        audit,
        PipelineConfig(top_k=5),
        secondary=cloud,
        redact=lambda s: s.replace("alice@example.co.jp", "[EMAIL]"),
    )
    return pipeline, local, cloud, audit


PUBLIC_HIT = SearchHit(9, 9, "public/overview.md", "Overview", "Mail alice@example.co.jp", ("public",), 0, 0.1)


async def test_public_data_may_go_to_the_second_endpoint_with_pii_redacted() -> None:
    """Policy routes public data to the second endpoint: it gets the prompt, redacted; audit says so."""
    pipeline, local, cloud, audit = _routed([PUBLIC_HIT], "routing:\n  public: [secondary, local]")
    reply = await pipeline.answer(InboundMessage("cli", "alice@example.co.jp", "founded?"))
    assert "cloud answer [1]" == reply.text
    assert [] == local.prompts
    sent = "\n".join(m.content for m in cloud.prompts[0])
    assert "alice@example.co.jp" not in sent
    assert "[EMAIL]" in sent
    assert "secondary" == audit.entries[0].endpoint


async def test_anything_above_public_never_reaches_the_second_endpoint() -> None:
    """One internal chunk among public ones keeps the whole request local, whatever the routing says."""
    internal = SearchHit(1, 1, "handbook/expenses.md", "Expenses", "25th", ("group:all-staff",), 1, 0.05)
    pipeline, local, cloud, audit = _routed([internal, PUBLIC_HIT], "routing:\n  public: [secondary, local]")
    policy = pipeline._policy.current()
    policy.routing["internal"] = ("secondary",)  # a configuration mistake the loader would refuse
    await pipeline.answer(InboundMessage("cli", "alice@example.co.jp", "expenses?"))
    assert [] == cloud.prompts
    assert 1 == len(local.prompts)
    assert "local" == audit.entries[0].endpoint


def test_every_denial_code_the_engine_can_return_has_its_own_words() -> None:
    """No denial falls back to the generic 'could not check your rights' text."""
    import inspect

    import policies.engine
    import policies.guards
    from bot.core.messages import refusal_message

    source = inspect.getsource(policies.engine) + inspect.getsource(policies.guards)
    codes = set(re.findall(r'_deny\(\s*"([a-z_]+)"', source)) | set(re.findall(r'return "([a-z_]+)", f"', source))
    generic = refusal_message("policy_error", "en")
    assert {"rate_limited", "topic_restricted", "channel_denied", "unknown_user"} <= codes
    for code in codes - {"policy_error"}:
        assert generic != refusal_message(code, "en"), code


class FlakyAudit(FakeAudit):
    """Refuses the first ``failures`` appends as a database being restarted would."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    async def append(self, entry: AuditEntry) -> str:
        if self.failures:
            self.failures -= 1
            raise OperationalError("INSERT INTO audit_records", {}, ConnectionRefusedError("restarting"))
        return await super().append(entry)


@pytest.mark.parametrize(("failures", "status"), [(2, "answered"), (3, "answered"), (4, "unavailable")])
async def test_a_finished_answer_waits_briefly_for_its_audit_record(failures: int, status: str) -> None:
    """The database failing while the answer is recorded: tried again after short waits, so a
    restart does not cost the answer; past the waits the answer is withheld (never sent unrecorded)."""
    directory = FileDirectory.load(Path(bot.__file__).parent / "sample" / "directory.yaml")
    policy = StaticPolicy(policies.load_policy(Path(policies.__file__).parent / "default.yaml"))
    audit = FlakyAudit(failures)
    config = PipelineConfig(top_k=5, audit_retry_s=(0.01, 0.01, 0.01))
    pipeline = Pipeline(directory, policy, FakeRetriever(HITS), FakeChat("締め日は25日です [1]"), audit, config)
    reply = await pipeline.answer(InboundMessage("cli", "alice@example.co.jp", "締め日は？"))
    assert status == reply.status
    assert (reply.audit_id is not None) == (status == "answered")
    assert (1 if status == "answered" else 0) == len(audit.entries)


# --- what a thread may send to the second endpoint ---------------------------------------------------------------

CONFIDENTIAL = SearchHit(2, 2, "hr/pay.md", "給与規程", "G3 の基本給は月額32万円〜38万円。", ("group:hr",), 2, 0.05)
PUBLIC = SearchHit(3, 3, "public/overview.md", "会社概要", "設立は2001年。taro@example.co.jp", ("public",), 0, 0.3)
#: Words of the confidential answer; none may appear in anything the second endpoint receives.
SECRET_WORDS = ("32万", "38万", "基本給", "給与規程", "hr/pay.md")


class Thread:
    """A DM conversation on the in-memory platform with two OpenAI-protocol fakes: the local model and
    the second (cloud) endpoint, which the policy allows for public data."""

    def __init__(self, local: FakeOpenAI, cloud: FakeOpenAI) -> None:
        self.local, self.cloud = local, cloud
        self.clients = [local_client(local.url), local_client(cloud.url)]
        text = POLICY.read_text(encoding="utf-8").replace(
            "routing:\n  public: [local]", "routing:\n  public: [secondary, local]"
        )
        policy = StaticPolicy(policies.load_policy_text(text))
        directory = FileDirectory.load(Path(bot.__file__).parent / "sample" / "directory.yaml")
        self.retriever, self.audit, self.history = ScopedRetriever([CONFIDENTIAL, PUBLIC]), ListAudit(), MemoryHistory()
        pipeline = Pipeline(
            directory,
            policy,
            self.retriever,
            OpenAIChatModel(self.clients[0], "local", max_tokens=64, temperature=0.0),
            self.audit,
            PipelineConfig(top_k=5),
            secondary=OpenAIChatModel(self.clients[1], "cloud", max_tokens=64, temperature=0.0),
            redact=redact,
        )
        parts = PlatformParts(MemoryTransport(), directory, pipeline, self.history)
        self.conversation = Conversation(
            parts, ledger=MemoryLedger(), feedback=self.audit, admin=RecordingAdmin(), policy=policy
        )

    def cloud_saw(self) -> str:
        """Every message of every request the second endpoint received."""
        return "\n".join(str(m["content"]) for body in self.cloud.requests for m in body["messages"])

    async def close(self) -> None:
        for client in self.clients:
            await client.close()


@pytest.fixture
async def thread() -> AsyncIterator[Thread]:
    async with (
        FakeOpenAI("G3 の基本給は月額32万円〜38万円です [1]") as local,
        FakeOpenAI("設立は2001年です [1]") as cloud,
    ):
        t = Thread(local, cloud)
        try:
            yield t
        finally:
            await t.close()


def _dm(text: str, ts: str, thread: str | None = None) -> InboundMessage:
    return mention(text, user="carol@example.co.jp", channel=None, ts=ts, thread=thread or ts)


async def _confidential_start(t: Thread) -> None:
    """carol (HR) asks about pay in a DM: a confidential answer, from the local model."""
    first = await t.conversation.handle(_dm("G3の給与は？", "1.0"))
    assert first is not None
    assert ("answered", "local") == (first.status, t.audit.entries[-1].endpoint)
    t.history.add(
        "D-carol@example.co.jp",
        "1.0",
        HistoryMessage("1.0", "person", "G3の給与は？"),
        HistoryMessage("1.1", "kura", first.text),
        HistoryMessage("2.0", "person", "基本給 32万円〜38万円 というのは税込み？"),
    )
    t.retriever.hits = [PUBLIC]  # the follow-up finds public documents only


async def test_a_fresh_public_question_may_go_to_the_second_endpoint(thread: Thread) -> None:
    """The control: a new DM question that retrieves only public documents goes out, PII redacted."""
    thread.retriever.hits = [PUBLIC]
    reply = await thread.conversation.handle(_dm("設立はいつ？", "5.0"))
    assert reply is not None
    assert ("answered", "secondary") == (reply.status, thread.audit.entries[-1].endpoint)
    assert "設立は2001年" in thread.cloud_saw()
    assert "taro@example.co.jp" not in thread.cloud_saw()


async def test_a_confidential_turn_of_the_thread_never_reaches_the_second_endpoint(thread: Thread) -> None:
    """A DM thread with a confidential answer, then a follow-up retrieving only public documents:
    nothing of the earlier turns (Kura's answer, the person's quote of it) goes out; the follow-up
    is answered by the local model, which may see the thread."""
    await _confidential_start(thread)
    reply = await thread.conversation.handle(_dm("会社の設立はいつ？", "3.0", thread="1.0"))
    assert reply is not None
    assert "answered" == reply.status
    for word in SECRET_WORDS:
        assert word not in thread.cloud_saw(), word
    assert "local" == thread.audit.entries[-1].endpoint
    seen_locally = "\n".join(str(m["content"]) for m in thread.local.requests[-1]["messages"])
    assert "基本給 32万円〜38万円 というのは税込み？" in seen_locally  # the history still helps the answer


async def test_a_follow_up_whose_thread_cannot_be_read_stays_local(thread: Thread) -> None:
    """The platform's history failing leaves no turns to check; the question is still a reply in a
    thread that may quote a confidential answer, so it does not go out either."""
    await _confidential_start(thread)
    thread.history.down = True
    reply = await thread.conversation.handle(_dm("さっきの32万円の件、設立はいつ？", "3.0", thread="1.0"))
    assert reply is not None
    assert "answered" == reply.status
    assert [] == thread.cloud.requests
    assert "local" == thread.audit.entries[-1].endpoint


async def test_history_handed_to_the_pipeline_keeps_the_request_local() -> None:
    """Turns given directly (console, jobs) count as history too: the second endpoint gets nothing."""
    pipeline, local, cloud, audit = _routed([PUBLIC_HIT], "routing:\n  public: [secondary, local]")
    turns = (Turn("user", "G3の給与は？"), Turn("assistant", "G3 の基本給は月額32万円〜38万円です"))
    await pipeline.answer(InboundMessage("cli", "alice@example.co.jp", "founded?", history=turns))
    assert [] == cloud.prompts
    assert "32万円" in "\n".join(m.content for m in local.prompts[0])
    assert "local" == audit.entries[0].endpoint
