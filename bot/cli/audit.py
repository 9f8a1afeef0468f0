"""``kura audit …``: verify, export, checkpoint, retention (purge), legal holds, key rotation.

The command line is the operator's: whoever runs it holds the database and the keys, so no policy
decision is taken here. Every command that changes or hands out audit data (export, checkpoint,
purge, hold add/release, rotate-key) leaves an audit record of its own: platform ``cli``, user
``cli:<OS user>``, the command line as the question and its outcome as the answer.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import os
import sys
import time
from contextlib import aclosing
from dataclasses import asdict
from datetime import datetime
from pathlib import Path

from bot.audit import checkpoint, export, keyring, retention
from bot.audit.models import LegalHold
from bot.audit.store import operator_entry
from bot.errors import ConfigurationError, InputError
from bot.jobs.retention import run_retention
from bot.settings import KuraSettings
from bot.wiring import Runtime, open_runtime

__all__ = [
    "audit_checkpoint",
    "audit_export",
    "audit_hold_add",
    "audit_hold_list",
    "audit_hold_release",
    "audit_purge",
    "audit_rotate_key",
    "audit_verify",
]


def _operator() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (OSError, KeyError):
        return f"cli:uid-{os.getuid()}"


def _command_line() -> str:
    return " ".join(["kura", *sys.argv[1:]])


async def _record(rt: Runtime, started: float, summary: str, *, action: str = "admin") -> str:
    """The operator's own audit record for this command."""
    took = int((time.perf_counter() - started) * 1000)
    version = rt.policy.current().version
    entry = operator_entry("cli", _operator(), _command_line(), summary, took, action=action, policy_version=version)
    return await rt.audit.append(entry)


async def audit_verify(settings: KuraSettings, args: argparse.Namespace) -> int:
    """``kura audit verify [--expect-head LINE | --expect-head-file FILE]``: 0 when the chain holds
    (and still holds the checkpoint: its record has its hash, so nothing up to it was rewritten and
    the tail was not cut below it), 1 naming the first bad record or the checkpoint's problem."""
    expected = await _expected_head(args.expect_head, args.expect_head_file)
    key = _verifying_key(settings) if expected is not None else None
    async with open_runtime(settings) as rt:
        result = await rt.audit.verify()
        problem = ""
        if expected is not None and key is not None:
            problem = await checkpoint.head_problem(rt.audit, expected, key)
    ok = result.ok and not problem
    named = f"checkpoint seq={expected.seq}" if expected is not None else ""
    if args.json:
        body: dict[str, object] = asdict(result) | {"ok": ok}
        if expected is not None:
            body["checkpoint"] = {"ok": not problem, "seq": expected.seq, "hash": expected.hash, "problem": problem}
            if result.ok and problem:
                body["problem"] = f"{named}: {problem}"
        print(json.dumps(body))
    elif not result.ok:
        print(f"FAILED at record {result.first_bad}: {result.problem}")
    elif problem:
        print(f"FAILED: {named}: {problem}")
    else:
        after = f" (records up to {result.pruned_through} removed for retention, anchor signed)"
        holds = f"; {named} holds" if named else ""
        print(f"ok: {result.records} audit records, chain intact{after if result.pruned_through else ''}{holds}")
    return 0 if ok else 1


