"""A local fake of a reranking server (vLLM serving a cross-encoder such as bge-reranker), on aiohttp.

It speaks vLLM's Jina/Cohere-compatible protocol: ``POST /rerank`` (also ``/v1/rerank`` and
``/v2/rerank``) with ``{"model", "query", "documents": [str], "top_n"}`` answers
``{"id", "model", "usage": {"total_tokens"}, "results": [{"index", "document": {"text"},
"relevance_score"}]}``, results best first and at most ``top_n`` of them (all when ``top_n`` is
absent or 0). A missing query or empty documents get vLLM's 400 error body.

The score of a document is a function of the query and the document; by default the share of the
query's character bigrams (spaces and punctuation left out) the document holds, a crude but
deterministic stand-in for a cross-encoder.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from aiohttp import web

from tests.fakes.local_server import LocalServer

__all__ = ["FakeReranker", "bigram_overlap"]

JSON = dict[str, Any]
_NOISE = re.compile(r"[\s\W_]+")


def bigram_overlap(query: str, document: str) -> float:
    """The share of the query's character bigrams found in the document (0..1)."""
    q = _NOISE.sub("", query.lower())
    d = _NOISE.sub("", document.lower())
    grams = {q[i : i + 2] for i in range(len(q) - 1)}
    if not grams:
        return 0.0
    return sum(g in d for g in grams) / len(grams)


class FakeReranker(LocalServer):
    """A rerank server on 127.0.0.1.

    Args:
        score: ``f(query, document) -> relevance_score``.
        fail: answer every request with this HTTP status instead (a server that is down or broken).

    Every request body is kept in ``requests``.
    """

    def __init__(self, score: Callable[[str, str], float] = bigram_overlap, *, fail: int | None = None) -> None:
        self.score = score
        self.fail = fail
        self.requests: list[JSON] = []

    def _app(self) -> web.Application:
        app = web.Application()
        for path in ("/rerank", "/v1/rerank", "/v2/rerank"):
            app.router.add_post(path, self._rerank)
        return app

    @property
    def url(self) -> str:
        """The base URL a client is configured with (``/rerank`` is appended)."""
        return self.origin

    async def _rerank(self, request: web.Request) -> web.Response:
        body: JSON = await request.json()
        self.requests.append(body)
        if self.fail is not None:
            return _error(self.fail, "the fake reranker was told to fail")
        query, documents = body.get("query"), body.get("documents")
        if not isinstance(query, str) or not query or not isinstance(documents, list) or not documents:
            return _error(400, "query and documents are required")
        texts = [d if isinstance(d, str) else str(d.get("text", "")) for d in documents]
        ranked = sorted(range(len(texts)), key=lambda i: -self.score(query, texts[i]))
        top_n = body.get("top_n") or len(texts)
        results = [
            {"index": i, "document": {"text": texts[i]}, "relevance_score": self.score(query, texts[i])}
            for i in ranked[:top_n]
        ]
        usage = {"total_tokens": sum(len(t) for t in texts) // 2}
        return web.json_response(
            {"id": f"rerank-{len(self.requests)}", "model": body.get("model"), "usage": usage, "results": results}
        )


def _error(status: int, message: str) -> web.Response:
    kind = "BadRequestError" if status == 400 else "InternalServerError"
    return web.json_response(
        {"object": "error", "message": message, "type": kind, "param": None, "code": status}, status=status
    )
