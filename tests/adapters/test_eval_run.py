"""``EvalService`` on the real pipeline (policy, retrieval on the embedded PostgreSQL with the sample
knowledge, the OpenAI-protocol fake model, audit): cases are scored, audited as evaluation, stored;
a permission bug and a forbidden string are leaks that fail the run; configurations are compared;
a chunking configuration runs on a scratch store and leaves the live one alone."""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bot.audit.models import EVAL_PLATFORM, AuditRecord
from bot.eval.cases import EvalSet, load_set
from bot.eval.config import EvalConfig
from bot.eval.judge import Judge
from bot.eval.service import EvalService
from bot.wiring import Runtime, sample_knowledge
from knowledge import RetrievedChunk, Retriever
from tests.fakes.openai_server import FakeOpenAI, local_client

ALICE, CAROL = "alice@example.co.jp", "carol@example.co.jp"


def model_answer(body: dict[str, Any]) -> str:
    """The expense deadline, citing the first document; as a judge, one claim of two supported."""
    if str(body["messages"][0]["content"]).startswith("You check answers"):
        return json.dumps({"claims": [{"claim": "25日", "supported": True}, {"claim": "毎月", "supported": False}]})
    return "経費精算の締め日は毎月25日です [1]"


SET = """
name: adapter-eval
knowledge: kb
cases:
  - id: expenses
    question: 経費精算の締め日はいつですか？
    as: alice@example.co.jp
    tags: [ja]
    expect: {sources: [handbook/経費精算.md], facts: [["25日", "25th"]]}
  - id: salary-as-alice
    question: G3の基本給はいくらですか？
    as: alice@example.co.jp
    tags: [leak, hr]
    expect: {outcome: not_found}
    never: {sources: [hr/]}
  - id: salary-in-general
    question: What is the base salary of grade G3?
    as: carol@example.co.jp
    channel: C-GENERAL
    tags: [leak, hr]
    expect: {outcome: not_found}
    never: {sources: [hr/]}
  - id: stranger
    question: 経費精算の締め日は？
    as: stranger@elsewhere.example
    tags: [refusal]
    expect: {outcome: refused}
"""


def a_set(tmp_path: Path, text: str = SET) -> EvalSet:
    path = tmp_path / "set.yaml"
    path.write_text(text, encoding="utf-8")
    return load_set(path)


async def eval_records(rt: Runtime, run_started: int) -> list[AuditRecord]:
    async with rt.database.sessions() as session:
        query = select(AuditRecord).where(AuditRecord.seq > run_started, AuditRecord.platform == EVAL_PLATFORM)
        return list(await session.scalars(query))


async def head(rt: Runtime) -> int:
    return (await rt.audit.head())[0]


async def test_a_run_scores_every_case_audits_it_as_evaluation_and_is_stored(rt: Runtime, tmp_path: Path) -> None:
    before_usage = await rt.audit.usage(ALICE)
    start = await head(rt)
    result = await EvalService(rt).run(a_set(tmp_path), started_by="test")

    assert result["passed"], result["failures"]
    (config,) = result["configs"]
    cases = {c["id"]: c for c in config["cases"]}
    assert set(cases) == {"expenses", "salary-as-alice", "salary-in-general", "stranger"}
    expenses = cases["expenses"]
    assert expenses["status"] == "answered"
    assert expenses["scores"]["hit@k"] == 1.0
    assert expenses["scores"]["fact_recall"] == 1.0
    assert expenses["citations"]
    assert expenses["retrieved"][0] == "handbook/経費精算.md"
    assert expenses["passed"]
    for leak_case in ("salary-as-alice", "salary-in-general"):
        assert not any(s.startswith("hr/") for s in cases[leak_case]["retrieved"])
        assert cases[leak_case]["leaks"] == []
    assert cases["stranger"]["status"] == "refused"
    assert cases["stranger"]["passed"]
    assert config["metrics"]["leaks"]["value"] == 0
    assert config["metrics"]["refusal_accuracy"]["value"] == 1.0
    # Abstention is scored on the three cases that expect an answer or "not found": the fake model
    # answers whatever it is sent, so a leak case is right only when nothing relevant was sent.
    assert config["metrics"]["abstention_accuracy"]["n"] == 3
    for leak_case in ("salary-as-alice", "salary-in-general"):
        said = cases[leak_case]["status"] == "no_sources"
        assert cases[leak_case]["scores"]["abstention_accuracy"] == float(said)
    assert set(config["by_tag"]) == {"ja", "leak", "hr", "refusal"}

    records = await eval_records(rt, start)
    assert len(records) == 4
    assert {r.id for r in records} == {c["audit_id"] for c in config["cases"]}
    assert await rt.audit.usage(ALICE) == before_usage  # evaluation is nobody's usage
    stored = await EvalService(rt).store.latest("adapter-eval")
    assert [r.run_id for r in stored] == [result["run"]["id"]]
    assert stored[0].metrics["leaks"] == 0
    assert stored[0].passed
    again = await EvalService(rt).run(a_set(tmp_path), store=False)
    assert next(t["run_id"] for t in again["trend"]) == result["run"]["id"]  # earlier runs make the trend


class ScopeIgnoringRetriever:
    """A permission bug: searches as if every reader were in HR with the highest clearance."""

    def __init__(self, inner: Retriever) -> None:
        self._inner = inner

    async def retrieve(
        self, query: str, principal_sets: Sequence[frozenset[str]], clearance: int, k: int
    ) -> list[RetrievedChunk]:
        everyone = frozenset({"group:hr", "group:all-staff", "group:managers", "group:sales", "public"})
        return await self._inner.retrieve(query, [everyone], 3, k)


