"""Retries for Microsoft's REST APIs (the Bot Connector, Graph), as an aiohttp client middleware.

429 and 5xx are retried with exponential backoff; a ``Retry-After`` header (seconds or an HTTP
date) is honoured, up to a cap, so a throttled Kura waits as long as it is told instead of making
the throttling worse. A connection that could not be made is retried the same way; one lost after
the request went out only for methods that may be repeated (not a POST: the message may have been
posted). Anything else is returned as is.
"""

from __future__ import annotations

import asyncio
import logging
import random
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from aiohttp import ClientConnectorError, ClientError, ClientHandlerType, ClientRequest, ClientResponse

__all__ = ["RetryPolicy", "retry_after_s"]

_log = logging.getLogger(__name__)
_IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})


def retry_after_s(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds a ``Retry-After`` header asks for (delta-seconds or an HTTP date); None if absent or
    unreadable."""
    if not value or not value.strip():
        return None
    text = value.strip()
    if text.isascii() and text.isdigit():  # RFC 9110 DIGITs: str.isdigit() also takes "²", which float() refuses
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class RetryPolicy:
    """``attempts`` tries in all; waits ``base_s`` × 2ⁿ (with jitter) unless told otherwise, never
    more than ``max_wait_s`` at once (a longer ``Retry-After`` gives up and returns the response)."""

    def __init__(self, *, attempts: int = 4, base_s: float = 0.5, max_wait_s: float = 30.0) -> None:
        self.attempts = attempts
        self.base_s = base_s
        self.max_wait_s = max_wait_s

    def _backoff(self, attempt: int) -> float:
        return float(self.base_s * 2**attempt * (0.5 + random.random() / 2))  # noqa: S311 - jitter

    async def __call__(self, request: ClientRequest, handler: ClientHandlerType) -> ClientResponse:
        """The middleware: send, and send again while the answer says to."""
        for attempt in range(self.attempts):
            last = attempt == self.attempts - 1
            try:
                response = await handler(request)
            except (ClientError, TimeoutError) as exc:
                # A request that may have reached the server is sent again only when sending it
                # twice does no harm: a POST (a new message) is retried only when it never left.
                if last or not (request.method in _IDEMPOTENT or isinstance(exc, ClientConnectorError)):
                    raise
                _log.info("retrying after %s method=%s", type(exc).__name__, request.method)
                await asyncio.sleep(self._backoff(attempt))
                continue
            if response.status != 429 and response.status < 500:
                return response
            told = retry_after_s(response.headers.get("Retry-After"))
            wait = self._backoff(attempt) if told is None else told
            if last or wait > self.max_wait_s:
                return response
            _log.info("retrying status=%s after %.1fs method=%s", response.status, wait, request.method)
            response.release()
            await asyncio.sleep(wait)
        raise AssertionError("unreachable")  # the last attempt returns or raises
