"""``kura sources add|list|sync|remove``: the registry of folders Kura keeps in sync, for the operator.

``--json`` shapes:

- add: ``{name, path, schedule: null | "sync-NAME", sync: <one source's result> | null, stale: [{id, reason}]}``
- list: ``[{name, path, documents, chunks, synced_at, last_report, schedule, allow, classification, added_by}]``
  (``schedule``: the cron line of a ``sync`` schedule of this source, else null)
- sync: ``{sources: [{name, path, counts, seconds, chunks_written, refused: [{path, reason}], withdrawn,
  removed, error}], stale: [{id, reason}]}`` (``stale``: the FAQ entries sent back to review after
  the sync, listed once for the whole run; ``counts`` and ``seconds`` are null for a source that failed)
- remove: ``{name, path, documents_removed}``

Add and remove each leave an operator audit record, as ``kura schedule …`` does. Exit codes: 0 done,
1 a source could not be synced (the others were), 2 bad input (unknown name, not a folder, a name or
folder registered already), 4 the database is unavailable.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape

from bot.cli.admin import print_ingest_report, terminal_progress
from bot.cli.audit import _record
from bot.cli.schedule import _runtime
from bot.errors import InputError
from bot.jobs.service import ScheduleService, make_spec
from bot.jobs.text import schedule_summary
from bot.settings import KuraSettings
from knowledge.access import LEVELS

if TYPE_CHECKING:
    from bot.jobs.store import Schedule
    from bot.sources import SourceSync, SyncRun
    from knowledge.sources_store import SourceRecord

__all__ = ["sources_add", "sources_list", "sources_remove", "sources_sync"]


def sync_schedule_of(source: SourceRecord, schedules: list[Schedule]) -> Schedule | None:
    """The first ``sync`` schedule of a source (by its name, or by its folder as older ones were)."""
    for schedule in schedules:
        params = schedule.params
        if schedule.kind == "sync" and (params.get("source") == source.name or params.get("path") == source.path):
            return schedule
    return None


def _source_json(source: SourceRecord, schedule: Schedule | None) -> dict[str, object]:
    return {
        "name": source.name,
        "path": source.path,
        "documents": source.documents,
        "chunks": source.chunks,
        "synced_at": source.synced_at.isoformat() if source.synced_at else None,
        "last_report": source.last_report,
        "schedule": schedule.cron if schedule else None,
        "allow": list(source.allow) if source.allow is not None else None,
        "classification": LEVELS[source.classification] if source.classification is not None else None,
        "added_by": source.added_by,
    }


def _print_sync(result: SourceSync, console: Console) -> None:
    if result.report is not None:
        console.print(f"[bold]{escape(result.name)}[/bold]: ", end="")
        print_ingest_report(result.report, console)
    else:
        console.print(f"[bold]{escape(result.name)}[/bold]: [red]not synced[/red]: {escape(result.error or '')}")


def _print_stale(run: SyncRun, console: Console) -> None:
    if run.stale:
        console.print(f"{len(run.stale)} FAQ entries sent back to review:")
    for entry, reason in run.stale:
        console.print(f"  #{entry}: {escape(reason)}")


async def sources_add(settings: KuraSettings, args: argparse.Namespace) -> int:
    """``kura sources add PATH [--name N] [--schedule CRON] [--allow P … --classification C]
    [--no-sync] [--as EMAIL]``: register a folder, schedule its sync, and sync it now."""
    owner = args.user.strip().lower() if args.user else None
    console = Console(highlight=False)
    async with _runtime(settings) as rt:
        if owner is not None and await rt.directory.user(owner) is None:
            raise InputError(f"--as {owner}: not in the directory")
        started = time.perf_counter()
        path = Path(args.path)
        name = await rt.sources.name_for(path, args.name)
        schedules = ScheduleService(rt)
        spec = None
        if args.schedule:
            spec = make_spec(
                "sync", f"sync-{name}", args.schedule, settings.scheduler.timezone, params={"source": name}, owner=owner
            )
            if await schedules.store.get(spec.name) is not None:
                raise InputError(f"a schedule named {spec.name!r} already exists")
        source = await rt.sources.add(
            path, name=name, allow=args.allow or (), classification=args.classification, by=owner
        )
        summary = f"added source {source.name}: {source.path}"
        if spec is not None:
            schedule = await schedules.store.add(spec)
            summary += f"; schedule {schedule.name}: {schedule_summary(schedule)}"
        await _record(rt, started, summary)
        run = None
        if not args.no_sync:
            run = await rt.sources.sync(source.name, progress=None if args.json else terminal_progress(console))
    if args.json:
        out = {
            "name": source.name,
            "path": source.path,
            "schedule": spec.name if spec else None,
            "sync": run.sources[0].as_json() if run else None,
            "stale": run.stale_json() if run else [],
        }
        print(json.dumps(out, ensure_ascii=False))
        return 0
    console.print(f"added source {escape(source.name)}: {escape(source.path)}")
    if spec is not None:
        console.print(f"scheduled {spec.name}: sync on {escape(spec.cron)} ({spec.timezone})")
    if run is not None:
        for result in run:
            _print_sync(result, console)
        _print_stale(run, console)
    return 0 if run is None or all(r.error is None for r in run) else 1


async def sources_list(settings: KuraSettings, args: argparse.Namespace) -> int:
    """``kura sources list [--json]``: every source with its documents, last sync and schedule."""
    async with _runtime(settings) as rt:
        sources = await rt.sources.list()
        schedules = [view.schedule for view in await ScheduleService(rt).store.overview()]
    rows = [(s, sync_schedule_of(s, schedules)) for s in sources]
    if args.json:
        print(json.dumps([_source_json(s, found) for s, found in rows], ensure_ascii=False))
        return 0
    if not rows:
        print("no sources (kura sources add PATH)")
    for source, schedule in rows:
        when = f"{source.synced_at:%Y-%m-%d %H:%M %Z}" if source.synced_at else "never"
        report = source.last_report or {}
        failed = f" (last attempt failed: {report['error']})" if "error" in report else ""
        cron = f"\tschedule: {schedule.cron} ({schedule.timezone})" if schedule else ""
        print(
            f"{source.name}\t{source.path}\t{source.documents} documents, {source.chunks} chunks"
            f"\tlast sync: {when}{failed}{cron}"
        )
    return 0


async def sources_sync(settings: KuraSettings, args: argparse.Namespace) -> int:
    """``kura sources sync [NAME] [--json]``: sync one source or all; 1 when one could not be synced."""
    console = Console(highlight=False)
    async with _runtime(settings) as rt:
        run = await rt.sources.sync(args.name, progress=None if args.json else terminal_progress(console))
    if args.json:
        print(json.dumps(run.as_json(), ensure_ascii=False))
    else:
        if not run.sources:
            console.print("no sources to sync (kura sources add PATH)")
        for result in run:
            _print_sync(result, console)
        _print_stale(run, console)
    return 0 if all(r.error is None for r in run) else 1


async def sources_remove(settings: KuraSettings, args: argparse.Namespace) -> int:
    """``kura sources remove NAME [--json]``: unregister a source; its documents stop being served."""
    async with _runtime(settings) as rt:
        started = time.perf_counter()
        removed = await rt.sources.remove(args.name)
        source = removed.source
        store = ScheduleService(rt).store
        gone: list[str] = []
        # Its sync schedules would only fail from now on.
        while (schedule := sync_schedule_of(source, [v.schedule for v in await store.overview()])) is not None:
            await store.remove(schedule.name)
            gone.append(schedule.name)
        what = f"removed source {source.name}: {source.path} ({removed.documents} documents)"
        await _record(rt, started, what + (f", schedules {', '.join(gone)}" if gone else ""))
    if args.json:
        out = {
            "name": source.name,
            "path": source.path,
            "documents_removed": removed.documents,
            "schedules_removed": gone,
        }
        print(json.dumps(out, ensure_ascii=False))
    else:
        print(f"removed source {source.name} ({source.path}): {removed.documents} documents no longer served")
    return 0
