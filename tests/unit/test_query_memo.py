"""Query vectors are computed once per distinct text: remembered, and shared while being computed."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from llm.embeddings import QueryMemo, Vector
from llm.errors import EmbeddingError

pytestmark = pytest.mark.unit


class Counting:
    """An embedding function that counts its calls and can be held until released."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.release = asyncio.Event()
        self.release.set()
        self.fail = False

    async def __call__(self, text: str) -> Vector:
        self.calls.append(text)
        await self.release.wait()
        if self.fail:
            raise EmbeddingError("down")
        return np.full(4, len(text), dtype=np.float32)


async def test_a_text_is_embedded_once_and_its_vector_is_read_only() -> None:
    memo, embed = QueryMemo(), Counting()

    first = await memo.get("締め日は？", embed)
    again = await memo.get("締め日は？", embed)

    assert ["締め日は？"] == embed.calls
    assert first is again
    with pytest.raises(ValueError, match="read-only"):
        first[0] = 1.0


async def test_overlapping_requests_for_one_text_share_one_embedding() -> None:
    memo, embed = QueryMemo(), Counting()
    embed.release.clear()

    waiting = [asyncio.ensure_future(memo.get("q", embed)) for _ in range(50)]
    await asyncio.sleep(0)
    embed.release.set()
    vectors = await asyncio.gather(*waiting)

    assert ["q"] == embed.calls
    assert all(v is vectors[0] for v in vectors)


async def test_a_cancelled_waiter_leaves_the_embedding_to_the_others() -> None:
    memo, embed = QueryMemo(), Counting()
    embed.release.clear()
    cancelled = asyncio.ensure_future(memo.get("q", embed))
    other = asyncio.ensure_future(memo.get("q", embed))
    await asyncio.sleep(0)

    cancelled.cancel()
    embed.release.set()

    assert [1.0] * 4 == list(await other)
    assert cancelled.cancelled()
    assert ["q"] == embed.calls


async def test_a_failure_reaches_every_waiter_and_is_not_remembered() -> None:
    memo, embed = QueryMemo(), Counting()
    embed.fail = True
    embed.release.clear()
    waiting = [asyncio.ensure_future(memo.get("q", embed)) for _ in range(3)]
    await asyncio.sleep(0)
    embed.release.set()

    results = await asyncio.gather(*waiting, return_exceptions=True)
    embed.fail = False
    vector = await memo.get("q", embed)

    assert all(isinstance(r, EmbeddingError) for r in results)
    assert ["q", "q"] == embed.calls
    assert 4 == len(vector)


async def test_only_the_most_recent_texts_are_kept() -> None:
    memo, embed = QueryMemo(size=2), Counting()

    for text in ("a", "b", "a", "c", "a", "b"):
        await memo.get(text, embed)

    # "a" stays (used again), "b" was the oldest when "c" came, so it is embedded again.
    assert ["a", "b", "c", "b"] == embed.calls
