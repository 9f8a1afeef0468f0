"""The capacity estimate (``bot.planning``), the planning workload (``bot.audit.usage.workload_from``)
and the rows of ``kura models list`` (``bot.models_report``): pure arithmetic, checked by hand."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from bot.audit.usage import ObservedUsage, estimate_tokens, workload_from
from bot.models_report import NOT_MEASURED, cpu_ram_bytes, model_rows, quality_line, vllm_memory
from bot.planning import GPUS, PlanAssumptions, Workload, assumed_workload, demand, fit, plan
from llm.catalog import CATALOG, LLAMA_CPP_OVERHEAD_BYTES, Architecture

pytestmark = pytest.mark.unit

DEFAULT = CATALOG["qwen2.5-1.5b-instruct-q4_k_m"]
L4 = next(g for g in GPUS if g.name == "L4")
WORK = Workload(
    requests_per_user_day=10,
    busiest_hour_share=0.2,
    model_share=1.0,
    prompt_tokens_mean=1000,
    completion_tokens_mean=200,
    prompt_tokens_p95=1800,
    completion_tokens_p95=200,
    measured=True,
)
A = PlanAssumptions()


def test_the_catalogue_shapes_are_the_upstream_configs() -> None:
    # Qwen2.5(-Coder)-1.5B: 28 layers x 2 KV heads x head dim 128, K and V at 2 bytes.
    arch = DEFAULT.arch
    assert arch is not None
    assert 2 * 28 * 2 * 128 * 2 == arch.kv_bytes_per_token == 28_672
    assert 3_087_428_608 == arch.weights_bytes
    assert all(m.arch is not None for m in CATALOG.values())


def test_a_hand_computed_case() -> None:
    need = demand(1000, 0.5, WORK, A)
    # 1000 users x 0.5 x 10 a day x 0.2 in the busiest hour = 1000 requests in that hour.
    assert math.isclose(1000 / 3600, need.requests_per_s)
    assert math.isclose(1000 / 3600 * 1000, need.prompt_tokens_per_s)
    assert math.isclose(1000 / 3600 * 200, need.completion_tokens_per_s)
    assert math.isclose(1000 / 3600 * 10, need.concurrent_sequences)  # Little's law, T = 10 s
    result = fit(DEFAULT, L4, need, WORK, A)
    assert result is not None
    # One sequence: (3,087,428,608 + 1,100 x 28,672) bytes per token / (300 GB/s x 0.6) = 17.3 ms.
    assert math.isclose(180e9 / (3_087_428_608 + 1100 * 28_672), result.single_stream_tokens_per_s)
    # (24 GB x 0.9 - weights - 2 GiB) / (28,672 x 2,000 tokens) = 285 sequences of p95 length.
    assert (24e9 * 0.9 - 3_087_428_608 - 2 * 1024**3) // (28_672 * 2000) == result.sequences_per_gpu == 285
    assert 1 == result.gpus_needed


def test_memory_includes_the_kv_cache_of_every_concurrent_sequence() -> None:
    need = demand(20_000, 0.5, WORK, A)
    result = fit(DEFAULT, L4, need, WORK, A)
    assert result is not None
    assert math.ceil(need.concurrent_sequences * 28_672 * 2000) == result.kv_bytes_needed
    assert result.gpus_for_memory == math.ceil(need.concurrent_sequences / result.sequences_per_gpu)
    listed = vllm_memory(DEFAULT)
    assert listed is not None
    assert listed["gpu_bytes"] > listed["weights_bytes"] + 16 * 2048 * listed["kv_bytes_per_token"] - 1


def test_more_users_never_need_fewer_gpus() -> None:
    previous: dict[tuple[str, str], int] = {}
    rates = []
    for users in (10, 1_000, 10_000, 100_000, 1_000_000):
        need = demand(users, 0.3, WORK, A)
        rates.append(need.requests_per_s)
        for result in plan(need, WORK, A, references={}):
            assert result.gpus_needed is not None
            key = (result.model, result.gpu)
            assert result.gpus_needed >= previous.get(key, 1)
            previous[key] = result.gpus_needed
    assert rates == sorted(rates)
    assert previous[(DEFAULT.id, "L4")] > previous[(DEFAULT.id, "H100-80GB")] > 1


def test_a_model_that_does_not_fit_needs_no_number_of_gpus() -> None:
    huge = replace(
        DEFAULT, arch=Architecture(params=70_000_000_000, layers=80, kv_heads=8, head_dim=128, max_context=1, vocab=1)
    )
    result = fit(huge, L4, demand(100, 0.5, WORK, A), WORK, A)
    assert result is not None
    assert (0, None, None) == (result.sequences_per_gpu, result.gpus_for_memory, result.gpus_needed)


def test_a_target_no_gpu_can_meet_needs_no_number_of_gpus() -> None:
    # 200 tokens in 0.5 s needs 2.5 ms a step; reading 3 GB at 180 GB/s takes 17 ms.
    quick = PlanAssumptions(target_latency_s=0.5)
    result = fit(DEFAULT, L4, demand(100, 0.5, WORK, quick), WORK, quick)
    assert result is not None
    assert (None, None) == (result.gpus_for_throughput, result.gpus_needed)


@pytest.mark.parametrize(("users", "share"), [(0, 0.5), (-3, 0.5), (10, 0.0), (10, 1.5), (10, -0.1)])
def test_bad_input_is_refused(users: int, share: float) -> None:
    with pytest.raises(ValueError, match="--"):
        demand(users, share, WORK, A)


def _usage(**changes: object) -> ObservedUsage:
    base = ObservedUsage(
        days=30,
        questions=400,
        users=20,
        user_days=100,
        busiest_hour_questions=80,
        model_answers=300,
        tokens_mean=1500.0,
        tokens_p95=2500.0,
        split=((1200.0, 300.0), (1100.0, 300.0)),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_the_workload_comes_from_usage_when_there_is_some() -> None:
    work = workload_from(_usage(), hours=8)
    assert work.measured
    assert (4.0, 0.2, 0.75) == (work.requests_per_user_day, work.busiest_hour_share, work.model_share)
    # Completion share of the sampled answers: 600 / 2,900 of the 1,500 mean tokens.
    assert math.isclose(1500 * 600 / 2900, work.completion_tokens_mean)
    assert math.isclose(1500, work.prompt_tokens_mean + work.completion_tokens_mean)
    assert any("MEASURED" in n for n in work.notes)


def test_no_usage_means_the_stated_assumptions() -> None:
    work = workload_from(_usage(questions=0, model_answers=0, tokens_mean=None, tokens_p95=None, split=()), hours=10)
    assert assumed_workload(10) == work
    assert not work.measured
    assert 0.1 == work.busiest_hour_share
    assert "ASSUMED" in work.notes[0]


def test_token_estimate_counts_wide_characters_more() -> None:
    assert math.isclose(4 / 1.5, estimate_tokens("経費精算"))
    assert math.isclose(2.0, estimate_tokens("expenses"))


def test_list_rows_carry_quality_only_when_measured() -> None:
    quality = {DEFAULT.id: {"fact_recall": 0.7, "leaks": 0.0, "run": "r1", "set": "sample"}}
    rows = model_rows(DEFAULT.id, 4096, quality)
    assert [m.id for m in CATALOG.values()] == [r["id"] for r in rows]
    first, second = rows[0], rows[1]
    assert (True, False) == (first["default"], second["default"])
    assert {"spdx": "Apache-2.0", "commercial_use": True} == first["licence"]
    assert DEFAULT.size + 28_672 * 4096 + LLAMA_CPP_OVERHEAD_BYTES == first["cpu_ram_bytes"]
    assert quality[DEFAULT.id] == first["quality"]
    assert second["quality"] is None
    assert NOT_MEASURED == quality_line(second["quality"])
    assert "fact recall 0.70" in quality_line(first["quality"])
    assert "set sample, run r1" in quality_line(first["quality"])


def test_a_production_sized_reference_is_planned_too() -> None:
    need = demand(2000, 0.2, WORK, A)
    rows = {(r.model, r.gpu): r for r in plan(need, WORK, A) if r.reference}
    seven = rows[("Qwen/Qwen2.5-7B-Instruct", "A100-80GB")]
    # 28 layers x 4 KV heads x 128 x K and V x 2 bytes; 7.6B parameters at 2 bytes.
    assert (57_344, 15_231_233_024) == (seven.kv_bytes_per_token, seven.weights_bytes)
    assert seven.gpus_needed is not None
    # An L4 reads 15 GB at 180 GB/s: 85 ms a token, 17 s for 200 tokens, over the 10 s target.
    assert rows[("Qwen/Qwen2.5-7B-Instruct", "L4")].gpus_needed is None


def test_the_cpu_estimate_reproduces_the_measured_server() -> None:
    # VmRSS of llama.cpp's server (n_ctx 4096, --logits_all false) after a 1,893-token prompt: 2,074,161,152.
    assert 2_074_161_152 == cpu_ram_bytes(DEFAULT, 4096)
    # The KV cache is the part that grows with the context: 28,672 bytes a token for the default model.
    assert 28_672 * 4096 == (cpu_ram_bytes(DEFAULT, 8192) or 0) - (cpu_ram_bytes(DEFAULT, 4096) or 0)
