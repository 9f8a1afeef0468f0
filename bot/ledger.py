"""Which chat events were already handled, in the database so it holds across replicas."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.audit.models import HandledEvent

__all__ = ["EventLedger"]


class EventLedger:
    """Claims event ids: the first claim wins, every later one (a retry, a duplicate) loses."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def claim(self, platform: str, event_id: str) -> bool:
        """True exactly once per (platform, event_id), whichever process asks first."""
        statement = (
            insert(HandledEvent)
            .values(platform=platform, event_id=event_id)
            .on_conflict_do_nothing()
            .returning(HandledEvent.event_id)
        )
        async with self._sessions.begin() as session:
            return (await session.execute(statement)).first() is not None

    async def forget(self, older_than: timedelta, *, now: datetime | None = None) -> int:
        """Drop event ids received more than ``older_than`` ago (platforms retry within minutes);
        returns how many."""
        cutoff = (now or datetime.now(UTC)) - older_than
        async with self._sessions.begin() as session:
            result = await session.execute(delete(HandledEvent).where(HandledEvent.received_at < cutoff))
        return int(getattr(result, "rowcount", 0))
