"""APScheduler 3.x on the event loop, run by one process at a time.

APScheduler 3 cannot share a job store between processes, so every ``kura serve`` replica builds
the same jobs from its settings and only the one holding a Postgres session advisory lock runs
them. The lock lives on one dedicated connection: if that process dies or loses its database, the
lock goes with the connection and a standby takes over at its next check. Jobs must be safe to run
twice (retention is: a second run finds nothing due).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

__all__ = ["LEADER_LOCK", "ScheduledJob", "Scheduler"]

_log = logging.getLogger(__name__)

#: pg_advisory_lock key of the scheduler's leader ("kura" + 1; the audit chain uses "kura").
LEADER_LOCK = 0x6B757261 + 1


@dataclass(frozen=True)
class ScheduledJob:
    """A job: its id (for logs), when it fires, and what it runs."""

    id: str
    trigger: BaseTrigger
    run: Callable[[], Awaitable[object]]


class Scheduler:
    """Tries to become the leader every ``check_s`` seconds; runs the jobs while it is."""

    def __init__(
        self,
        engine: AsyncEngine,
        jobs: Sequence[ScheduledJob],
        *,
        timezone: str = "UTC",
        check_s: float = 30.0,
        status: Callable[[str], None] | None = None,
    ) -> None:
        self._engine = engine
        self._jobs = list(jobs)
        self._check_s = check_s
        self._timezone = timezone
        self._status = status or (lambda _msg: None)
        self._task: asyncio.Task[None] | None = None
        self.leading = asyncio.Event()

    @property
    def is_leader(self) -> bool:
        """True while this process holds the lock and runs the jobs."""
        return self.leading.is_set()

    async def start(self) -> None:
        """Start competing for leadership in the background."""
        if self._task is None:
            self._task = asyncio.create_task(self._compete(), name="kura-scheduler")

    async def stop(self) -> None:
        """Stop the jobs (without waiting for a running one to finish) and give up the lock."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _compete(self) -> None:
        announced_standby = False
        while True:
            try:
                async with self._engine.connect() as conn:
                    conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
                    if await conn.scalar(select(func.pg_try_advisory_lock(LEADER_LOCK))):
                        announced_standby = False
                        await self._lead(conn)
                    elif not announced_standby:
                        self._status("scheduler: standby (another process runs the jobs)")
                        announced_standby = True
            except SQLAlchemyError as exc:
                _log.warning(
                    "scheduler: database unavailable (%s); retrying in %.0f s", type(exc).__name__, self._check_s
                )
            await asyncio.sleep(self._check_s)

    async def _lead(self, conn: AsyncConnection) -> None:
        scheduler = AsyncIOScheduler(timezone=self._timezone)
        for job in self._jobs:
            scheduler.add_job(
                job.run, job.trigger, id=job.id, name=job.id, max_instances=1, coalesce=True, misfire_grace_time=3600
            )
        scheduler.start()
        self.leading.set()
        plans = ", ".join(f"{j.id} next {nxt}" for j in scheduler.get_jobs() if (nxt := j.next_run_time) is not None)
        self._status(f"scheduler: leader ({plans or 'no jobs'})")
        try:
            while True:
                await asyncio.sleep(self._check_s)
                await conn.scalar(select(1))  # the lock lives as long as this connection does
        finally:
            self.leading.clear()
            scheduler.shutdown(wait=False)
            try:
                await conn.scalar(select(func.pg_advisory_unlock(LEADER_LOCK)))
            except (SQLAlchemyError, asyncio.CancelledError):
                await conn.invalidate()  # closing the connection releases the lock
