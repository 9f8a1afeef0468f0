"""Capacity planning for vLLM (``kura models plan``): from a workload to GPUs, per catalogue model.

Pure arithmetic on stated assumptions; every figure is an estimate to order hardware by, not a
benchmark. The model (printed under the table by the CLI, ``FORMULAS``):

- peak requests/s  λ = N × P × R × S × m / 3600: N users, P of them active in the peak hour, each
  asking R questions a day, S of a day's questions in its busiest hour, m of them reaching the model;
- tokens/s needed = λ × mean prompt tokens, λ × mean completion tokens;
- concurrent sequences L = λ × T (Little's law; T = the target time to a whole answer);
- one GPU's decode step with B sequences reads the weights once and each sequence's KV cache:
  step = (weights + B × kv/token × mean context) / (bandwidth × η_bw); a sequence then gets one token
  per step, so T is met when step × completion tokens ≤ T × (1 − prefill share), where the prefill
  share is the GPU time the prompts take, compute-bound: λ/G × prompt tokens × 2 × params /
  (bf16 FLOP/s × η_fl);
- memory per GPU: usable × utilisation − weights − runtime overhead, divided by kv/token × (p95
  prompt + p95 completion) = the sequences it can hold.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from llm.catalog import CATALOG, Architecture, LocalModel

__all__ = [
    "ASSUMED_WORKLOAD",
    "FORMULAS",
    "GPUS",
    "REFERENCE_MODELS",
    "Demand",
    "Gpu",
    "GpuFit",
    "PlanAssumptions",
    "Workload",
    "demand",
    "fit",
    "fit_shape",
    "plan",
]

GIB = 1024**3


@dataclass(frozen=True)
class Gpu:
    """A GPU as the estimate sees it (vendor datasheet figures; dense bf16, no sparsity)."""

    name: str
    memory_gb: float
    bandwidth_gbs: float
    bf16_tflops: float
    source: str


#: Datasheet figures. Memory bandwidth decides decode speed; dense bf16 tensor TFLOPS decide prefill.
GPUS: tuple[Gpu, ...] = (
    Gpu("L4", 24, 300, 121, "nvidia.com/en-us/data-center/l4 (datasheet: 24 GB GDDR6, 300 GB/s, 242 TF bf16 sparse)"),
    Gpu("A10", 24, 600, 125, "nvidia.com/en-us/data-center/products/a10-gpu (24 GB GDDR6, 600 GB/s, 250 TF sparse)"),
    Gpu("L40S", 48, 864, 362, "nvidia.com/en-us/data-center/l40s (48 GB GDDR6, 864 GB/s, 733 TF bf16 sparse)"),
    Gpu("A100-80GB", 80, 2039, 312, "nvidia.com/en-us/data-center/a100 (SXM 80 GB HBM2e, 2,039 GB/s, 312 TF bf16)"),
    Gpu("H100-80GB", 80, 3350, 989, "nvidia.com/en-us/data-center/h100 (SXM 80 GB HBM3, 3.35 TB/s, 989 TF bf16)"),
)


@dataclass(frozen=True)
class Workload:
    """What one question costs and how questions arrive (measured from the audit log, or assumed)."""

    requests_per_user_day: float
    busiest_hour_share: float
    #: Share of allowed questions that reached the model (FAQ hits and "not found" did not).
    model_share: float
    prompt_tokens_mean: float
    completion_tokens_mean: float
    prompt_tokens_p95: float
    completion_tokens_p95: float
    measured: bool
    #: Where the figures came from, one line each (printed under the table).
    notes: tuple[str, ...] = ()


def assumed_workload(hours: float) -> Workload:
    """The stated defaults when there is no usage yet: questions spread evenly over ``hours``."""
    return Workload(
        requests_per_user_day=10,
        busiest_hour_share=1 / hours,
        model_share=1.0,
        prompt_tokens_mean=1200,
        completion_tokens_mean=250,
        prompt_tokens_p95=2000,
        completion_tokens_p95=400,
        measured=False,
        notes=(
            "ASSUMED (no usage recorded): 10 questions per user per day, 1,200 prompt + 250 completion "
            f"tokens (p95 2,000 + 400), spread evenly over {hours:g} working hours, every one to the model",
        ),
    )


ASSUMED_WORKLOAD = assumed_workload(8)


@dataclass(frozen=True)
class PlanAssumptions:
    """The knobs of the estimate; each is printed with the result."""

    target_latency_s: float = 10.0
    #: Share of peak memory bandwidth a decode step achieves.
    bandwidth_efficiency: float = 0.6
    #: Share of peak bf16 FLOP/s prefill achieves.
    compute_efficiency: float = 0.5
    #: vLLM's --gpu-memory-utilization (its default has been 0.9).
    memory_utilisation: float = 0.9
    #: Activations, CUDA graphs and the CUDA context besides weights and KV cache.
    runtime_overhead_bytes: int = 2 * GIB


@dataclass(frozen=True)
class Demand:
    """What the users ask of the hardware at the peak."""

    users: int
    peak_share: float
    requests_per_s: float
    prompt_tokens_per_s: float
    completion_tokens_per_s: float
    concurrent_sequences: float
    #: Tokens one sequence may hold (p95 prompt + p95 completion): what its KV cache is sized for.
    tokens_per_sequence: float
    #: Tokens the average sequence has in its cache while decoding (prompt + half the completion).
    mean_context: float


def demand(users: int, peak_share: float, work: Workload, assumptions: PlanAssumptions) -> Demand:
    """The peak load of ``users`` of whom ``peak_share`` are active in the busiest hour."""
    if users <= 0:
        raise ValueError("--users must be a positive number")
    if not 0 < peak_share <= 1:
        raise ValueError("--peak-share must be above 0 and at most 1")
    per_hour = users * peak_share * work.requests_per_user_day * work.busiest_hour_share * work.model_share
    rate = per_hour / 3600
    return Demand(
        users=users,
        peak_share=peak_share,
        requests_per_s=rate,
        prompt_tokens_per_s=rate * work.prompt_tokens_mean,
        completion_tokens_per_s=rate * work.completion_tokens_mean,
        concurrent_sequences=rate * assumptions.target_latency_s,
        tokens_per_sequence=work.prompt_tokens_p95 + work.completion_tokens_p95,
        mean_context=work.prompt_tokens_mean + work.completion_tokens_mean / 2,
    )


#: Production-sized models to compare with (not in the GGUF catalogue: vLLM serves them from their
#: upstream weights). Qwen/Qwen2.5-7B-Instruct config.json: hidden 3584, 28 layers, 28 query and 4 KV
#: heads (head dim 128), max_position_embeddings 32768, vocab 152064; 7,615,616,512 parameters ("7.61B").
REFERENCE_MODELS: dict[str, Architecture] = {
    "Qwen/Qwen2.5-7B-Instruct": Architecture(
        params=7_615_616_512, layers=28, kv_heads=4, head_dim=128, max_context=32_768, vocab=152_064
    ),
}


@dataclass(frozen=True)
class GpuFit:
    """One model on one kind of GPU (vLLM, bf16 weights, one model copy per GPU)."""

    model: str
    gpu: str
    #: A production-sized model for comparison, not in the catalogue.
    reference: bool
    weights_bytes: int
    kv_bytes_per_token: int
    #: KV cache for the whole peak's concurrent sequences at their p95 length.
    kv_bytes_needed: int
    #: Sequences one GPU can hold at their p95 length (0: the weights alone do not fit).
    sequences_per_gpu: int
    #: One sequence alone, bandwidth-bound.
    single_stream_tokens_per_s: float
    gpus_for_memory: int | None
    gpus_for_throughput: int | None
    #: None: no number of GPUs meets the target (the model does not fit, or one step is too slow).
    gpus_needed: int | None
    #: Decode tokens/s one GPU gives at the batch it runs with ``gpus_needed`` GPUs.
    tokens_per_s_per_gpu: float | None


_MAX_GPUS = 10_000


def _step_s(arch: Architecture, gpu: Gpu, batch: float, context: float, a: PlanAssumptions) -> float:
    read = arch.weights_bytes + batch * arch.kv_bytes_per_token * context
    return read / (gpu.bandwidth_gbs * 1e9 * a.bandwidth_efficiency)


def _meets_target(arch: Architecture, gpu: Gpu, d: Demand, w: Workload, a: PlanAssumptions, n: int) -> bool:
    prefill_flops = d.prompt_tokens_per_s / n * 2 * arch.params
    prefill_share = prefill_flops / (gpu.bf16_tflops * 1e12 * a.compute_efficiency)
    if prefill_share >= 1:
        return False
    step = _step_s(arch, gpu, d.concurrent_sequences / n, d.mean_context, a)
    return step * w.completion_tokens_mean <= a.target_latency_s * (1 - prefill_share)


def fit(model: LocalModel, gpu: Gpu, d: Demand, w: Workload, a: PlanAssumptions) -> GpuFit | None:
    """How many ``gpu`` serve ``d`` with ``model``; None when the catalogue lacks its shape."""
    return None if model.arch is None else fit_shape(model.id, model.arch, gpu, d, w, a)


def fit_shape(
    name: str, arch: Architecture, gpu: Gpu, d: Demand, w: Workload, a: PlanAssumptions, *, reference: bool = False
) -> GpuFit:
    """How many ``gpu`` serve ``d`` with a model of shape ``arch``."""
    kv = arch.kv_bytes_per_token
    per_sequence = kv * d.tokens_per_sequence
    free = gpu.memory_gb * 1e9 * a.memory_utilisation - arch.weights_bytes - a.runtime_overhead_bytes
    sequences = max(0, math.floor(free / per_sequence)) if per_sequence > 0 else 0
    for_memory = max(1, math.ceil(d.concurrent_sequences / sequences)) if sequences > 0 else None
    for_throughput = next((n for n in range(1, _MAX_GPUS + 1) if _meets_target(arch, gpu, d, w, a, n)), None)
    needed = None if for_memory is None or for_throughput is None else max(for_memory, for_throughput)
    rate = None
    if needed is not None:
        batch = d.concurrent_sequences / needed
        rate = batch / _step_s(arch, gpu, batch, d.mean_context, a) if batch > 0 else 0.0
    return GpuFit(
        model=name,
        gpu=gpu.name,
        reference=reference,
        weights_bytes=arch.weights_bytes,
        kv_bytes_per_token=kv,
        kv_bytes_needed=math.ceil(d.concurrent_sequences * per_sequence),
        sequences_per_gpu=sequences,
        single_stream_tokens_per_s=1 / _step_s(arch, gpu, 1, d.mean_context, a),
        gpus_for_memory=for_memory,
        gpus_for_throughput=for_throughput,
        gpus_needed=needed,
        tokens_per_s_per_gpu=rate,
    )


def plan(
    d: Demand,
    w: Workload,
    a: PlanAssumptions,
    gpus: tuple[Gpu, ...] = GPUS,
    models: Mapping[str, LocalModel] = CATALOG,
    references: Mapping[str, Architecture] = REFERENCE_MODELS,
) -> list[GpuFit]:
    """Every catalogue model with a known shape, then each reference model, on every GPU of ``gpus``."""
    fits = [f for model in models.values() for gpu in gpus if (f := fit(model, gpu, d, w, a)) is not None]
    fits += [fit_shape(name, arch, gpu, d, w, a, reference=True) for name, arch in references.items() for gpu in gpus]
    return fits


FORMULAS: tuple[str, ...] = (
    "peak requests/s = users × peak share × questions/user/day × busiest-hour share × model share / 3600",
    "tokens/s needed = requests/s × mean prompt (or completion) tokens",
    "concurrent sequences L = requests/s × target latency T (Little's law)",
    "decode step (s) = (bf16 weights + B × KV bytes/token × mean context) / (bandwidth × η_bw), B = L / GPUs",
    "target met when step × mean completion tokens ≤ T × (1 − prefill share); "
    "prefill share = prompt tokens/s per GPU × 2 × params / (bf16 FLOP/s × η_fl)",
    "sequences per GPU = (memory × utilisation − weights − overhead) / "
    "(KV bytes/token × (p95 prompt + p95 completion))",
    "GPUs = max(for memory, for throughput); one bf16 copy of the model per GPU, no tensor parallelism, "
    "no quantisation, no prefix caching",
)
