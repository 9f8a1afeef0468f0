"""Which chat events were already handled, in the database so it holds across replicas."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.audit.models import HandledEvent

__all__ = ["EventLedger"]

_Claim = tuple[str, str]


class EventLedger:
    """Claims event ids: the first claim wins, every later one (a retry, a duplicate) loses.

    Claims that arrive while one is being written go together in the next statement: a burst of
    mentions (hundreds at once after an announcement) costs a few round trips, not one transaction
    each, and the first sign of life in chat waits on nothing else (bench/conversation_load.py).
    """

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._waiting: list[tuple[_Claim, asyncio.Future[bool]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def claim(self, platform: str, event_id: str) -> bool:
        """True exactly once per (platform, event_id), whichever process asks first."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting.append(((platform, event_id), future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.ensure_future(self._write_waiting())
        return await asyncio.shield(future)

    async def _write_waiting(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, []
            try:
                won = await self._insert({key for key, _ in batch})
            except Exception as exc:  # every waiter gets what it would have alone (database down)
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            except BaseException:  # cancelled: no waiter may hang
                for _, future in [*batch, *self._waiting]:
                    if not future.done():
                        future.set_exception(SQLAlchemyError("the event ledger was stopped"))
                self._waiting = []
                raise
            for key, future in batch:
                # Of two deliveries of one event in the same group, the first wins.
                first = key in won
                won.discard(key)
                if not future.done():
                    future.set_result(first)

    async def _insert(self, keys: set[_Claim]) -> set[_Claim]:
        rows = [{"platform": platform, "event_id": event_id} for platform, event_id in sorted(keys)]
        statement = (
            insert(HandledEvent)
            .values(rows)
            .on_conflict_do_nothing()
            .returning(HandledEvent.platform, HandledEvent.event_id)
        )
        async with self._sessions.begin() as session:
            return {(str(p), str(e)) for p, e in (await session.execute(statement)).all()}

    async def forget(self, older_than: timedelta, *, now: datetime | None = None) -> int:
        """Drop event ids received more than ``older_than`` ago (platforms retry within minutes);
        returns how many."""
        cutoff = (now or datetime.now(UTC)) - older_than
        async with self._sessions.begin() as session:
            result = await session.execute(delete(HandledEvent).where(HandledEvent.received_at < cutoff))
        return int(getattr(result, "rowcount", 0))
