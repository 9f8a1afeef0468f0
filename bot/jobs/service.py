"""Schedules as data: check and add them, run one fire time once (claim, run, retry, record), and
hand the leader its jobs from the table.

A fire time is claimed by inserting its run row; only the process whose insert succeeds runs it. A
failed attempt is recorded (status ``failed``, a short error) and retried after a growing delay, up
to ``KURA_SCHEDULER_RUN_ATTEMPTS`` attempts; the last failure stays in the table for ``schedule
list`` and ``/kura status``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy.exc import SQLAlchemyError

from bot.errors import InputError, KuraError
from bot.jobs.cron import check_timezone, cron_trigger
from bot.jobs.kinds import JobContext, get_kind
from bot.jobs.retention import retention_spec
from bot.jobs.scheduler import ScheduledJob
from bot.jobs.store import Run, Schedule, ScheduleSpec, ScheduleStore
from bot.jobs.targets import parse_target
from bot.redaction import redact

if TYPE_CHECKING:
    from bot.core.outbound import Outbox
    from bot.settings import KuraSettings
    from bot.wiring import Runtime

__all__ = ["RunPolicy", "ScheduleService", "describe_error", "make_spec"]

_log = logging.getLogger(__name__)

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_MAX_TEXT = 300


def make_spec(
    kind: str,
    name: str,
    cron: str,
    timezone: str,
    *,
    params: Mapping[str, str] | None = None,
    target: str | None = None,
    owner: str | None = None,
    enabled: bool = True,
    settings: KuraSettings | None = None,
) -> ScheduleSpec:
    """A schedule checked in full (name, kind, cron, zone, target, parameters; with ``settings``,
    also what only they can tell, e.g. that an ``eval`` set exists); InputError with one line naming
    the first problem."""
    if not _NAME.match(name):
        raise InputError(f"bad schedule name {name!r} (letters, digits, '.', '_' or '-'; at most 64)")
    job = get_kind(kind)
    check_timezone(timezone)
    cron_trigger(cron, timezone)
    checked = job.validate(params or {})
    if settings is not None and job.check_settings is not None:
        job.check_settings(settings, checked)
    if job.needs_target and not target:
        raise InputError(f"{kind} needs a target (e.g. --target slack:C0123)")
    if target and not (job.needs_target or job.may_target):
        raise InputError(f"{kind} does not post anywhere; drop the target")
    if (target or job.needs_owner) and not owner:
        raise InputError("a schedule that posts needs an owner whose rights the post uses (--as EMAIL)")
    where = str(parse_target(target)) if target else None
    return ScheduleSpec(name, kind, " ".join(cron.split()), timezone, checked, where, owner, enabled)


def describe_error(exc: BaseException) -> str:
    """A short, single-line account of a failure for the runs table: Kura's own message, or only
    the type of a database error (its text may carry statements and parameters)."""
    if isinstance(exc, SQLAlchemyError):
        orig = getattr(exc, "orig", None)
        return f"database error ({type(orig or exc).__name__})"
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    summary = text if isinstance(exc, KuraError) else f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return _short(redact(summary))


def _short(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= _MAX_TEXT else line[: _MAX_TEXT - 1] + "…"


@dataclass(frozen=True)
class RunPolicy:
    """How often a failed run is tried in all, and the delay before the second try (doubling after)."""

    attempts: int = 3
    retry_delay_s: float = 60.0


class ScheduleService:
    """Schedules over a runtime: the store, running a fire time once, and the leader's jobs."""

    def __init__(self, runtime: Runtime, *, outbound: Outbox | None = None, policy: RunPolicy | None = None) -> None:
        s = runtime.settings.scheduler
        self._rt = runtime
        # Jobs post through the runtime's outbox (taken when a job runs: listing schedules must not
        # load the conversation core), on whatever platforms the adapters attached.
        self._outbound = outbound
        self._policy = policy or RunPolicy(s.run_attempts, s.retry_delay_s)
        self.store = ScheduleStore(runtime.database.sessions)

    @property
    def settings(self) -> KuraSettings:
        """The settings of the runtime the schedules run on (checks at add time)."""
        return self._rt.settings

    @property
    def default_timezone(self) -> str:
        """The zone a schedule's cron is read in when none is given (``KURA_SCHEDULER_TIMEZONE``)."""
        return self._rt.settings.scheduler.timezone

    async def ensure_retention(self) -> str | None:
        """Keep the ``retention`` schedule on the settings' cron and zone (``added``, ``updated`` or None)."""
        return await self.store.ensure(retention_spec(self._rt.settings.scheduler))

    async def jobs(self) -> list[ScheduledJob]:
        """The enabled schedules as the leader's jobs (a schedule whose cron stopped parsing is skipped)."""
        jobs = []
        for schedule in await self.store.enabled():
            try:
                trigger = cron_trigger(schedule.cron, schedule.timezone)
            except InputError as exc:
                _log.warning("scheduler: schedule %s skipped: %s", schedule.name, exc)
                continue
            jobs.append(ScheduledJob(schedule.name, trigger, self._firing(schedule), _fingerprint(schedule)))
        return jobs

    def _firing(self, schedule: Schedule) -> Callable[[datetime], Awaitable[Run | None]]:
        async def fire(fire_time: datetime) -> Run | None:
            command = f"schedule {schedule.name} ({schedule.cron} {schedule.timezone})"
            return await self.fire(schedule, fire_time, actor=f"scheduler:{schedule.name}", command=command)

        return fire

    async def run_now(self, name: str, *, actor: str, command: str, platform: str) -> Run:
        """Run a schedule once now, in this process (one attempt); InputError when there is no such schedule."""
        schedule = await self.store.get(name)
        if schedule is None:
            raise InputError(f"no schedule named {name!r}")
        run = await self.fire(schedule, datetime.now(UTC), actor=actor, command=command, platform=platform, attempts=1)
        if run is None:
            raise InputError(f"schedule {name!r} was removed while it started")
        return run

    async def fire(
        self,
        schedule: Schedule,
        fire_time: datetime,
        *,
        actor: str,
        command: str,
        platform: str = "scheduler",
        attempts: int | None = None,
    ) -> Run | None:
        """Run one fire time of a schedule unless another process claimed it: the run as recorded
        (done, or failed after the last attempt), or None when it was not ours to run (another
        process claimed it) or its schedule was removed meanwhile."""
        run = await self.store.claim(schedule.id, fire_time)
        if run is None:
            _log.info("scheduler: %s at %s is another process's run", schedule.name, fire_time.isoformat())
            return None
        outbox = self._outbound if self._outbound is not None else self._rt.outbox
        ctx = JobContext(self._rt, schedule, fire_time, actor, command, platform, outbox)
        limit = attempts or self._policy.attempts
        last_error: str | None = None
        recorded: Run | None = run
        for attempt in range(1, limit + 1):
            try:
                outcome = await get_kind(schedule.kind).run(ctx)
            except asyncio.CancelledError:
                with contextlib.suppress(SQLAlchemyError):  # best effort: the process is stopping
                    await asyncio.shield(self.store.failed(run.id, "interrupted: the process stopped"))
                raise
            except Exception as exc:  # any failure of a job is recorded and retried, never raised
                last_error = describe_error(exc)
                _log.warning("scheduler: %s attempt %d/%d failed: %s", schedule.name, attempt, limit, last_error)
                recorded = await self.store.failed(run.id, last_error)
                if recorded is None or attempt == limit:
                    self._rt.metrics.job_run(schedule.kind, "failed")
                    return recorded
                await asyncio.sleep(self._policy.retry_delay_s * 2 ** (attempt - 1))
                if not await self.store.retry(run.id, attempt):
                    return None
            else:
                _log.info("scheduler: %s done: %s", schedule.name, outcome)
                self._rt.metrics.job_run(schedule.kind, "done")
                return await self.store.done(run.id, _short(outcome), last_error)
        return recorded


def _fingerprint(schedule: Schedule) -> str:
    fields = [schedule.kind, schedule.cron, schedule.timezone, schedule.target, dict(schedule.params), schedule.id]
    return json.dumps(fields, sort_keys=True, ensure_ascii=False)
