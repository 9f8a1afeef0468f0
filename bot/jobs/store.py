"""All SQL of schedules and their runs.

A run is claimed by inserting its (schedule, fire time) pair, which is unique: of two processes
firing the same time, one inserts and runs, the other finds the row and does nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, cast

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import distinct_on, insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.errors import InputError
from bot.jobs.models import RunRow, ScheduleRow

__all__ = ["Run", "RunStatus", "Schedule", "ScheduleSpec", "ScheduleStore", "ScheduleView"]

RunStatus = Literal["running", "done", "failed"]


@dataclass(frozen=True)
class ScheduleSpec:
    """A schedule to add, already validated (see ``bot.jobs.service.make_spec``)."""

    name: str
    kind: str
    cron: str
    timezone: str
    params: Mapping[str, str] = field(default_factory=dict)
    target: str | None = None
    owner: str | None = None
    enabled: bool = True


@dataclass(frozen=True)
class Schedule:
    """A stored schedule."""

    id: int
    name: str
    kind: str
    cron: str
    timezone: str
    params: Mapping[str, str]
    target: str | None
    owner: str | None
    enabled: bool
    created_at: datetime

    def as_json(self) -> dict[str, object]:
        """The schedule for ``--json`` output."""
        return {
            "id": self.id,
            "name": self.name,
            "kind": self.kind,
            "params": dict(self.params),
            "cron": self.cron,
            "timezone": self.timezone,
            "target": self.target,
            "owner": self.owner,
            "enabled": self.enabled,
            "created_at": self.created_at.isoformat(),
        }


@dataclass(frozen=True)
class Run:
    """One fire time of a schedule and what came of it."""

    id: int
    schedule_id: int
    fire_time: datetime
    status: RunStatus
    attempts: int
    started_at: datetime
    finished_at: datetime | None
    outcome: str | None
    error: str | None

    def as_json(self) -> dict[str, object]:
        """The run for ``--json`` output."""
        return {
            "id": self.id,
            "schedule_id": self.schedule_id,
            "fire_time": self.fire_time.isoformat(),
            "status": self.status,
            "attempts": self.attempts,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "outcome": self.outcome,
            "error": self.error,
        }


@dataclass(frozen=True)
class ScheduleView:
    """A schedule with its latest run and its latest failed run (for lists and status)."""

    schedule: Schedule
    last_run: Run | None
    last_failure: Run | None


def _schedule(row: ScheduleRow) -> Schedule:
    return Schedule(
        row.id,
        row.name,
        row.kind,
        row.cron,
        row.timezone,
        dict(row.params or {}),
        row.target,
        row.owner,
        row.enabled,
        row.created_at,
    )


def _run(row: RunRow) -> Run:
    return Run(
        row.id,
        row.schedule_id,
        row.fire_time,
        cast(RunStatus, row.status),
        row.attempts,
        row.started_at,
        row.finished_at,
        row.outcome,
        row.error,
    )


class ScheduleStore:
    """Schedules and runs in PostgreSQL."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def add(self, spec: ScheduleSpec) -> Schedule:
        """Store a new schedule; InputError when its name is taken."""
        row = ScheduleRow(
            name=spec.name,
            kind=spec.kind,
            params=dict(spec.params),
            cron=spec.cron,
            timezone=spec.timezone,
            target=spec.target,
            owner=spec.owner,
            enabled=spec.enabled,
        )
        try:
            async with self._sessions.begin() as session:
                session.add(row)
                await session.flush()
                await session.refresh(row)
        except IntegrityError as exc:
            raise InputError(f"a schedule named {spec.name!r} already exists") from exc
        return _schedule(row)

    async def remove(self, name: str) -> Schedule | None:
        """Remove a schedule and its runs; the schedule removed, or None when there was none."""
        async with self._sessions.begin() as session:
            row = (
                await session.execute(delete(ScheduleRow).where(ScheduleRow.name == name).returning(ScheduleRow))
            ).scalar_one_or_none()
        return _schedule(row) if row is not None else None

    async def get(self, name: str) -> Schedule | None:
        """The schedule called ``name``, or None."""
        async with self._sessions() as session:
            row = (await session.execute(select(ScheduleRow).where(ScheduleRow.name == name))).scalar_one_or_none()
        return _schedule(row) if row is not None else None

    async def enabled(self) -> list[Schedule]:
        """The schedules the leader runs, by name."""
        async with self._sessions() as session:
            rows = (
                await session.execute(select(ScheduleRow).where(ScheduleRow.enabled).order_by(ScheduleRow.name))
            ).scalars()
            return [_schedule(r) for r in rows]

    async def overview(self) -> list[ScheduleView]:
        """Every schedule by name, with its latest run and latest failed run."""
        latest = (
            select(RunRow).ext(distinct_on(RunRow.schedule_id)).order_by(RunRow.schedule_id, RunRow.fire_time.desc())
        )
        async with self._sessions() as session:
            schedules = (await session.execute(select(ScheduleRow).order_by(ScheduleRow.name))).scalars().all()
            last = {r.schedule_id: _run(r) for r in (await session.execute(latest)).scalars()}
            failed = {
                r.schedule_id: _run(r)
                for r in (await session.execute(latest.where(RunRow.status == "failed"))).scalars()
            }
        return [ScheduleView(_schedule(s), last.get(s.id), failed.get(s.id)) for s in schedules]

    async def runs(self, schedule_id: int, limit: int = 20) -> list[Run]:
        """A schedule's runs, newest fire time first."""
        statement = (
            select(RunRow).where(RunRow.schedule_id == schedule_id).order_by(RunRow.fire_time.desc()).limit(limit)
        )
        async with self._sessions() as session:
            return [_run(r) for r in (await session.execute(statement)).scalars()]

    async def claim(self, schedule_id: int, fire_time: datetime) -> Run | None:
        """Start the run of this fire time (attempt 1): the run, or None when another process
        claimed it first or the schedule is gone."""
        statement = (
            insert(RunRow)
            .values(schedule_id=schedule_id, fire_time=fire_time, status="running", attempts=1)
            .on_conflict_do_nothing(constraint="uq_schedule_runs_fire_time")
            .returning(RunRow)
        )
        try:
            async with self._sessions.begin() as session:
                row = (await session.execute(statement)).scalar_one_or_none()
        except IntegrityError:  # the schedule was removed since it was loaded
            return None
        return _run(row) if row is not None else None

    async def _finish(self, run_id: int, status: RunStatus, outcome: str | None, error: str | None) -> Run | None:
        statement = (
            update(RunRow)
            .where(RunRow.id == run_id)
            .values(status=status, finished_at=func.now(), outcome=outcome, error=error)
            .returning(RunRow)
        )
        async with self._sessions.begin() as session:
            row = (await session.execute(statement)).scalar_one_or_none()
        return _run(row) if row is not None else None

    async def done(self, run_id: int, outcome: str, error: str | None = None) -> Run | None:
        """Record a run as done with its one-line outcome (``error``: the last failed attempt's);
        None when the run is gone (its schedule was removed meanwhile)."""
        return await self._finish(run_id, "done", outcome, error)

    async def failed(self, run_id: int, error: str) -> Run | None:
        """Record the run's current attempt as failed with a short error (None: the run is gone)."""
        return await self._finish(run_id, "failed", None, error)

    async def retry(self, run_id: int, attempts: int) -> bool:
        """Start attempt ``attempts + 1`` of a failed run; False when it is no longer the failed run
        at that attempt (another process retried it, or it was removed)."""
        statement = (
            update(RunRow)
            .where(RunRow.id == run_id, RunRow.status == "failed", RunRow.attempts == attempts)
            .values(status="running", attempts=attempts + 1, finished_at=None)
            .returning(RunRow.id)
        )
        async with self._sessions.begin() as session:
            return (await session.execute(statement)).first() is not None

    async def ensure(self, spec: ScheduleSpec) -> str | None:
        """Make sure a schedule of ``spec.kind`` exists: add ``spec`` when there is none; otherwise keep
        the one named ``spec.name`` without an owner (made from settings) on ``spec``'s cron and zone.
        Returns what was done (``added``, ``updated``) or None."""
        async with self._sessions.begin() as session:
            any_of_kind = await session.scalar(
                select(func.count()).select_from(ScheduleRow).where(ScheduleRow.kind == spec.kind)
            )
            if not any_of_kind:
                values = {
                    "name": spec.name,
                    "kind": spec.kind,
                    "params": dict(spec.params),
                    "cron": spec.cron,
                    "timezone": spec.timezone,
                    "target": spec.target,
                    "owner": spec.owner,
                    "enabled": spec.enabled,
                }
                added = insert(ScheduleRow).values(values).on_conflict_do_nothing().returning(ScheduleRow.id)
                return "added" if (await session.execute(added)).first() is not None else None
            follow = (
                update(ScheduleRow)
                .where(
                    ScheduleRow.name == spec.name,
                    ScheduleRow.kind == spec.kind,
                    ScheduleRow.owner.is_(None),
                    (ScheduleRow.cron != spec.cron) | (ScheduleRow.timezone != spec.timezone),
                )
                .values(cron=spec.cron, timezone=spec.timezone)
                .returning(ScheduleRow.id)
            )
            return "updated" if (await session.execute(follow)).first() is not None else None