async def _expected_head(line: str | None, file: str | None) -> checkpoint.Checkpoint | None:
    """The checkpoint ``--expect-head`` gives, or the newest line of ``--expect-head-file`` (a
    ``file:`` checkpoint sink); None without either."""
    if file is not None:
        path = Path(file)
        try:
            text = await asyncio.to_thread(path.read_text, "utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"{path}: cannot read: {exc}") from exc
        return checkpoint.parse(checkpoint.last_line(text, str(path)))
    return checkpoint.parse(line) if line is not None else None


def _verifying_key(settings: KuraSettings) -> bytes:
    """The checkpoint key, which must exist to check a checkpoint."""
    key = keyring.existing_checkpoint_key(settings)
    if key is None:
        raise ConfigurationError(
            f"{keyring.checkpoint_key_file(settings)}: no checkpoint key (KURA_AUDIT_CHECKPOINT_KEY_FILE), "
            "so no checkpoint can be checked"
        )
    return key


async def audit_export(settings: KuraSettings, args: argparse.Namespace) -> int:
    """``kura audit export``: records oldest first as JSONL or CSV, to stdout or ``--output FILE``."""
    since = export.parse_when(args.since, "--since") if args.since else None
    until = export.parse_when(args.until, "--until") if args.until else None
    if since is not None and until is not None and since >= until:
        raise InputError("--since must be before --until")
    fields = export.FIELDS + export.TEXT_FIELDS if args.include_text else export.FIELDS
    output = Path(args.output) if args.output else None
    problems = export.TextProblems()
    try:
        with export.open_output(output) as out:
            async with open_runtime(settings) as rt:
                rows = export.export_rows(
                    rt.audit,
                    since=since,
                    until=until,
                    include_text=args.include_text,
                    redact_text=args.redact or settings.audit_export_redact,
                    problems=problems,
                )
                started = time.perf_counter()
                async with aclosing(rows):
                    if args.format == "csv":
                        count = await export.write_csv(rows, out, fields)
                    else:
                        count = await export.write_jsonl(rows, out)
                text = "with text" if args.include_text else "without text"
                where = f"to {output}" if output else "to standard output"
                bad = f"; text of {problems.count} records failed its check" if problems.count else ""
                await _record(
                    rt, started, f"exported {count} records ({args.format}, {text}) {where}{bad}", action="audit_export"
                )
    except BrokenPipeError:
        # The reader went away (``kura audit export | head``): stop quietly, without a traceback
        # now or another one when Python flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    if output is not None:
        print(f"exported {count} audit records to {output}")
    return _report_text_problems(problems)


def _report_text_problems(problems: export.TextProblems) -> int:
    """0 when every exported text matched its hash; else warnings on stderr (the rows carry
    ``text_check``) and 1."""
    if not problems.count:
        return 0
    for seq, reason in problems.first:
        print(f"warning: audit record {seq}: {reason}", file=sys.stderr)
    if problems.count > len(problems.first):
        print(f"warning: … and {problems.count - len(problems.first)} more", file=sys.stderr)
    print(
        f"FAILED: the text of {problems.count} exported records does not match what the chain recorded "
        "(see text_check)",
        file=sys.stderr,
    )
    return 1


async def audit_checkpoint(settings: KuraSettings, args: argparse.Namespace) -> int:
    """``kura audit checkpoint``: sign the chain head (after verifying the chain) for the operator to
    keep; with ``--verify LINE`` or ``--verify-file FILE``, re-check one: 0 when it holds, 1 if not."""
    if args.verify is not None or args.verify_file is not None:
        return await _checkpoint_verify(settings, args)
    key = keyring.checkpoint_key(settings)
    started = time.perf_counter()
    async with open_runtime(settings) as rt:
        head = await checkpoint.read_head(rt.audit)
        result = await rt.audit.verify()
        if not result.ok:
            print(f"FAILED at record {result.first_bad}: {result.problem}; no checkpoint signed")
            return 1
        signed = checkpoint.sign(head, key)
        # Recorded after signing: the checkpoint names the head before its own record.
        await _record(rt, started, f"signed checkpoint seq={signed.seq} hash={signed.hash} at={signed.at}")
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
    key = _verifying_key(settings)
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
    """``kura audit purge [--older-than DAYS] [--records-older-than DAYS] [--dry-run]``: apply the
    retention the policy sets per data class (or the settings): remove question and answer text past
    its period and whole records past theirs, except under legal hold. The chain still verifies."""
    for flag, value in (("--older-than", args.older_than), ("--records-older-than", args.records_older_than)):
        if value is not None and value < 1:
            raise InputError(f"{flag} must be at least 1 day")
    async with open_runtime(settings) as rt:
        report = await run_retention(
            rt,
            platform="cli",
            actor=_operator(),
            command=_command_line(),
            text_days=args.older_than,
            records_days=args.records_older_than,
            dry_run=args.dry_run,
        )
    if args.json:
        print(json.dumps(_report_json(report)))
    else:
        print("\n".join(retention.describe(report)))
    return 0


def _report_json(report: retention.RetentionReport) -> dict[str, object]:
    def when(moment: datetime | None) -> str | None:
        return moment.isoformat() if moment else None

    text, records = report.text, report.records
    body: dict[str, object] = asdict(text) | {
        "cutoff": when(text.cutoff),
        "question_cutoff": when(text.question_cutoff),
        "answer_cutoff": when(text.answer_cutoff),
        "minutes_cutoff": when(text.minutes_cutoff),
    }
    body["records"] = asdict(records) | {"cutoff": when(records.cutoff)} if records else None
    body["plan"] = asdict(report.plan) | {"minutes_text_days": report.plan.minutes_days}
    body["handled_events"] = report.handled_events
    return body


async def audit_rotate_key(settings: KuraSettings, args: argparse.Namespace) -> int:
    """``kura audit rotate-key``: retire the current audit text key into the old-keys folder and
    create a new one. Old records still decrypt; running ``kura`` processes pick up the new key on
    restart (until then they keep encrypting with the retired one, which stays readable)."""
    started = time.perf_counter()
    # The database first: if it is down, nothing is rotated (and nothing goes unrecorded).
    async with open_runtime(settings) as rt:
        done = keyring.rotate_key(keyring.current_key_file(settings), keyring.old_keys_dir(settings))
        await _record(rt, started, f"retired audit key {done.old_key_id}; new key {done.new_key_id}")
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
        "created_by": hold.created_by,
        "released_at": hold.released_at.isoformat() if hold.released_at else None,
        "released_by": hold.released_by,
        "release_reason": hold.release_reason,
    }


def _hold_line(hold: LegalHold) -> str:
    released = f" released {hold.released_at.isoformat()}" if hold.released_at else ""
    if hold.released_at and hold.released_by:
        released += f" by {hold.released_by}: {hold.release_reason}"
    return f"{hold.id}\t{hold.kind} {hold.value}\tsince {hold.created_at.isoformat()}{released}\t{hold.reason}"


def _hold_operator(rt: Runtime) -> retention.Operator:
    return retention.Operator("cli", _operator(), _command_line(), rt.policy.current().version)


async def audit_hold_add(settings: KuraSettings, args: argparse.Namespace) -> int:
    """``kura audit hold add --user EMAIL|--channel ID --reason TEXT``: as the owner, with its audit
    record in the same transaction."""
    kind: retention.HoldKind = "user" if args.user is not None else "channel"
    async with open_runtime(settings) as rt:
        owner, by = rt.database.owner_sessions(), _hold_operator(rt)
        hold = await retention.add_hold(owner, rt.audit, kind, args.user or args.channel, args.reason, by)
    print(
        json.dumps(_hold_json(hold), ensure_ascii=False) if args.json else f"legal hold {hold.id}: {_hold_line(hold)}"
    )
    return 0


async def audit_hold_release(settings: KuraSettings, args: argparse.Namespace) -> int:
    """``kura audit hold release ID --reason TEXT``: as the owner, with its audit record in the same
    transaction (Kura's own role may not release holds)."""
    async with open_runtime(settings) as rt:
        owner, by = rt.database.owner_sessions(), _hold_operator(rt)
        hold = await retention.release_hold(owner, rt.audit, args.id, args.reason, by)
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
