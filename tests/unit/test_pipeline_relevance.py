"""The pipeline's "not found" floor, passage budget and optional reranking stage.

The reranker is the fake ``/rerank`` server of tests/fakes/rerank_server.py (vLLM's protocol)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

import bot
import policies
from bot.core import InboundMessage, Pipeline
from bot.core.pipeline import PipelineConfig
from bot.identity import FileDirectory
from bot.wiring import StaticPolicy
from knowledge.relevance import RelevanceFloor, estimate_tokens
from knowledge.rerank import Reranker
from knowledge.store import SearchHit
from tests.fakes.rerank_server import FakeReranker
from tests.unit.test_pipeline import FakeAudit, FakeChat, FakeRetriever

pytestmark = pytest.mark.unit

ALL_STAFF = ("group:all-staff",)
#: What alice's G3 question found in make demo: the leave policy, loosely (cosine 0.834, no keyword).
LEAVE = SearchHit(
    1, 1, "handbook/休暇制度.md", "休暇制度", "年次有給休暇は入社6か月後に10日付与されます。", ALL_STAFF, 1, 0.166,
    keyword_coverage=0.0,
)  # fmt: skip
EXPENSES = SearchHit(
    2, 2, "handbook/経費精算.md", "経費精算", "経費精算の締め日は毎月25日です。", ALL_STAFF, 1, 0.08,
    keyword_coverage=0.6,
)  # fmt: skip
FLOOR = RelevanceFloor()


def _pipeline(
    hits: list[SearchHit], chat: FakeChat, config: PipelineConfig, reranker: Reranker | None = None
) -> tuple[Pipeline, FakeAudit, FakeRetriever]:
    directory = FileDirectory.load(Path(bot.__file__).parent / "sample" / "directory.yaml")
    policy = StaticPolicy(policies.load_policy(Path(policies.__file__).parent / "default.yaml"))
    retriever, audit = FakeRetriever(hits), FakeAudit()
    return Pipeline(directory, policy, retriever, chat, audit, config, reranker=reranker), audit, retriever


async def test_loosely_related_document_gives_not_found_and_the_audit_lists_it() -> None:
    """No answer built from the leave policy for a pay question: the no_sources reply, no model call,
    and the audit record still shows what was retrieved."""
    chat = FakeChat("G3の基本給は、入社6か月後に10日付与されます [1]")
    pipeline, audit, _ = _pipeline([LEAVE], chat, PipelineConfig(floor=FLOOR))
    reply = await pipeline.answer(InboundMessage("cli", "alice@example.co.jp", "G3の基本給は？"))
    assert ("no_sources", ()) == (reply.status, reply.citations)
    assert [] == chat.prompts
    assert [1] == [r["chunk_id"] for r in audit.entries[0].retrieved]
    assert "no_sources" == audit.entries[0].status


async def test_a_close_document_still_answers_with_the_floor_on() -> None:
    chat = FakeChat("締め日は25日です [1]")
    pipeline, _, _ = _pipeline([EXPENSES, LEAVE], chat, PipelineConfig(floor=FLOOR))
    reply = await pipeline.answer(InboundMessage("cli", "alice@example.co.jp", "経費精算の締め日は？"))
    assert "answered" == reply.status
    assert ["handbook/経費精算.md"] == [c.source for c in reply.citations]


def _long(i: int, source: str, chars: int, distance: float) -> SearchHit:
    return SearchHit(i, i, source, source, "経" * chars, ALL_STAFF, 1, distance, keyword_coverage=0.5)


async def test_only_passages_within_the_budget_are_sent_and_cited() -> None:
    """Five 200-token passages, a 450-token budget: the best two reach the model, numbered 1 and 2."""
    hits = [_long(i, f"handbook/doc{i}.md", 200, 0.05 + i / 100) for i in range(1, 6)]
    chat = FakeChat("答え [1]")
    pipeline, audit, _ = _pipeline(hits, chat, PipelineConfig(prompt_budget=450))
    reply = await pipeline.answer(InboundMessage("cli", "alice@example.co.jp", "経費は？"))
    prompt = chat.prompts[0][-1].content
    assert 2 == prompt.count("<document number=")
    assert "handbook/doc3.md" not in prompt
    assert estimate_tokens(prompt) < 450 + 150  # the passages and the question's frame
    assert ["handbook/doc1.md"] == [c.source for c in reply.citations]
    assert 5 == len(audit.entries[0].retrieved)  # the record lists all that was retrieved


async def test_reranker_reorders_more_candidates_and_keeps_top_k() -> None:
    """20 candidates go to /rerank; its best top_k, in its order, reach the model."""
    hits = [
        SearchHit(
            i, i, f"handbook/doc{i:02}.md", f"doc{i:02}", f"handbook/doc{i:02}.md 本文", ALL_STAFF, 1, 0.05 + i / 1000
        )
        for i in range(1, 26)
    ]
    wanted = "handbook/doc17.md"
    async with FakeReranker(lambda query, document: 0.9 if wanted in document else 0.1) as server:
        reranker = Reranker(server.url, "bge-reranker-v2-m3")
        chat = FakeChat("答え [1]")
        config = PipelineConfig(top_k=3, rerank_candidates=20, floor=RelevanceFloor(rerank=0.5))
        pipeline, audit, _ = _pipeline(hits, chat, config, reranker)
        reply = await pipeline.answer(InboundMessage("cli", "alice@example.co.jp", "経費は？"))
        await reranker.close()
    body = server.requests[0]
    assert (20, 3, "bge-reranker-v2-m3", "経費は？") == (
        len(body["documents"]),
        body["top_n"],
        body["model"],
        body["query"],
    )
    assert "answered" == reply.status
    assert wanted == reply.citations[0].source
    assert 3 == chat.prompts[0][-1].content.count("<document number=")
    assert 20 == len(audit.entries[0].retrieved)


async def test_reranker_floor_says_not_found_when_no_candidate_is_relevant() -> None:
    async with FakeReranker(lambda query, document: 0.01) as server:
        reranker = Reranker(server.url, "reranker")
        chat = FakeChat("答え [1]")
        config = PipelineConfig(floor=RelevanceFloor(rerank=0.5))
        pipeline, _, _ = _pipeline([EXPENSES], chat, config, reranker)
        reply = await pipeline.answer(InboundMessage("cli", "alice@example.co.jp", "経費精算の締め日は？"))
        await reranker.close()
    assert "no_sources" == reply.status
    assert [] == chat.prompts


@pytest.mark.parametrize("status", [500, 404])
async def test_reranker_down_keeps_the_hybrid_order_and_logs_one_line(
    status: int, caplog: pytest.LogCaptureFixture
) -> None:
    async with FakeReranker(fail=status) as server:
        reranker = Reranker(server.url, "reranker")
        chat = FakeChat("締め日は25日です [1]")
        config = PipelineConfig(top_k=1, floor=RelevanceFloor(rerank=0.5))
        pipeline, _, _ = _pipeline([EXPENSES, LEAVE], chat, config, reranker)
        with caplog.at_level(logging.WARNING, logger="knowledge.rerank"):
            reply = await pipeline.answer(InboundMessage("cli", "alice@example.co.jp", "経費精算の締め日は？"))
        await reranker.close()
    assert "answered" == reply.status
    assert ["handbook/経費精算.md"] == [c.source for c in reply.citations]
    assert 1 == len([r for r in caplog.records if "rerank failed" in r.getMessage()])


async def test_reranker_unreachable_falls_back_too() -> None:
    server = FakeReranker()
    await server.start()
    url = server.url
    await server.stop()  # nothing listens there now
    reranker = Reranker(url, "reranker", timeout_s=2.0)
    chat = FakeChat("締め日は25日です [1]")
    pipeline, _, _ = _pipeline([EXPENSES], chat, PipelineConfig(floor=FLOOR), reranker)
    reply = await pipeline.answer(InboundMessage("cli", "alice@example.co.jp", "経費精算の締め日は？"))
    await reranker.close()
    assert "answered" == reply.status
