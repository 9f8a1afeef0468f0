"""Token counts from the model server: ``OpenAIChatModel`` against a local server speaking OpenAI's
chat-completions SSE wire format, alone and inside the pipeline. Counted usage reaches the audit
record; without it the estimate stays; a server that rejects ``stream_options`` still answers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import openai
import pytest

import bot
import policies
from bot.audit import AuditEntry
from bot.core import InboundMessage, Pipeline
from bot.core.pipeline import PipelineConfig
from bot.identity import FileDirectory
from bot.wiring import StaticPolicy
from knowledge.store import SearchHit
from llm import ChatMessage, OpenAIChatModel, TokenUsage
from llm.errors import ModelServerError
from tests.fakes.openai_server import FakeOpenAI, local_client

pytestmark = pytest.mark.unit

ANSWER = "締め日は 毎月 25日です [1]"
PIECES = [w + " " for w in ANSWER.split(" ")]


class OneHit:
    """A retriever that always finds the expenses page."""

    async def retrieve(
        self, query: str, principal_sets: Sequence[frozenset[str]], clearance: int, k: int
    ) -> list[SearchHit]:
        return [SearchHit(1, 1, "handbook/expenses.md", "EXPENSES", "締め日は毎月25日。", ("group:all-staff",), 1, 0.1)]


class Entries:
    """Keeps audit entries in a list."""

    def __init__(self) -> None:
        self.entries: list[AuditEntry] = []

    async def append(self, entry: AuditEntry) -> str:
        self.entries.append(entry)
        return f"a{len(self.entries)}"


@pytest.fixture
async def client() -> AsyncIterator[openai.AsyncOpenAI]:
    """An OpenAI client that never goes through a proxy and never retries."""
    async with local_client() as c:
        yield c


def _model(client: openai.AsyncOpenAI, fake: FakeOpenAI) -> OpenAIChatModel:
    return OpenAIChatModel(client.with_options(base_url=fake.url), "served-model", max_tokens=64, temperature=0.0)


async def _collect(model: OpenAIChatModel) -> list[str | TokenUsage]:
    return [item async for item in model.stream([ChatMessage("user", "締め日は？")])]


async def _audited_tokens(model: OpenAIChatModel) -> int | None:
    directory = FileDirectory.load(Path(bot.__file__).parent / "sample" / "directory.yaml")
    policy = StaticPolicy(policies.load_policy(Path(policies.__file__).parent / "default.yaml"))
    audit = Entries()
    pipeline = Pipeline(directory, policy, OneHit(), model, audit, PipelineConfig(top_k=5))
    reply = await pipeline.answer(InboundMessage("cli", "alice@example.co.jp", "締め日は？"))
    assert "answered" == reply.status
    assert 1 == len(audit.entries)
    return audit.entries[0].tokens


def _estimate(body: dict[str, Any]) -> int:
    return sum(len(m["content"]) for m in body["messages"]) // 2 + len(PIECES)


async def test_counted_usage_comes_after_the_text(client: openai.AsyncOpenAI) -> None:
    """The request asks for usage; the server's counts come out once, after every text piece."""
    async with FakeOpenAI(PIECES, counts=(1234, 56)) as fake:
        items = await _collect(_model(client, fake))
    assert [*PIECES, TokenUsage(1234, 56)] == items
    assert [{"include_usage": True}] == [r.get("stream_options") for r in fake.requests]


async def test_counted_usage_reaches_the_audit_record(client: openai.AsyncOpenAI) -> None:
    """Through the pipeline: the record's tokens are the server's prompt + completion, not an estimate."""
    async with FakeOpenAI(PIECES, counts=(1234, 56)) as fake:
        tokens = await _audited_tokens(_model(client, fake))
    assert 1234 + 56 == tokens
    assert _estimate(fake.requests[0]) != tokens


async def test_without_counts_the_audit_record_keeps_the_estimate(client: openai.AsyncOpenAI) -> None:
    """A server that ignores stream_options (as llama.cpp's Python server does): no usage, estimate."""
    async with FakeOpenAI(PIECES, counts=None) as fake:
        model = _model(client, fake)
        assert PIECES == await _collect(model)
        tokens = await _audited_tokens(model)
    assert _estimate(fake.requests[-1]) == tokens


async def test_server_rejecting_stream_options_is_asked_without_them_from_then_on(client: openai.AsyncOpenAI) -> None:
    """400 to stream_options: retried once without, the answer streams, later requests omit them."""
    async with FakeOpenAI(PIECES, counts=(1234, 56), strict=True) as fake:
        model = _model(client, fake)
        assert PIECES == await _collect(model)
        tokens = await _audited_tokens(model)
    assert [True, False, False] == ["stream_options" in r for r in fake.requests]
    assert _estimate(fake.requests[-1]) == tokens


async def test_a_bad_request_for_another_reason_fails_and_is_not_remembered(client: openai.AsyncOpenAI) -> None:
    """A 400 the retry also gets is the request's fault: ModelServerError, and usage is still asked next time."""
    async with FakeOpenAI(PIECES, counts=(1234, 56)) as fake:
        model = _model(client, fake)
        fake.too_long = True
        with pytest.raises(ModelServerError):
            await _collect(model)
        fake.too_long = False
        items = await _collect(model)
    assert [True, False, True] == ["stream_options" in r for r in fake.requests]
    assert TokenUsage(1234, 56) == items[-1]
