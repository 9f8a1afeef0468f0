"""APScheduler 3.x on the event loop, run by one process at a time.

APScheduler 3 cannot share a job store between processes, so every ``kura serve`` replica competes
for a Postgres session advisory lock and only its holder runs jobs. The leader loads the jobs when
it becomes the leader and again at every check (``kura schedule add`` takes effect without a
restart). The lock lives on one dedicated connection: if that process dies or loses its database,
the lock goes with the connection and a standby takes over at its next check. A job gets the fire
time it runs for, so it can claim that time once across processes (``bot.jobs.service``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.executors.base import BaseExecutor
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

__all__ = ["LEADER_LOCK", "JobLoader", "ScheduledJob", "Scheduler"]

_log = logging.getLogger(__name__)

#: pg_advisory_lock key of the scheduler's leader ("kura" + 1; the audit chain uses "kura").
LEADER_LOCK = 0x6B757261 + 1

#: A run later than this after its fire time is skipped (the next fire time comes instead).
_MISFIRE_GRACE = timedelta(hours=1)

#: Stands for the fire time among a job's arguments; the executor puts the time in its place.
_FIRE_TIME = object()


@dataclass(frozen=True)
class ScheduledJob:
    """A job: its id (for logs), when it fires, what it runs (given the fire time), and a
    fingerprint that changes when its definition does (the leader then replaces it)."""

    id: str
    trigger: BaseTrigger
    run: Callable[[datetime], Awaitable[object]]
    fingerprint: str = ""


JobLoader = Callable[[], Awaitable[Sequence[ScheduledJob]]]


class _FireTimeExecutor(BaseExecutor):  # type: ignore[misc]  # APScheduler 3 is untyped
    """Runs a coroutine job with the time it fires for (APScheduler's own executor passes none), as
    an extension executor does (``_do_submit_job``; report back with ``_run_job_success/error``)."""

    def __init__(self) -> None:
        super().__init__()
        self._tasks: set[asyncio.Task[object]] = set()

    def shutdown(self, wait: bool = True) -> None:
        """Cancel running jobs (an asyncio executor cannot wait here; the leader steps down now)."""
        for task in list(self._tasks):
            task.cancel()

    def _do_submit_job(self, job: Any, run_times: list[datetime]) -> None:
        fire_time = run_times[-1]  # coalesced: the latest missed time stands for the others
        if datetime.now(UTC) - fire_time > _MISFIRE_GRACE:
            _log.warning("scheduler: %s missed its run at %s; waiting for the next", job.id, fire_time)
            self._run_job_success(job.id, [])
            return
        args = [fire_time if a is _FIRE_TIME else a for a in job.args]
        task: asyncio.Task[object] = asyncio.get_running_loop().create_task(job.func(*args), name=job.id)
        self._tasks.add(task)

        def finished(done: asyncio.Task[object]) -> None:
            self._tasks.discard(done)
            error = None if done.cancelled() else done.exception()
            if error is None:
                self._run_job_success(job.id, [])
            else:
                self._run_job_error(job.id, error, error.__traceback__)

        task.add_done_callback(finished)


class Scheduler:
    """Tries to become the leader every ``check_s`` seconds; runs the jobs while it is.

    ``jobs`` is a fixed list or a loader called on taking the lead and at every check after;
    ``lock_key`` is the advisory lock that elects the leader (tests give two schedulers their own
    to make both fire the same times).
    """

    def __init__(
        self,
        engine: AsyncEngine,
        jobs: Sequence[ScheduledJob] | JobLoader,
        *,
        timezone: str = "UTC",
        check_s: float = 30.0,
        status: Callable[[str], None] | None = None,
        lock_key: int = LEADER_LOCK,
    ) -> None:
        self._engine = engine
        self._load: JobLoader = jobs if callable(jobs) else _fixed(list(jobs))
        self._check_s = check_s
        self._timezone = timezone
        self._status = status or (lambda _msg: None)
        self._lock_key = lock_key
        self._task: asyncio.Task[None] | None = None
        self._fingerprints: dict[str, str] = {}
        self.leading = asyncio.Event()

    async def running(self) -> bool:
        """True while the scheduler competes for leadership or leads (a readiness check)."""
        return self._task is not None and not self._task.done()

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
                    if await conn.scalar(select(func.pg_try_advisory_lock(self._lock_key))):
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
        scheduler = AsyncIOScheduler(timezone=self._timezone, executors={"default": _FireTimeExecutor()})
        self._fingerprints = {}
        try:
            scheduler.start()
            await self._sync(scheduler, await self._load())
            self.leading.set()
            plans = ", ".join(f"{j.id} next {j.next_run_time}" for j in scheduler.get_jobs() if j.next_run_time)
            self._status(f"scheduler: leader ({plans or 'no jobs'})")
            while True:
                await asyncio.sleep(self._check_s)
                await conn.scalar(select(1))  # the lock lives as long as this connection does
                try:
                    await self._sync(scheduler, await self._load())
                except SQLAlchemyError as exc:
                    _log.warning("scheduler: could not reload the jobs (%s); keeping them", type(exc).__name__)
        finally:
            self.leading.clear()
            if scheduler.running:
                scheduler.shutdown(wait=False)
            try:
                await conn.scalar(select(func.pg_advisory_unlock(self._lock_key)))
            except (SQLAlchemyError, asyncio.CancelledError):
                await conn.invalidate()  # closing the connection releases the lock

    async def _sync(self, scheduler: AsyncIOScheduler, jobs: Sequence[ScheduledJob]) -> None:
        """Make the running jobs those given: add new ones, replace changed ones, remove the rest."""
        wanted = {job.id: job for job in jobs}
        for job_id in list(self._fingerprints):
            if job_id not in wanted or wanted[job_id].fingerprint != self._fingerprints[job_id]:
                scheduler.remove_job(job_id)
                del self._fingerprints[job_id]
                if job_id not in wanted:
                    self._status(f"scheduler: {job_id} removed")
        for job_id, job in wanted.items():
            if job_id in self._fingerprints:
                continue
            try:
                added = scheduler.add_job(
                    job.run,
                    job.trigger,
                    args=(_FIRE_TIME,),
                    id=job_id,
                    name=job_id,
                    max_instances=1,
                    coalesce=True,
                    misfire_grace_time=int(_MISFIRE_GRACE.total_seconds()),
                )
            except (ValueError, TypeError, LookupError) as exc:  # one bad job must not stop the others
                _log.error("scheduler: %s not scheduled: %s", job_id, exc)
                continue
            if self.leading.is_set():
                self._status(f"scheduler: {job_id} scheduled, next {added.next_run_time}")
            self._fingerprints[job_id] = job.fingerprint


def _fixed(jobs: list[ScheduledJob]) -> JobLoader:
    async def load() -> Sequence[ScheduledJob]:
        return jobs

    return load
