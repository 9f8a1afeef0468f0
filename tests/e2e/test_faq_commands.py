"""``kura faq …`` through the installed command, on a data dir of its own with the OpenAI-protocol
fake model (the real local model is exercised by ``kura ask``'s own tests): people ask, refresh
drafts, an admin approves, the next ``kura ask --json`` carries ``faq_id``, the page exports, and
the exit codes say what happened."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.wiring import sample_knowledge
from tests.e2e.conftest import Run, _env, run_kura
from tests.fakes.openai_server import FakeOpenAI

pytestmark = pytest.mark.e2e

ALICE, BOB, CAROL, DAVE = (f"{n}@example.co.jp" for n in ("alice", "bob", "carol", "dave"))
ENTRY_KEYS = {"id", "question", "answer", "sources", "status", "owner", "asked", "verified_at"}


def model_answer(body: dict[str, Any]) -> str:
    """The general question for a rewrite prompt, else an answer citing the first document."""
    if str(body["messages"][0]["content"]).startswith("You write the question of an FAQ entry"):
        return "経費精算の締め日はいつですか？"
    return "経費精算の締め日は毎月25日です [1]"


async def kura(env: dict[str, str], *args: str) -> Run:
    """``kura`` in a thread: the fake model answers on this event loop meanwhile."""
    return await asyncio.to_thread(run_kura, env, *args)


@pytest.fixture(scope="module")
async def faq_env(tmp_root: Path) -> AsyncIterator[dict[str, str]]:
    """The sample knowledge registered and ingested; alice, bob and dave asked the same thing."""
    async with FakeOpenAI(model_answer, counts=(100, 20)) as model:
        env = _env(tmp_root / "e2e-faq", KURA_LLM_BASE_URL=model.url)
        done = await kura(env, "ingest", str(sample_knowledge()), "--json")
        assert done.code == 0, done.stderr
        for who, question in (
            (ALICE, "経費精算の締め日は？"),
            (BOB, "経費精算の締め日はいつ？"),
            (DAVE, "経費精算の締め日を教えて"),
        ):
            asked = await kura(env, "ask", "--as", who, "--json", question)
            assert asked.code == 0, asked.stderr
            assert asked.json()["faq_id"] is None
        yield env


async def test_refresh_then_approve_then_served_with_faq_id(faq_env: dict[str, str], tmp_path: Path) -> None:
    refreshed = await kura(faq_env, "faq", "refresh", "--json")
    assert refreshed.code == 0, refreshed.stderr
    report = refreshed.json()
    assert set(report) >= {"synced", "mined", "drafted", "known", "stale", "gaps", "notified"}
    assert report["synced"], "refresh syncs the registered sources first"
    (drafted,) = report["drafted"]
    listed = await kura(faq_env, "faq", "list", "--status", "draft", "--json")
    (entry,) = json.loads(listed.stdout)
    assert set(entry) >= ENTRY_KEYS
    assert entry["id"] == drafted["id"]
    assert entry["asked"] == 3
    assert entry["sources"] == [{"source": "handbook/経費精算.md", "title": entry["sources"][0]["title"]}]
    entry_id = str(entry["id"])

    refused = await kura(faq_env, "faq", "approve", entry_id, "--as", ALICE, "--json")
    assert refused.code == 3
    assert refused.json()["outcome"] == "not_reviewer"
    missing = await kura(faq_env, "faq", "approve", "999999", "--as", DAVE)
    assert missing.code == 2
    approved = await kura(faq_env, "faq", "approve", entry_id, "--as", DAVE, "--json")
    assert approved.code == 0, approved.stdout

    served = await kura(faq_env, "ask", "--as", CAROL, "--json", "経費精算の締め日はいつ？")
    assert served.code == 0
    assert served.json()["faq_id"] == int(entry_id)
    assert served.json()["citations"][0]["source"] == "handbook/経費精算.md"

    page = tmp_path / "faq.html"
    exported = await kura(faq_env, "faq", "export", "--as", ALICE, "--format", "html", "--output", str(page))
    assert exported.code == 0, exported.stderr
    html = page.read_text(encoding="utf-8")
    assert "経費精算の締め日はいつですか？" in html
    assert "<script" not in html
    markdown = await kura(faq_env, "faq", "export", "--as", ALICE)
    assert "### 経費精算の締め日はいつですか？" in markdown.stdout


async def test_add_edit_and_reject_by_hand(faq_env: dict[str, str]) -> None:
    added = await kura(
        faq_env,
        "faq", "add", "--question", "G3の基本給は？", "--answer", "給与規程の表のとおりです。",
        "--source", "hr/給与規程.md", "--as", CAROL, "--json",
    )  # fmt: skip
    assert added.code == 0, added.stdout
    entry_id = str(added.json()["id"])
    not_hr = await kura(faq_env, "faq", "add", "--question", "Q", "--answer", "A", "--source", "hr/給与規程.md",
                        "--as", DAVE, "--json")  # fmt: skip
    assert not_hr.code == 3
    assert not_hr.json()["outcome"] == "cannot_read"
    unknown = await kura(
        faq_env, "faq", "add", "--question", "Q", "--answer", "A", "--source", "nope.md", "--as", CAROL
    )
    assert unknown.code == 2
    edited = await kura(faq_env, "faq", "edit", entry_id, "--answer", "G3 は月額30万円です。", "--as", CAROL, "--json")
    assert edited.code == 0
    assert edited.json()["outcome"] == "edited"
    as_alice = await kura(faq_env, "faq", "list", "--as", ALICE, "--json")
    assert int(entry_id) not in [e["id"] for e in json.loads(as_alice.stdout)]
    rejected = await kura(faq_env, "faq", "reject", entry_id, "--as", CAROL)
    assert rejected.code == 0
    listed = json.loads((await kura(faq_env, "faq", "list", "--status", "rejected", "--json")).stdout)
    assert [e["id"] for e in listed] == [int(entry_id)]


async def test_gaps_lists_frequent_questions_nothing_answered(faq_env: dict[str, str]) -> None:
    gaps = await kura(faq_env, "faq", "gaps", "--json")
    assert gaps.code == 0
    assert gaps.json()["gaps"] == []
    assert gaps.json()["delivery"] is None
    no_target_owner = await kura(faq_env, "faq", "gaps", "--post-to", "slack:C1")
    assert no_target_owner.code == 2
