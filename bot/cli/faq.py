"""``kura faq …``: refresh (sync, mine, draft, mark stale, ask reviewers), list, approve, reject,
edit, add, gaps and export.

Exit codes: 0 done, 2 bad input (no such entry or document, an empty answer), 3 refused (not a
reviewer of the entry, or may not read what it cites), 4 a part is unavailable.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
from pathlib import Path

from bot.cli.chat import safe_json
from bot.cli.platforms import attached
from bot.core.faq_words import faq_text
from bot.errors import InputError, Language
from bot.faq.render import Gap, export_html, export_markdown, gaps_digest
from bot.faq.review import ReviewResult
from bot.jobs.targets import parse_target
from bot.settings import KuraSettings
from bot.wiring import Runtime, open_runtime
from knowledge.faq_store import FaqView
from policies import Request, decide

__all__ = [
    "entry_json",
    "faq_add",
    "faq_approve",
    "faq_edit",
    "faq_export",
    "faq_gaps",
    "faq_list",
    "faq_refresh",
    "faq_reject",
]

#: Outcomes that are the caller's mistake rather than a refusal.
_BAD_INPUT = {"no_entry", "empty_answer", "unknown_source", "source_gone"}


def entry_json(entry: FaqView) -> dict[str, object]:
    """An entry as ``kura faq list --json`` prints it (never who asked: ``asked`` is a count)."""
    return {
        "id": entry.id,
        "question": entry.question,
        "answer": entry.answer,
        "sources": [{"source": s.path, "title": s.title} for s in entry.sources],
        "status": entry.status,
        "owner": entry.owner,
        "asked": entry.asked,
        "verified_at": entry.verified_at.isoformat() if entry.verified_at else None,
        "verified_by": entry.verified_by,
        "stale_reason": entry.stale_reason,
        "language": entry.language,
        "origin": entry.origin,
    }


def _entry_id(text: str) -> int:
    digits = text.strip().removeprefix("#").removeprefix("faq-")
    if not digits.isdigit():
        raise InputError(f"not an FAQ entry id: {text!r} (a number, as `kura faq list` shows)")
    return int(digits)


async def _language_of(rt: Runtime, email: str) -> Language:
    user = await rt.directory.user(email)
    return user.locale if user else "en"


def _finish(result: ReviewResult, as_json: bool, entry_id: int | None) -> int:
    if as_json:
        print(safe_json({"id": entry_id, "outcome": result.outcome, "done": result.done, "message": result.line}))
    else:
        print(result.line)
    if result.done:
        return 0
    return 2 if result.outcome in _BAD_INPUT else 3


async def _review(settings: KuraSettings, args: argparse.Namespace, verdict: str, answer: str | None = None) -> int:
    entry_id = _entry_id(args.id)
    async with open_runtime(settings) as rt:
        language = await _language_of(rt, args.user)
        result = await rt.faq_reviews.review_result(
            args.user, entry_id, verdict, answer=answer, platform="cli", language=language
        )
    return _finish(result, args.json, entry_id)


async def faq_approve(settings: KuraSettings, args: argparse.Namespace) -> int:
    """``kura faq approve ID --as EMAIL``."""
    return await _review(settings, args, "approve")


async def faq_reject(settings: KuraSettings, args: argparse.Namespace) -> int:
    """``kura faq reject ID --as EMAIL``."""
    return await _review(settings, args, "reject")


async def faq_edit(settings: KuraSettings, args: argparse.Namespace) -> int:
    """``kura faq edit ID --answer TEXT --as EMAIL``: the new answer, approved by its editor."""
    return await _review(settings, args, "edit", args.answer)


async def faq_add(settings: KuraSettings, args: argparse.Namespace) -> int:
    """``kura faq add --question Q --answer A --source PATH… --as EMAIL``."""
    async with open_runtime(settings) as rt:
        language = await _language_of(rt, args.user)
        result, entry_id = await rt.faq_reviews.write(
            args.user, args.question, args.answer, args.source, platform="cli", language=language
        )
    return _finish(result, args.json, entry_id)


async def _visible_to(rt: Runtime, email: str, entries: list[FaqView], *, unchanged: bool) -> list[FaqView]:
    """The entries ``email`` may read (every cited document); none when they are unknown or may not ask."""
    user = await rt.directory.user(email)
    scope = decide(rt.policy.current(), Request("ask", user.member())).scope if user else None
    if scope is None:
        return []
    ids = await rt.faq_store.readable(
        [e.id for e in entries], scope.principal_sets, int(scope.clearance), unchanged=unchanged
    )
    return [e for e in entries if e.id in ids]


async def faq_list(settings: KuraSettings, args: argparse.Namespace) -> int:
    """``kura faq list [--status S] [--as EMAIL] [--json]``."""
    async with open_runtime(settings) as rt:
        entries = await rt.faq_store.entries(args.status)
        if args.user:
            entries = await _visible_to(rt, args.user, entries, unchanged=False)
    if args.json:
        print(safe_json([entry_json(e) for e in entries]))
        return 0
    if not entries:
        print("no FAQ entries" + (f" with status {args.status}" if args.status else ""))
    for e in entries:
        when = f" verified {e.verified_at:%Y-%m-%d} by {e.verified_by}" if e.verified_at else ""
        print(f"#{e.id} [{e.status}] asked by {e.asked}{when} owner {e.owner or '-'}")
        print(f"  Q: {e.question}")
        print(f"  A: {e.answer[:300]}")
        print(f"  sources: {', '.join(s.path for s in e.sources) or '-'}")
        if e.stale_reason:
            print(f"  stale: {e.stale_reason}")
    return 0


async def faq_refresh(settings: KuraSettings, args: argparse.Namespace) -> int:
    """``kura faq refresh [--no-sync] [--no-notify] [--json]``."""
    async with open_runtime(settings, with_model=True) as rt:
        synced: list[dict[str, object]] = []
        if not args.no_sync:
            # Staleness is refresh's own step (4), reported there.
            synced = [result.as_json() for result in await rt.sources.sync(None, mark_stale=False)]
        async with attached(rt, settings, set() if args.no_notify else {"slack", "teams"}):
            report = await rt.faq.refresh(notify=not args.no_notify, actor="cli:faq-refresh")
        report.synced = synced
    if args.json:
        print(safe_json(report.as_json()))
        return 0
    mined = report.mined
    print(f"synced {len(synced)} source(s)")
    print(
        f"mined {mined.get('questions')} questions ({mined.get('embedded')} embedded now): "
        f"{mined.get('frequent')} asked by enough people"
    )
    for d in report.drafted:
        print(f"  drafted #{d['id']}: {d['question']} (asked by {d['askers']})")
    for k in report.known:
        print(f"  known #{k['id']} [{k['status']}] asked by {k['askers']}")
    for n in report.not_drafted:
        print(f"  not drafted (asked by {n['askers']}): {n['reason']}")
    for s in report.stale:
        print(f"  back to review #{s['id']}: {s['reason']}")
    print(f"{len(report.gaps)} content gap(s) (kura faq gaps)")
    for r in report.notified:
        where = f"on {r['to']}" if r.get("posted") else f"not asked: {r['reason']}"
        print(f"  review request #{r['id']} to {r['reviewer']}: {where}")
    return 0


def _gap_json(gap: Gap) -> dict[str, object]:
    return {
        "question": gap.question,
        "askers": gap.askers,
        "no_sources": gap.no_sources,
        "thumbs_down": gap.thumbs_down,
    }


async def faq_gaps(settings: KuraSettings, args: argparse.Namespace) -> int:
    """``kura faq gaps [--post-to TARGET --as EMAIL] [--json]``."""
    if args.post_to and not args.user:
        raise InputError("--post-to needs --as EMAIL: the digest is posted with that person's rights")
    target = parse_target(args.post_to) if args.post_to else None
    async with open_runtime(settings) as rt:
        gaps = await rt.faq.gaps()
        language = await _language_of(rt, args.user) if args.user else "en"
        digest = gaps_digest(gaps, language)
        delivery: dict[str, object] | None = None
        if target is not None:
            async with attached(rt, settings, {target.platform}):
                posted = await rt.outbox.post(
                    target.destination(),
                    digest,
                    owner=args.user,
                    actor="cli:faq-gaps",
                    action="admin",
                    language=language,
                )
            delivery = {"posted": posted.posted, "to": str(target), "reason": posted.reason_code}
    if args.json:
        print(safe_json({"gaps": [_gap_json(g) for g in gaps], "delivery": delivery}))
    else:
        print(digest)
        if delivery is not None:
            print(f"posted to {delivery['to']}" if delivery["posted"] else f"not posted: {delivery['reason']}")
    return 0 if delivery is None or delivery["posted"] else 3


def _write(path: Path, text: str) -> None:
    """Write the page whole or not at all."""
    folder = path.resolve().parent
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=folder, delete=False, suffix=".tmp") as out:
        out.write(text)
        temporary = Path(out.name)
    os.replace(temporary, path)


async def faq_export(settings: KuraSettings, args: argparse.Namespace) -> int:
    """``kura faq export --as EMAIL [--format md|html] [--output FILE]``: the approved entries that
    reader would be answered from, grouped by source."""
    async with open_runtime(settings) as rt:
        if await rt.directory.user(args.user) is None:
            raise InputError(f"{args.user} is not in the directory")
        language = await _language_of(rt, args.user)
        entries = await _visible_to(rt, args.user, await rt.faq_store.entries("approved"), unchanged=True)
    title = faq_text("page_title", language)
    page = export_html(entries, title, language) if args.format == "html" else export_markdown(entries, title)
    if args.output:
        await asyncio.to_thread(_write, Path(args.output), page)
        print(f"wrote {len(entries)} entries to {args.output}")
    else:
        print(page)
    return 0
