"""``bench/faq.py --live``: the FAQ on a live runtime (embedded PostgreSQL, the default local model
on llama.cpp, the sample knowledge): mining through the audit log (the synthetic log appended as
``ask`` records; its query vectors given to the cache, as a nightly refresh finds them), and the
latency of a question an approved entry answers against a full answer from the model."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import _common
import numpy as np

from bot.audit.store import AuditEntry
from bot.core.types import Completed, InboundMessage, TextDelta
from bot.faq.asked import asked_questions
from bot.settings import KuraSettings
from bot.wiring import Runtime, open_runtime, sample_knowledge

__all__ = ["live", "live_tables"]

WRITER, ASKER = "dave@example.co.jp", "alice@example.co.jp"
ENTRY_Q = "経費精算の締め日はいつですか？"
ENTRY_A = "経費精算の締め日は毎月25日です。"
#: Phrasings of the entry's question people type (the FAQ answers those at least faq.match similar).
PHRASINGS = (
    "経費精算の締め日は？",
    "経費精算の締め日はいつ？",
    "経費精算の締め日を教えて",
    "経費精算の締め日はいつですか",
    "経費精算って締め日いつ？",
    "経費精算の締切日は？",
    "経費精算の〆日はいつ",
    "経費精算の締め日を知りたい",
    "経費の精算の締め日は？",
    "経費精算 締め日",
    "経費精算の締め日っていつでしたっけ？",
    "経費精算の締め日は何日？",
)
#: Questions no entry answers: the model writes these.
FULL = ("リモートワークの申請方法は？", "What is the sales commission rate?", "有給休暇は何日もらえますか？")


async def _append_log(rt: Runtime, questions: Sequence[Any]) -> tuple[list[str], float]:
    started = time.perf_counter()
    ids = []
    for q in questions:
        entry = AuditEntry(
            platform="bench", user_ref=q.asker, user_email=q.asker, action="ask", allowed=True,
            reason_code="allowed", status="answered", question=q.text, answer="(bench)", latency_ms=0,
        )  # fmt: skip
        ids.append(await rt.audit.append(entry))
    return ids, time.perf_counter() - started


async def _timed_answer(rt: Runtime, question: str) -> tuple[float, float | None, int | None]:
    """(seconds to the whole reply, seconds to its first text, faq_id)."""
    assert rt.pipeline is not None
    started = time.perf_counter()
    first: float | None = None
    faq_id: int | None = None
    async for event in rt.pipeline.handle(InboundMessage("bench", ASKER, question)):
        if isinstance(event, TextDelta) and first is None:
            first = time.perf_counter() - started
        if isinstance(event, Completed):
            faq_id = event.reply.faq_id
    return time.perf_counter() - started, first, faq_id


def _row(question: str, timed: tuple[float, float | None, int | None]) -> dict[str, Any]:
    seconds, first, faq_id = timed
    return {"question": question, "s": seconds, "first_s": first, "faq_id": faq_id}


async def _measure(rt: Runtime, log: Any, vectors: np.ndarray, answers: int) -> dict[str, Any]:
    await rt.ingestor.ingest(sample_knowledge())
    ids, append_s = await _append_log(rt, log.questions)
    started = time.perf_counter()
    asked = await asked_questions(rt.audit)
    read_s = time.perf_counter() - started
    by_id = {a: vectors[i] for i, a in enumerate(ids)}
    await rt.faq_store.keep_asked(ids, by_id)
    started = time.perf_counter()
    _, _, groups, facts = await rt.faq.mine()
    mine_s = time.perf_counter() - started
    result, entry_id = await rt.faq_reviews.write(
        WRITER, ENTRY_Q, ENTRY_A, ["handbook/経費精算.md"], platform="bench", language="ja"
    )
    assert entry_id is not None, result.line
    hits = [await _timed_answer(rt, q) for q in PHRASINGS]
    full = [await _timed_answer(rt, q) for q in FULL[:answers]]
    return {
        "records": len(ids),
        "append_s": append_s,
        "read_s": read_s,
        "held": len(asked),
        "mine_s": mine_s,
        "frequent": len(groups),
        "mined": facts,
        "hits": [_row(q, t) for q, t in zip(PHRASINGS, hits, strict=True)],
        "full": [_row(q, t) for q, t in zip(FULL, full, strict=False)],
        "model": rt.chat.name if rt.chat else "?",
    }


async def live(log: Any, vectors: np.ndarray, *, answers: int) -> dict[str, Any]:
    """Run the live section on a fresh data folder (removed after)."""
    folder = Path(tempfile.mkdtemp(prefix="kura-bench-faq-"))
    try:
        async with open_runtime(KuraSettings(data_dir=folder), with_model=True) as rt:
            return await _measure(rt, log, vectors, answers)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def live_tables(result: dict[str, Any]) -> str:
    """The live section as tables."""
    served = [h for h in result["hits"] if h["faq_id"] is not None]
    missed = [h["question"] for h in result["hits"] if h["faq_id"] is None]
    hit_s = [h["s"] * 1000 for h in served]
    full_s = [f["s"] for f in result["full"]]
    first_s = [f["first_s"] for f in result["full"] if f["first_s"] is not None]
    p = _common.percentile
    mining = _common.table(
        ["audit records", "append (s)", "read + decrypt (s)", "mine() with cached vectors (s)", "frequent groups"],
        [[result["records"], f"{result['append_s']:.1f}", f"{result['read_s']:.2f}", f"{result['mine_s']:.2f}",
          result["frequent"]]],
    )  # fmt: skip
    latency = _common.table(
        ["answer", "questions", "p50", "p95", "note"],
        [
            ["FAQ hit (ms)", f"{len(served)}/{len(result['hits'])}", f"{p(hit_s, 50):.0f}" if hit_s else "-",
             f"{p(hit_s, 95):.0f}" if hit_s else "-", "embed + one SQL statement + audit record; no model"],
            ["full answer (s)", len(full_s), f"{p(full_s, 50):.1f}" if full_s else "-",
             f"{p(full_s, 95):.1f}" if full_s else "-",
             f"{result['model']}; first text p50 {p(first_s, 50):.1f} s" if first_s else result["model"]],
        ],
    )  # fmt: skip
    misses = f"\nnot answered from the entry (below faq.match): {', '.join(missed)}" if missed else ""
    return f"{mining}\n\n{latency}{misses}"
