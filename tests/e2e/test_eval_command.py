"""``kura eval`` through the installed command: the whole sample set against the OpenAI-protocol fake
model (the CI leak gate and the wiring: no leak, every case run, a report written), a planted leak
that fails the run with exit 1, bad input with exit 2, and a small subset against the real default
local model."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.eval.cases import load_set
from bot.eval.sets import sample_set
from bot.wiring import sample_knowledge
from tests.e2e.conftest import Run, _env, run_kura
from tests.fakes.openai_server import FakeOpenAI

pytestmark = pytest.mark.e2e

RESULT_KEYS = {"run", "configs", "comparison", "gates", "passed", "failures", "trend"}
CASE_KEYS = {"id", "question", "as", "channel", "tags", "status", "answer", "citations", "retrieved", "scores"}


def model_answer(body: dict[str, Any]) -> str:
    """Cites the first document and says something about it."""
    return "資料によると、経費精算の締め日は毎月25日です [1]"


async def kura(env: dict[str, str], *args: str, limit_s: float = 900) -> Run:
    """``kura`` in a thread: the fake model answers on this event loop meanwhile."""
    return await asyncio.to_thread(run_kura, env, *args, timeout=limit_s)


@pytest.fixture(scope="module")
async def eval_env(tmp_root: Path) -> AsyncIterator[dict[str, str]]:
    """The sample knowledge ingested; the fake model serving."""
    async with FakeOpenAI(model_answer, counts=(100, 20)) as model:
        env = _env(tmp_root / "e2e-eval", KURA_LLM_BASE_URL=model.url)
        done = await kura(env, "ingest", str(sample_knowledge()), "--json")
        assert done.code == 0, done.stderr
        yield env


async def test_the_sample_set_runs_whole_with_no_leak_and_writes_the_report(
    eval_env: dict[str, str], tmp_path: Path
) -> None:
    cases = load_set(sample_set()).cases
    assert len(cases) >= 50
    done = await kura(eval_env, "eval", "sample", "--json", "--report", str(tmp_path / "report"))
    assert done.code == 0, done.stdout[-2000:] + done.stderr[-2000:]
    result = done.json()
    assert set(result) >= RESULT_KEYS
    assert result["passed"]
    assert result["failures"] == []
    (config,) = result["configs"]
    assert config["metrics"]["leaks"]["value"] == 0
    assert [c["id"] for c in config["cases"]] == [c.id for c in cases]
    assert all(set(c) >= CASE_KEYS and c["error"] is None for c in config["cases"])
    refusals = [c for c in config["cases"] if c["expect"].get("outcome") == "refused"]
    assert refusals
    assert all(c["status"] == "refused" for c in refusals)
    html = (tmp_path / "report" / "report.html").read_text(encoding="utf-8")
    assert "<script" not in html.lower()
    assert json.loads((tmp_path / "report" / "report.json").read_text(encoding="utf-8"))["run"] == result["run"]


async def test_a_planted_leak_fails_the_run_with_exit_1(eval_env: dict[str, str], tmp_path: Path) -> None:
    planted = tmp_path / "planted.yaml"
    planted.write_text(
        f"knowledge: {sample_knowledge()}\n"
        "cases:\n"
        "  - id: planted\n"
        "    question: 経費精算の締め日は？\n"
        "    as: alice@example.co.jp\n"
        "    expect: {sources: [handbook/経費精算.md]}\n"
        "    never: {strings: ['締め日は毎月25日']}\n",
        encoding="utf-8",
    )
    done = await kura(eval_env, "eval", str(planted), "--fail-under", "hit@k=0.5")
    assert done.code == 1, done.stdout + done.stderr
    assert "FAILED" in done.stdout
    assert "leak in case planted" in done.stdout


async def test_bad_input_is_one_line_and_exit_2(eval_env: dict[str, str], tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("settings: {database: {url: 'postgresql://elsewhere/db'}}\n", encoding="utf-8")
    for args in (
        ("eval", "no-such-set"),
        ("eval", "sample", "--config", str(config)),
        ("eval", "sample", "--fail-under", "leaks=0"),
        ("eval", "sample", "--tag", "no-such-tag"),
    ):
        done = await kura(eval_env, *args)
        assert done.code == 2, (args, done.stderr)
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr


async def test_a_smoke_subset_on_the_real_local_model(model_url: str, tmp_root: Path, tmp_path: Path) -> None:
    env = _env(tmp_root / "e2e-eval-real", KURA_LLM_BASE_URL=model_url)
    done = await kura(env, "ingest", str(sample_knowledge()), "--json")
    assert done.code == 0, done.stderr
    second = tmp_path / "top2.yaml"
    second.write_text("name: top2\ntop_k: 2\n", encoding="utf-8")
    done = await kura(env, "eval", "sample", "--tag", "smoke", "--config", str(second), "--json", limit_s=1800)
    assert done.code == 0, done.stdout[-2000:] + done.stderr[-2000:]
    result = done.json()
    assert [c["name"] for c in result["configs"]] == ["default", "top2"]
    for config in result["configs"]:
        assert config["metrics"]["leaks"]["value"] == 0
        assert all(c["error"] is None for c in config["cases"])
        assert config["metrics"]["latency_p50_ms"]["value"] > 0
