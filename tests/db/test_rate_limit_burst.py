"""Rate limits on the real audit log: finished requests (records) and requests still running
(in-process reservations) count together, so neither a burst nor a burst after earlier questions
gets past ``requests_per_minute``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import bot
from bot.audit import AuditStore
from bot.core.pipeline import Pipeline, PipelineConfig
from bot.core.types import InboundMessage, Reply
from bot.identity import FileDirectory
from bot.signals import RequestSignals
from bot.wiring import StaticPolicy
from llm import OpenAIChatModel
from llm.embeddings import E5Embedder
from policies import load_policy_text
from tests.fakes.chat import ScopedRetriever
from tests.fakes.kura import HITS, POLICY
from tests.fakes.openai_server import FakeOpenAI, local_client

pytestmark = pytest.mark.db

RPM_2 = POLICY.read_text(encoding="utf-8").replace("requests_per_minute: 20", "requests_per_minute: 2")


@pytest.fixture
async def pipeline(audit: AuditStore) -> AsyncIterator[Pipeline]:
    """The pipeline with usage from the real audit log and a model that takes its time."""
    directory = FileDirectory.load(Path(bot.__file__).parent / "sample" / "directory.yaml")
    policy = StaticPolicy(load_policy_text(RPM_2))
    async with FakeOpenAI("締め日は25日です [1]", first_token_s=0.4) as model:
        client = local_client(model.url)
        chat = OpenAIChatModel(client, "fake", max_tokens=32, temperature=0.0)
        signals = RequestSignals(E5Embedder(threads=1), audit)
        yield Pipeline(directory, policy, ScopedRetriever(HITS), chat, audit, PipelineConfig(), signals=signals)
        await client.close()


async def _ask(pipeline: Pipeline, times: int) -> list[Reply]:
    asks = [pipeline.answer(InboundMessage("cli", "alice@example.co.jp", "締め日は？")) for _ in range(times)]
    return list(await asyncio.gather(*asks))


async def test_a_burst_counts_the_requests_still_running(pipeline: Pipeline) -> None:
    """Five at once with rpm=2: two answered, three refused; the next one is refused from the records."""
    replies = await _ask(pipeline, 5)
    later = await _ask(pipeline, 1)
    assert ["answered"] * 2 + ["refused"] * 3 == sorted(r.status for r in replies)
    assert ["rate_limited"] == [r.decision.reason_code for r in later]


async def test_a_burst_after_a_finished_question_counts_both(pipeline: Pipeline) -> None:
    """One question finished (in the audit log), then three at once: only one more is answered."""
    [first] = await _ask(pipeline, 1)
    replies = await _ask(pipeline, 3)
    assert "answered" == first.status
    assert ["answered", "refused", "refused"] == sorted(r.status for r in replies)
    assert 0 == pipeline.admission.running("alice@example.co.jp")
