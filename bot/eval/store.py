"""Stored evaluation runs (migration 0013): each configuration's totals, for the trend of a set and
each model's measured quality. Metrics only: no question or answer text."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, DateTime, Float, Integer, Text, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = ["EvalRunRow", "EvalStore"]


class _Base(DeclarativeBase):
    pass


class EvalRunRow(_Base):
    """One configuration of one run."""

    __tablename__ = "eval_runs"

    run_id: Mapped[str] = mapped_column(Text, primary_key=True)
    config: Mapped[str] = mapped_column(Text, primary_key=True)
    set_name: Mapped[str] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    seconds: Mapped[float] = mapped_column(Float)
    model: Mapped[str] = mapped_column(Text)
    settings: Mapped[dict[str, Any]] = mapped_column(JSONB)
    #: metric -> value (None where no case applied)
    metrics: Mapped[dict[str, float | None]] = mapped_column(JSONB)
    cases: Mapped[int] = mapped_column(Integer)
    passed: Mapped[bool] = mapped_column(Boolean)
    started_by: Mapped[str | None] = mapped_column(Text)


class EvalStore:
    """Records runs and reads them back."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def record(self, rows: list[EvalRunRow]) -> None:
        """Store a run's configurations together (all or none)."""
        async with self._sessions.begin() as session:
            session.add_all(rows)

    async def history(self, set_name: str, limit: int = 30) -> list[EvalRunRow]:
        """A set's stored runs, oldest first (the newest ``limit`` configurations)."""
        query = (
            select(EvalRunRow)
            .where(EvalRunRow.set_name == set_name)
            .order_by(EvalRunRow.started_at.desc(), EvalRunRow.config)
            .limit(limit)
        )
        async with self._sessions() as session:
            rows = list(await session.scalars(query))
        return rows[::-1]

    async def latest(self, set_name: str | None = None) -> list[EvalRunRow]:
        """Every configuration of the newest run (of a set, or of any set)."""
        newest = select(EvalRunRow.run_id).order_by(EvalRunRow.started_at.desc()).limit(1)
        if set_name is not None:
            newest = newest.where(EvalRunRow.set_name == set_name)
        async with self._sessions() as session:
            run_id = await session.scalar(newest)
            if run_id is None:
                return []
            query = select(EvalRunRow).where(EvalRunRow.run_id == run_id).order_by(EvalRunRow.config)
            return list(await session.scalars(query))

    async def quality_by_model(self) -> dict[str, dict[str, Any]]:
        """Each model's newest measured figures: metric -> value, plus ``run``, ``set``, ``config``
        and ``started_at`` (``kura models list``)."""
        query = select(EvalRunRow).order_by(EvalRunRow.started_at.desc())
        out: dict[str, dict[str, Any]] = {}
        async with self._sessions() as session:
            for row in await session.scalars(query):
                if row.model not in out:
                    out[row.model] = {
                        **row.metrics,
                        "run": row.run_id,
                        "set": row.set_name,
                        "config": row.config,
                        "started_at": row.started_at.isoformat(),
                    }
        return out
