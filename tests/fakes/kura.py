"""The conversation core as ``kura serve`` builds it, on the in-memory platform
(:mod:`tests.fakes.chat`) and the OpenAI-protocol fake model (:mod:`tests.fakes.openai_server`),
with the sample directory and the shipped policy: for unit tests of the core."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import bot
import policies
from bot.core.admission import Admission
from bot.core.conversation import Conversation, PlatformParts
from bot.core.outbound import Outbox
from bot.core.pipeline import Pipeline, PipelineConfig
from bot.core.types import InboundMessage
from bot.identity import FileDirectory
from bot.wiring import StaticPolicy
from knowledge.store import SearchHit
from llm import OpenAIChatModel
from tests.fakes.chat import ListAudit, MemoryHistory, MemoryLedger, MemoryTransport, RecordingAdmin, ScopedRetriever
from tests.fakes.openai_server import Answer, FakeOpenAI, local_client

__all__ = ["HITS", "POLICY", "Kura", "kura", "mention"]

HITS = [
    SearchHit(1, 1, "handbook/expenses.md", "経費精算", "締め日は毎月25日。", ("group:all-staff",), 1, 0.10),
    SearchHit(2, 2, "hr/pay.md", "給与規程", "G3 の基本給は月額32万円〜38万円。", ("group:hr",), 2, 0.11),
    SearchHit(3, 3, "public/overview.md", "会社概要", "設立は2001年。", ("public",), 0, 0.30),
]
POLICY = Path(policies.__file__).parent / "default.yaml"


@dataclass
class Kura:
    """One platform's conversation over fakes, and what it touched."""

    conversation: Conversation
    outbox: Outbox
    transport: MemoryTransport
    history: MemoryHistory
    ledger: MemoryLedger
    audit: ListAudit
    model: FakeOpenAI
    retriever: ScopedRetriever


@asynccontextmanager
async def kura(
    answer: Answer = "締め日は毎月25日です [1]",
    *,
    policy_text: str | None = None,
    directory: FileDirectory | None = None,
    admission: Admission | None = None,
    first_token_s: float = 0.0,
) -> AsyncIterator[Kura]:
    """The core on the in-memory platform and the fake model (``answer`` is what the model writes,
    after ``first_token_s``); the sample directory unless one is given."""
    directory = directory or FileDirectory.load(Path(bot.__file__).parent / "sample" / "directory.yaml")
    text = POLICY.read_text(encoding="utf-8") if policy_text is None else policy_text
    policy = StaticPolicy(policies.load_policy_text(text))
    transport, history, ledger, audit = MemoryTransport(), MemoryHistory(), MemoryLedger(), ListAudit()
    retriever = ScopedRetriever(HITS)
    async with FakeOpenAI(answer, first_token_s=first_token_s) as fake:
        client = local_client(fake.url)
        chat = OpenAIChatModel(client, "fake", max_tokens=64, temperature=0.0)
        config = PipelineConfig(top_k=5)
        pipeline = Pipeline(directory, policy, retriever, chat, audit, config, admission=admission)
        parts = PlatformParts(transport, directory, pipeline, history)
        conversation = Conversation(parts, ledger=ledger, feedback=audit, admin=RecordingAdmin(), policy=policy)
        outbox = Outbox(policy, audit)
        outbox.attach(parts)
        try:
            yield Kura(conversation, outbox, transport, history, ledger, audit, fake, retriever)
        finally:
            await client.close()


def mention(
    text: str, user: str = "alice@example.co.jp", channel: str | None = "C-GENERAL", **kw: str
) -> InboundMessage:
    """A message from ``user`` in ``channel`` (None: a DM); ``ts``, ``thread``, ``event_id`` optional."""
    ts = kw.pop("ts", "100.1")
    return InboundMessage(
        "memory",
        user,
        text,
        channel_id=channel,
        thread_id=kw.pop("thread", ts),
        event_id=kw.pop("event_id", f"Ev{ts}"),
        conversation_id=channel or f"D-{user}",
        message_id=ts,
    )
