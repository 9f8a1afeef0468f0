"""What the policy engine needs to know about a request that only I/O can tell: how close the
question is to each restricted topic's examples (embeddings), and what the user has used
recently (the audit log, so the count holds across replicas)."""

from __future__ import annotations

import numpy as np

from bot.audit.store import AuditStore
from llm import Embedder
from llm.embeddings import Vector
from policies import Policy
from policies.model import Usage

__all__ = ["RequestSignals"]


class RequestSignals:
    """Topic similarity and usage for a request."""

    def __init__(self, embedder: Embedder, audit: AuditStore) -> None:
        self._embedder = embedder
        self._audit = audit
        self._examples: dict[tuple[str, str], Vector] = {}  # (policy version, topic) -> example vectors

    async def topic_scores(self, policy: Policy, text: str) -> dict[str, float]:
        """Topic name -> highest cosine similarity of the question to the topic's examples."""
        topics = [t for t in policy.topics if t.examples]
        if not topics:
            return {}
        query = await self._embedder.embed_query(text)
        scores: dict[str, float] = {}
        for topic in topics:
            key = (policy.version, topic.name)
            if key not in self._examples:
                self._examples[key] = await self._embedder.embed_query_batch(list(topic.examples))
            scores[topic.name] = float(np.max(self._examples[key] @ query))
        return scores

    async def usage(self, user_email: str | None) -> Usage:
        """Requests in the last minute and tokens since midnight UTC, from the audit log."""
        if user_email is None:
            return Usage()
        requests, tokens = await self._audit.usage(user_email)
        return Usage(requests_last_minute=requests, tokens_today=tokens)
