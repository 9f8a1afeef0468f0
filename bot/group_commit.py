"""Group commit: writes that arrive while one is in progress go together in the next.

A burst of chat (hundreds of mentions at once) would otherwise make one transaction per dedupe
claim and per audit record, each queueing for a pooled connection behind the others
(bench/conversation_load.py). Each caller still gets its own result, once its item is written.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

__all__ = ["GroupCommit"]

T = TypeVar("T")
R = TypeVar("R")


def _settle(future: asyncio.Future[R], outcome: R | BaseException) -> None:
    if future.done():
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


class GroupCommit(Generic[T, R]):
    """Submits items to ``write`` in groups, in the order they came.

    Args:
        write: writes a group and returns, for each item in order, its result or the exception that
            item alone should raise; if it raises, every item of the group raises that.
        stopped: the exception waiters get when the writer is cancelled (no waiter may hang).
    """

    def __init__(
        self, write: Callable[[list[T]], Awaitable[Sequence[R | Exception]]], stopped: Callable[[], Exception]
    ) -> None:
        self._write = write
        self._stopped = stopped
        self._waiting: list[tuple[T, asyncio.Future[R]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def submit(self, item: T) -> R:
        """Write ``item`` with whatever else is waiting; its result once it is written."""
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.ensure_future(self._drain())
        # A caller that is cancelled leaves its item to be written: it may already be.
        return await asyncio.shield(future)

    async def _drain(self) -> None:
        while self._waiting:
            group, self._waiting = self._waiting, []
            try:
                results = await self._write([item for item, _ in group])
            except Exception as exc:
                for _, future in group:
                    _settle(future, exc)
                continue
            except BaseException:
                for _, future in [*group, *self._waiting]:
                    _settle(future, self._stopped())
                self._waiting = []
                raise
            for (_, future), result in zip(group, results, strict=True):
                _settle(future, result)
