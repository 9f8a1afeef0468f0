"""The rows of ``kura models list``: the catalogue with licence, size, memory and measured quality.

Pure: the measured quality comes in as a mapping (``bot.eval.store.EvalStore.quality_by_model``),
so the rows are the same whatever stored it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from llm.catalog import CATALOG, LLAMA_CPP_OVERHEAD_BYTES, LocalModel

__all__ = [
    "GPU_CONCURRENCY",
    "GPU_SEQUENCE_TOKENS",
    "NOT_MEASURED",
    "cpu_ram_bytes",
    "model_rows",
    "quality_line",
    "vllm_memory",
]

#: The load ``vllm.gpu_bytes`` is sized for: this many sequences of this many tokens at once.
GPU_CONCURRENCY = 16
GPU_SEQUENCE_TOKENS = 2048
#: vLLM's activations, CUDA graphs and CUDA context (the same figure ``bot.planning`` assumes).
VLLM_OVERHEAD_BYTES = 2 * 1024**3

NOT_MEASURED = "not measured (run kura eval)"


def cpu_ram_bytes(model: LocalModel, context: int) -> int | None:
    """What the embedded llama.cpp server holds: the GGUF (mapped, all of it touched), the f16 KV
    cache for ``context`` tokens (allocated at start) and the measured overhead (which holds the
    last position's logits); None without the model's shape."""
    arch = model.arch
    if arch is None:
        return None
    return model.size + arch.kv_bytes_per_token * context + LLAMA_CPP_OVERHEAD_BYTES


def vllm_memory(model: LocalModel) -> dict[str, int] | None:
    """bf16 weights, KV bytes per token, and GPU memory for ``GPU_CONCURRENCY`` sequences of
    ``GPU_SEQUENCE_TOKENS`` tokens plus vLLM's overhead."""
    arch = model.arch
    if arch is None:
        return None
    kv = arch.kv_bytes_per_token * GPU_CONCURRENCY * GPU_SEQUENCE_TOKENS
    return {
        "weights_bytes": arch.weights_bytes,
        "kv_bytes_per_token": arch.kv_bytes_per_token,
        "gpu_bytes": arch.weights_bytes + kv + VLLM_OVERHEAD_BYTES,
    }


def model_rows(
    default: str,
    context: int,
    quality: Mapping[str, Mapping[str, Any]],
    models: Mapping[str, LocalModel] = CATALOG,
) -> list[dict[str, Any]]:
    """One row per catalogue model, in the JSON shape of ``kura models list --json``.

    Args:
        default: the configured local model's id.
        context: the configured llama.cpp context (``KURA_LLM_LOCAL_CONTEXT``), for the CPU RAM.
        quality: model id -> metric -> value (and ``run``, ``set``) of its newest evaluation run.
    """
    rows = []
    for model in models.values():
        measured = quality.get(model.id)
        rows.append(
            {
                "id": model.id,
                "default": model.id == default,
                "upstream": model.upstream,
                "licence": {"spdx": model.licence.spdx, "commercial_use": model.licence.commercial_use},
                "gguf_bytes": model.size,
                "cpu_ram_bytes": cpu_ram_bytes(model, context),
                "params": None if model.arch is None else model.arch.params,
                "vllm": vllm_memory(model),
                "quality": None if measured is None else dict(measured),
                "note": model.note,
            }
        )
    return rows


#: The figures ``quality_line`` shows, in order, with how each is written.
_SHOWN = (
    ("fact_recall", "fact recall {:.2f}"),
    ("hit@k", "hit@k {:.2f}"),
    ("abstention_accuracy", "abstention {:.2f}"),
    ("leaks", "leaks {:.0f}"),
    ("latency_p50_ms", "p50 {:,.0f} ms"),
)


def quality_line(quality: Mapping[str, Any] | None) -> str:
    """One line of a model's measured figures, naming the set and run they come from."""
    if quality is None:
        return NOT_MEASURED
    shown = [form.format(v) for key, form in _SHOWN if isinstance(v := quality.get(key), int | float)]
    origin = f"set {quality.get('set', '?')}, run {quality.get('run', '?')}"
    return f"measured ({origin}): " + (" · ".join(shown) if shown else "no figures")