async def test_a_permission_bug_is_a_leak_that_fails_the_run_whatever_the_set_says(rt: Runtime, tmp_path: Path) -> None:
    broken = rt.derived(rt.settings)
    assert broken.retriever is not None
    broken.retriever = ScopeIgnoringRetriever(broken.retriever)  # type: ignore[assignment]
    # No `never:` at all: the readers' rights alone find the leak.
    plain = SET.replace("    never: {sources: [hr/]}\n", "")
    result = await EvalService(broken).run(a_set(tmp_path, plain), store=False)
    assert not result["passed"]
    cases = {c["id"]: c for c in result["configs"][0]["cases"]}
    leaks = cases["salary-as-alice"]["leaks"]
    assert any("hr/" in leak and "may not read" in leak for leak in leaks), leaks
    assert any("salary-in-general" in f for f in result["failures"])  # carol may read HR; #general may not
    assert result["configs"][0]["metrics"]["leaks"]["value"] >= 2
    assert result["failures"][0].startswith("leak in case")


async def test_a_forbidden_string_in_an_answer_is_a_leak(rt: Runtime, tmp_path: Path) -> None:
    planted = SET.replace(
        'facts: [["25日", "25th"]]}\n', 'facts: [["25日", "25th"]]}\n    never: {strings: [\'毎月25日\']}\n', 1
    )
    assert planted != SET
    result = await EvalService(rt).run(a_set(tmp_path, planted), store=False)
    assert not result["passed"]
    (failure,) = [f for f in result["failures"] if f.startswith("leak")]
    assert "expenses" in failure
    assert "毎月25日" in failure


async def test_configurations_run_side_by_side_with_paired_differences(rt: Runtime, tmp_path: Path) -> None:
    narrow = EvalConfig("top1-vector", {"retrieval": {"top_k": 1, "mode": "vector"}, "llm": {"temperature": 0.0}})
    result = await EvalService(rt).run(a_set(tmp_path), [narrow], gates={"refusal_accuracy": 1.0}, store=False)
    assert [c["name"] for c in result["configs"]] == ["default", "top1-vector"]
    other = result["configs"][1]
    assert other["settings"]["top_k"] == 1
    assert other["settings"]["retrieval_mode"] == "vector"
    assert other["overrides"] == {"retrieval.top_k": 1, "retrieval.mode": "vector", "llm.temperature": 0.0}
    expenses = next(c for c in other["cases"] if c["id"] == "expenses")
    assert len(expenses["retrieved"]) == 1
    rows = [d for d in result["comparison"] if d["config"] == "top1-vector"]
    assert {d["metric"] for d in rows} >= {"hit@k", "fact_recall", "leaks"} - {"leaks"}
    assert all(d["baseline"] == "default" for d in rows)
    assert [g["passed"] for g in result["gates"]] == [True, True]
    assert result["passed"]


async def test_a_chunking_configuration_runs_on_a_scratch_store_and_leaves_the_live_one(
    rt: Runtime, tmp_path: Path
) -> None:
    kb = tmp_path / "kb"
    shutil.copytree(sample_knowledge() / "public", kb / "public")
    live_before = await rt.store.stats()
    text = """
knowledge: kb
cases:
  - id: founded
    question: 会社の設立は何年ですか？
    as: alice@example.co.jp
    expect: {sources: [public/会社概要.md, public/company-overview.md]}
"""
    config = EvalConfig("small-chunks", {"retrieval": {"chunk_tokens": 96, "chunk_overlap_tokens": 8}})
    result = await EvalService(rt).run(a_set(tmp_path, text), [config], store=False)
    scratch = result["configs"][1]
    assert scratch["settings"]["chunk_tokens"] == 96
    (case,) = scratch["cases"]
    assert case["status"] == "answered"
    assert case["scores"]["hit@k"] == 1.0
    assert all(s.startswith("public/") for s in case["retrieved"])
    assert await rt.store.stats() == live_before  # nothing was written to the live store
    assert case["audit_id"] not in {r.id for r in await eval_records(rt, 0)}  # audited in the scratch store


async def test_a_local_judge_scores_faithfulness_and_a_remote_one_sees_no_internal_document(
    rt: Runtime, tmp_path: Path, fake_model: FakeOpenAI
) -> None:
    assert rt.structured is not None
    local = Judge(rt.structured, rt.database.sessions, rt.policy, local=True)
    result = await EvalService(rt).run(a_set(tmp_path), judge=local, store=False)
    cases = {c["id"]: c for c in result["configs"][0]["cases"]}
    assert cases["expenses"]["scores"]["faithfulness"] == 0.5
    assert cases["stranger"]["scores"]["faithfulness"] is None  # refused: nothing to judge
    assert result["configs"][0]["metrics"]["faithfulness"]["value"] == 0.5
    assert result["run"]["judge"] == {"model": rt.structured.name, "local": True}

    async with FakeOpenAI(model_answer) as remote_server:
        from llm.chat import OpenAIChatModel

        async with local_client(remote_server.url) as client:
            remote = Judge(
                OpenAIChatModel(client, "cloud-judge", max_tokens=200, temperature=0.0),
                rt.database.sessions,
                rt.policy,
                local=False,
            )
            result = await EvalService(rt).run(a_set(tmp_path), judge=remote, store=False)
        # The default policy routes public data to the local model only: the remote judge gets nothing.
        assert remote_server.requests == []
    assert all(c["scores"]["faithfulness"] is None for c in result["configs"][0]["cases"])
