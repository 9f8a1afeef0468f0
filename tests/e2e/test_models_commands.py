"""``kura models list --json`` and ``kura models plan --json``: the installed command's shapes, on a
fresh embedded database (no usage yet, no evaluation run: assumptions and "not measured")."""

from __future__ import annotations

import json

import pytest

from llm.catalog import CATALOG
from tests.e2e.conftest import run_kura

pytestmark = pytest.mark.e2e


def test_models_list_json_shape(fresh_env: dict[str, str]) -> None:
    done = run_kura(fresh_env, "models", "list", "--json")
    assert 0 == done.code, done.stderr
    rows = json.loads(done.stdout)
    assert list(CATALOG) == [r["id"] for r in rows]
    assert [True, False, False] == [r["default"] for r in rows]
    for row in rows:
        assert {
            "id",
            "default",
            "upstream",
            "licence",
            "gguf_bytes",
            "cpu_ram_bytes",
            "params",
            "vllm",
            "quality",
            "note",
        } == set(row)
        assert {"spdx", "commercial_use"} == set(row["licence"])
        assert {"weights_bytes", "kv_bytes_per_token", "gpu_bytes"} == set(row["vllm"])
        assert row["cpu_ram_bytes"] > row["gguf_bytes"] > 0
        assert row["vllm"]["gpu_bytes"] > row["vllm"]["weights_bytes"] == 2 * row["params"]
        assert row["quality"] is None  # nothing measured on a fresh database
    text = run_kura(fresh_env, "models", "list")
    assert 0 == text.code, text.stderr
    # The first columns outside checks read are kept: mark, id, licence, size.
    assert any(
        line.startswith("* qwen2.5-1.5b-instruct-q4_k_m") and "Apache-2.0" in line for line in text.stdout.splitlines()
    )
    assert "not measured (run kura eval)" in text.stdout


def test_models_plan_json_shape(fresh_env: dict[str, str]) -> None:
    done = run_kura(fresh_env, "models", "plan", "--users", "500", "--peak-share", "0.2", "--json")
    assert 0 == done.code, done.stderr
    body = done.json()
    assert {"workload", "demand", "assumptions", "gpus", "plan", "formulas"} == set(body)
    workload = body["workload"]
    assert isinstance(workload, dict)
    assert workload["measured"] is False  # no usage recorded: the stated defaults
    demand = body["demand"]
    assert isinstance(demand, dict)
    assert (500, 0.2) == (demand["users"], demand["peak_share"])
    assert demand["requests_per_s"] > 0
    rows = body["plan"]
    assert isinstance(rows, list)
    assert len(rows) == (len(CATALOG) + 1) * 5  # and Qwen2.5-7B-Instruct for comparison
    catalogue = [r for r in rows if not r["reference"]]
    assert len(catalogue) == len(CATALOG) * 5
    assert all(r["gpus_needed"] >= 1 and r["kv_bytes_needed"] > 0 for r in catalogue)
    text = run_kura(fresh_env, "models", "plan", "--users", "500", "--peak-share", "0.2", "--gpu", "l4")
    assert 0 == text.code, text.stderr
    assert "ASSUMED" in text.stdout
    assert "Little's law" in text.stdout


@pytest.mark.parametrize(
    ("flags", "says"),
    [
        (["--users", "0", "--peak-share", "0.2"], "--users"),
        (["--users", "10", "--peak-share", "1.5"], "--peak-share"),
        (["--users", "10", "--peak-share", "0.2", "--gpu", "TPU"], "unknown GPU"),
    ],
)
def test_models_plan_refuses_bad_input_in_one_line(fresh_env: dict[str, str], flags: list[str], says: str) -> None:
    done = run_kura(fresh_env, "models", "plan", *flags)
    assert 2 == done.code
    assert says in done.stderr
    assert 1 == len(done.stderr.strip().splitlines())
