"""Which chat events were already handled, in the database so it holds across replicas."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.audit.models import HandledEvent
from bot.group_commit import GroupCommit

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
        self._group: GroupCommit[_Claim, bool] = GroupCommit(
            self._write_group, lambda: SQLAlchemyError("the event ledger was stopped")
        )

    async def claim(self, platform: str, event_id: str) -> bool:
        """True exactly once per (platform, event_id), whichever process asks first."""
        return await self._group.submit((platform, event_id))

    async def _write_group(self, keys: list[_Claim]) -> list[bool | Exception]:
        won = await self._insert(set(keys))
        results: list[bool | Exception] = []
        for key in keys:
            results.append(key in won)  # of two deliveries of one event in a group, the first wins
            won.discard(key)
        return results

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
