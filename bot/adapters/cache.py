"""Small caches the platform directories share: values kept for a while, and one fetch for
lookups of the same key that overlap (many mentions at once cost the platform one call each)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

__all__ = ["Shared", "TTLCache"]

T = TypeVar("T")


class TTLCache:
    """Values by key, each for ``ttl`` seconds after it was put."""

    def __init__(self, ttl: float) -> None:
        self._ttl = ttl
        self._items: dict[str, tuple[float, Any]] = {}

    def get(self, key: str) -> Any | None:
        """The value, or None when absent or expired."""
        hit = self._items.get(key)
        if hit is None or time.monotonic() - hit[0] > self._ttl:
            return None
        return hit[1]

    def put(self, key: str, value: Any) -> None:
        """Keep ``value`` for ``key`` from now on."""
        self._items[key] = (time.monotonic(), value)


class Shared:
    """Concurrent calls for one key await one fetch (its result or its exception)."""

    def __init__(self) -> None:
        self._pending: dict[str, asyncio.Future[Any]] = {}

    async def run(self, key: str, fetch: Callable[[], Awaitable[T]]) -> T:
        """``fetch()``'s result, shared with every caller that asks for ``key`` meanwhile."""
        future = self._pending.get(key)
        if future is None:
            future = asyncio.ensure_future(fetch())
            self._pending[key] = future
            future.add_done_callback(lambda done: self._done(key, done))
        # A waiter that is cancelled leaves the fetch running for the others.
        result: T = await asyncio.shield(future)
        return result

    def _done(self, key: str, future: asyncio.Future[Any]) -> None:
        if self._pending.get(key) is future:
            del self._pending[key]
        if not future.cancelled():
            future.exception()  # retrieved here too, in case every waiter was cancelled
