"""What the chat FAQ-review tests share: a drafted entry citing an HR document (owner: Carol), on the
shared adapter database, rejected after the test so that it never answers other modules' questions."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text

from bot.wiring import Runtime, sample_knowledge
from knowledge.faq_store import NewEntry

ANSWER = "給与は毎月25日に支払われます。"
OWNER = "carol@example.co.jp"  # owner of hr/ in the sample
PAY_RULES = "hr/給与規程.md"


@asynccontextmanager
async def hr_draft(rt: Runtime, owner: str) -> AsyncIterator[int]:
    """A draft entry (a question no other test asks) citing the pay rules, for the block."""
    question = f"FAQ レビュー試験 {uuid.uuid4().hex[:8]}: 給与の支払日はいつですか？"
    async with rt.database.sessions() as session:
        document = await session.scalar(
            text("SELECT id FROM kura_knowledge.documents WHERE root = :root AND path = :path"),
            {"root": str(sample_knowledge()), "path": PAY_RULES},
        )
    assert document is not None
    vector = await rt.embedder.embed_query(question)
    entry_id = await rt.faq_store.add(
        NewEntry(question, ANSWER, "ja", "draft", "mined", owner, 3, vector, None, (int(document),))
    )
    try:
        yield entry_id
    finally:
        await rt.faq_store.set_status(entry_id, "rejected", "test over")


def model_answer(body: dict[str, object]) -> str:
    """The review modules' fake model; nothing there asks it anything."""
    return "提供された資料には記載がありません"
