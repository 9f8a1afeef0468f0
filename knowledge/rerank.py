"""An optional reranking stage: a cross-encoder (e.g. bge-reranker served by vLLM) reorders the
retrieved candidates through the Jina/Cohere-compatible ``POST /rerank`` endpoint.

Request ``{"model", "query", "documents": [str], "top_n"}``; answer ``{"results": [{"index",
"relevance_score", ...}, ...]}``, best first. vLLM serves it at ``/rerank``, ``/v1/rerank`` and
``/v2/rerank``; the base URL is used as given (``http://host:8000`` or ``http://host:8000/v1``).

A reranker that is down or answers nonsense is not a reason to refuse an answer: :meth:`rerank`
logs one line and returns None, and the caller keeps the hybrid order.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import httpx

from knowledge.store import SearchHit

__all__ = ["Reranked", "Reranker"]

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Reranked:
    """Hits in the reranker's order (the first ``top_n``) and each one's ``relevance_score``."""

    hits: list[SearchHit]
    scores: list[float]


class Reranker:
    """A client of one ``/rerank`` endpoint.

    Args:
        base_url: the server, without ``/rerank``.
        model: the served reranker's name.
        timeout_s: a slow reranker costs the answer this much at most before falling back.
        api_key: sent as a bearer token when given.
    """

    def __init__(self, base_url: str, model: str, *, timeout_s: float = 10.0, api_key: str | None = None) -> None:
        self._url = base_url.rstrip("/") + "/rerank"
        self.model = model
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.AsyncClient(timeout=timeout_s, headers=headers)

    async def rerank(self, query: str, hits: Sequence[SearchHit], top_n: int) -> Reranked | None:
        """The best ``top_n`` of ``hits`` for ``query``, or None when the reranker failed (logged)."""
        if not hits:
            return Reranked([], [])
        body = {"model": self.model, "query": query, "documents": [h.text for h in hits], "top_n": top_n}
        try:
            response = await self._client.post(self._url, json=body)
            response.raise_for_status()
            results = response.json()["results"]
            order = [(int(r["index"]), float(r["relevance_score"])) for r in results]
            if not order or any(not 0 <= i < len(hits) for i, _ in order):
                raise ValueError("an index outside the documents sent")
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            _log.warning("rerank failed, keeping the hybrid order url=%s error=%s", self._url, type(exc).__name__)
            return None
        # Servers sort best first already; sorting again costs nothing and guards against one that does not.
        order.sort(key=lambda pair: -pair[1])
        order = order[:top_n]
        return Reranked([hits[i] for i, _ in order], [s for _, s in order])

    async def close(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()
