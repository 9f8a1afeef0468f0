"""``kura schedule list|add|remove|run-now``: scheduled jobs as data, for the operator.

Cron lines have 5 crontab fields (minute hour day month weekday; weekday 0 or 7 is Sunday), or 6
with the seconds first. Add, remove and run-now each leave an audit record of their own, as
``kura audit …`` does (platform ``cli``, user ``cli:<OS user>``). Exit codes: 0 done, 1 the job
ran and failed (run-now), 2 bad input, 4 the database is unavailable.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.exc import SQLAlchemyError

from bot.cli.audit import _command_line, _operator, _record
from bot.cli.platforms import attached
from bot.errors import DatabaseUnavailable, InputError
from bot.jobs.kinds import get_kind
from bot.jobs.service import ScheduleService, make_spec
from bot.jobs.store import Run, ScheduleView
from bot.jobs.text import run_summary, schedule_summary
from bot.settings import KuraSettings
from bot.wiring import Runtime, open_runtime

__all__ = ["schedule_add", "schedule_list", "schedule_remove", "schedule_run_now"]


@asynccontextmanager
async def _runtime(settings: KuraSettings, *, with_model: bool = False) -> AsyncIterator[Runtime]:
    """The runtime, with a database failure midway reported as unavailable (exit 4), not a trace."""
    try:
        async with open_runtime(settings, with_model=with_model) as rt:
            yield rt
    except SQLAlchemyError as exc:
        raise DatabaseUnavailable(f"the database failed: {type(getattr(exc, 'orig', None) or exc).__name__}") from exc


def _params(pairs: list[str] | None) -> dict[str, str]:
    params: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InputError(f"--param {pair!r}: expected key=value")
        params[key.strip()] = value
    return params


def _view_json(view: ScheduleView) -> dict[str, object]:
    return view.schedule.as_json() | {
        "last_run": view.last_run.as_json() if view.last_run else None,
        "last_failure": view.last_failure.as_json() if view.last_failure else None,
    }


async def schedule_list(settings: KuraSettings, args: argparse.Namespace) -> int:
    """``kura schedule list [--json]``: every schedule with its last run and last failure."""
    async with _runtime(settings) as rt:
        views = await ScheduleService(rt).store.overview()
    if args.json:
        print(json.dumps([_view_json(v) for v in views], ensure_ascii=False))
    elif not views:
        print("no schedules")
    else:
        for view in views:
            last = run_summary(view.last_run) if view.last_run else "never run"
            print(f"{view.schedule.name}\t{schedule_summary(view.schedule)}\tlast: {last}")
            if view.last_failure is not None and view.last_failure != view.last_run:
                print(f"\tlast failure: {run_summary(view.last_failure)}")
    return 0


async def schedule_add(settings: KuraSettings, args: argparse.Namespace) -> int:
    """``kura schedule add KIND --name N --cron "0 17 * * 5" [--timezone Z] [--target T]
    [--param key=value …] [--as EMAIL] [--disabled]``."""
    owner = args.owner.strip().lower() if args.owner else None
    spec = make_spec(
        args.kind,
        args.name,
        args.cron,
        args.timezone or settings.scheduler.timezone,
        params=_params(args.param),
        target=args.target,
        owner=owner,
        enabled=not args.disabled,
        settings=settings,
    )
    async with _runtime(settings) as rt:
        if owner is not None and await rt.directory.user(owner) is None:
            raise InputError(f"--as {owner}: not in the directory")
        started = time.perf_counter()
        schedule = await ScheduleService(rt).store.add(spec)
        await _record(rt, started, f"added schedule {schedule.name}: {schedule_summary(schedule)}")
    if args.json:
        print(json.dumps(schedule.as_json(), ensure_ascii=False))
    else:
        print(f"added {schedule.name}: {schedule_summary(schedule)}")
    return 0


async def schedule_remove(settings: KuraSettings, args: argparse.Namespace) -> int:
    """``kura schedule remove NAME``: the schedule and its runs (the audit log keeps the record)."""
    async with _runtime(settings) as rt:
        started = time.perf_counter()
        schedule = await ScheduleService(rt).store.remove(args.name)
        if schedule is None:
            raise InputError(f"no schedule named {args.name!r}")
        await _record(rt, started, f"removed schedule {schedule.name}: {schedule_summary(schedule)}")
    if args.json:
        print(json.dumps(schedule.as_json(), ensure_ascii=False))
    else:
        print(f"removed {schedule.name}")
    return 0


async def _run_now(rt: Runtime, name: str) -> Run:
    started = time.perf_counter()
    run = await ScheduleService(rt).run_now(name, actor=_operator(), command=_command_line(), platform="cli")
    await _record(rt, started, f"ran schedule {name} now: {run_summary(run)}")
    return run


async def schedule_run_now(settings: KuraSettings, args: argparse.Namespace) -> int:
    """``kura schedule run-now NAME``: run the job once in this process (fire time: now), record
    the run and print its outcome; 1 when the job failed."""
    async with _runtime(settings) as rt:
        found = await ScheduleService(rt).store.get(args.name)
        if found is None:
            raise InputError(f"no schedule named {args.name!r}")
        kind = get_kind(found.kind)
        if kind.needs_model or found.target:
            async with _runtime(settings, with_model=True) as with_model:
                places = [found.target or "", *found.params.values()]
                needed = {p for p in ("slack", "teams") if any(v.startswith((f"{p}:", f"{p}-")) for v in places)}
                async with attached(with_model, settings, needed):
                    run = await _run_now(with_model, args.name)
        else:
            run = await _run_now(rt, args.name)
    if args.json:
        print(json.dumps(run.as_json() | {"schedule": args.name}, ensure_ascii=False))
    else:
        print(f"{args.name}: {run_summary(run)}")
    return 0 if run.status == "done" else 1
