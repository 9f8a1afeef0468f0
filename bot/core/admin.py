"""Admin commands (``/kura …`` in Slack, the same from any adapter): allowed to the admin role by
policy, every one audited. Adapters translate mentions to plain references before calling this."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.exc import SQLAlchemyError

from bot.audit.store import AuditEntry, AuditStore
from bot.core.messages import admin_text, refusal_message
from bot.core.ports import Directory, PolicySource
from bot.errors import InputError, Language
from bot.jobs.service import make_spec
from bot.jobs.text import run_summary, schedule_summary
from knowledge import KnowledgeStore
from policies import ChannelKind, Request, decide, explain

if TYPE_CHECKING:
    from bot.eval.admin import EvalAdmin
    from bot.faq.admin import FaqAdmin
    from bot.jobs.service import ScheduleService
    from bot.sources import SourceService, SyncRun
    from knowledge import IngestReport
    from knowledge.sources_store import SourceRecord

__all__ = ["AdminCommand", "AdminReply", "AdminService"]


@dataclass(frozen=True)
class AdminCommand:
    """A command with mentions already reduced to references (user ids, channel ids, emails)."""

    platform: str
    user: str
    args: tuple[str, ...]
    channel_id: str | None = None
    language: Language = "en"


@dataclass(frozen=True)
class AdminReply:
    """What to show the admin (privately)."""

    allowed: bool
    text: str
    audit_id: str | None


def _action_of(args: tuple[str, ...]) -> str:
    """The policy action a command needs: reading audit records (who asked what) is ``audit_export``,
    so it can be given to auditors apart from the people who run Kura; the rest is ``admin``."""
    words = tuple(a.lower() for a in args[:2])
    return "audit_export" if words == ("audit", "recent") else "admin"


class AdminService:
    """Runs admin commands against the same parts the pipeline uses."""

    def __init__(
        self,
        directory: Directory,
        policy: PolicySource,
        audit: AuditStore,
        store: KnowledgeStore,
        sources: SourceService,
        *,
        model_name: str,
        sync_roots: Sequence[Path] = (),
        in_flight: dict[str, int] | None = None,
        schedules: ScheduleService | None = None,
        faq: FaqAdmin | None = None,
        evaluation: EvalAdmin | None = None,
    ) -> None:
        self._directory = directory
        self._faq = faq
        self._eval = evaluation
        self._policy = policy
        self._audit = audit
        self._store = store
        self._registry = sources
        self._model = model_name
        self._sync_roots = [p.resolve() for p in sync_roots]
        self._in_flight = in_flight if in_flight is not None else {}
        self._schedules = schedules

    async def handle(self, command: AdminCommand) -> AdminReply:
        """Decide, run, audit."""
        started = time.perf_counter()
        policy = self._policy.current()
        user = await self._directory.user(command.user)
        action = _action_of(command.args)
        decision = decide(policy, Request(action, user.member() if user else None))
        if not decision.allowed:
            text = refusal_message(decision.reason_code, command.language)
        else:
            try:
                text = await self._run(command.args, command, user.email if user else None)
            except SQLAlchemyError:
                text = admin_text("database_down", command.language)
        entry = AuditEntry(
            platform=command.platform,
            user_ref=command.user,
            user_email=user.email if user else None,
            action=action,
            allowed=decision.allowed,
            reason_code=decision.reason_code,
            status="answered" if decision.allowed else "refused",
            question="/kura " + " ".join(command.args),
            answer=text,
            latency_ms=int((time.perf_counter() - started) * 1000),
            channel_id=command.channel_id,
            rules=decision.rules,
            policy_version=policy.version,
        )
        try:
            audit_id: str | None = await self._audit.append(entry)
        except SQLAlchemyError:
            audit_id = None
        return AdminReply(decision.allowed, text, audit_id)

    async def _run(self, args: tuple[str, ...], command: AdminCommand, email: str | None) -> str:
        verb = args[0].lower() if args else "help"
        rest = args[1:]
        lang = command.language
        if verb == "schedule":
            return await self._schedule(rest, command, email)
        if verb == "status":
            return await self._status(lang)
        if verb == "sources":
            return await self._sources(lang)
        if verb == "sync":
            return await self._sync(rest, lang, email)
        if verb == "faq" and self._faq is not None:
            return await self._faq.run(rest, email, command.platform, lang)
        if verb == "eval" and self._eval is not None:
            return await self._eval.run(
                rest, email=email, platform=command.platform, user_ref=command.user, language=lang
            )
        if verb == "policy" and rest[:1] == ("explain",) and len(rest) >= 2:
            return await self._explain(rest[1], rest[2] if len(rest) > 2 else None, lang)
        if verb == "audit" and rest[:1] == ("verify",):
            result = await self._audit.verify()
            if result.ok:
                gone = result.pruned_through
                pruned = admin_text("chain_pruned", lang, seq=gone) if gone else ""
                return admin_text("chain_intact", lang, records=result.records) + pruned
            return admin_text("chain_broken", lang, seq=result.first_bad, problem=result.problem)
        if verb == "audit" and rest[:1] == ("recent",):
            return await self._recent(rest[1] if len(rest) > 1 else None, lang)
        return admin_text("help", lang)

    async def _status(self, lang: Language) -> str:
        stats = await self._store.stats()
        busy = sum(self._in_flight.values())
        text = admin_text(
            "status",
            lang,
            model=self._model,
            documents=stats.documents,
            chunks=stats.chunks,
            embedding=self._store.model,
            busy=busy,
        )
        return text + await self._schedule_lines(brief=True, lang=lang)

    async def _sources(self, lang: Language) -> str:
        rows = await self._registry.list()
        if not rows:
            return admin_text("no_sources", lang)
        lines = [admin_text("sources_title", lang)]
        for r in rows:
            when = r.synced_at.strftime("%Y-%m-%d %H:%M %Z") if r.synced_at else admin_text("never", lang)
            if r.last_report and "error" in r.last_report:
                when += admin_text("last_sync_failed", lang)
            lines.append(
                admin_text(
                    "source_line", lang, name=r.name, path=r.path, documents=r.documents, chunks=r.chunks, when=when
                )
            )
        return "\n".join(lines)

    async def _sync(self, rest: tuple[str, ...], lang: Language, email: str | None) -> str:
        """``sync`` (every source), ``sync NAME`` or ``sync PATH`` (a registered folder, or one under a
        configured sync root, registered first); counts per source, never file names but refused ones
        (admins only), and how many FAQ entries went back to review."""
        if rest:
            source = await self._source_for(rest[0], email)
            if isinstance(source, str):
                return admin_text(source, lang, path=rest[0])
            run = await self._registry.sync(source.name)
        else:
            run = await self._registry.sync()
        if not run.sources:
            return admin_text("nothing_to_sync", lang)
        return _sync_text(run, lang)

    async def _source_for(self, word: str, email: str | None) -> SourceRecord | str:
        """The source a ``/kura sync`` argument names, or the catalogue key saying why there is none."""
        found = await self._registry.store.get(word)
        if found is not None:
            return found
        target = await asyncio.to_thread(Path(word).resolve)
        found = await self._registry.store.by_path(str(target))
        if found is not None:
            return found
        if not await self._may_sync(target):
            return "not_a_sync_root"
        if not await asyncio.to_thread(target.is_dir):
            return "no_such_folder"
        return await self._registry.ensure(target, by=email)

    async def _may_sync(self, target: Path) -> bool:
        """Admins in chat may sync known sources and folders under them or the configured sync roots only."""
        known = [Path(r.path) for r in await self._registry.list()]
        return any(target == a or a in target.parents for a in [*known, *self._sync_roots])

    async def _schedule(self, rest: tuple[str, ...], command: AdminCommand, email: str | None) -> str:
        lang = command.language
        if self._schedules is None:
            return admin_text("schedules_unavailable", lang)
        verb = rest[0].lower() if rest else "list"
        try:
            if verb == "list":
                return (await self._schedule_lines(brief=False, lang=lang)).lstrip("\n") or admin_text(
                    "no_schedules", lang
                )
            if verb == "add" and len(rest) >= 3:
                return await self._schedule_add(self._schedules, rest[1:], email, lang)
            if verb == "remove" and len(rest) == 2:
                removed = await self._schedules.store.remove(rest[1])
                if removed is None:
                    return admin_text("no_such_schedule", lang, name=rest[1])
                return admin_text("schedule_removed", lang, name=removed.name)
            if verb == "run-now" and len(rest) == 2:
                line = "/kura " + " ".join(command.args)
                run = await self._schedules.run_now(
                    rest[1], actor=command.user, command=line, platform=command.platform
                )
                return f"`{rest[1]}`: {run_summary(run)}"
        except InputError as exc:
            return admin_text("nothing_changed", lang, reason=exc)
        return admin_text("help", lang)

    async def _schedule_add(
        self, schedules: ScheduleService, words: tuple[str, ...], email: str | None, lang: Language
    ) -> str:
        """``KIND NAME CRON… [timezone=…] [target=…] [key=value …] [disabled]``: the cron fields are the
        words before the first ``key=value`` (chat text has no quoting)."""
        kind, name, *more = words
        cron = list(itertools.takewhile(lambda w: "=" not in w and w.lower() != "disabled", more))
        options = more[len(cron) :]
        params: dict[str, str] = {}
        enabled = True
        for word in options:
            key, sep, value = word.partition("=")
            if not sep and key.lower() == "disabled":
                enabled = False
            elif not sep or not key:
                raise InputError(f"expected key=value after the cron line, not {word!r}")
            else:
                params[key] = value
        timezone = params.pop("timezone", None) or params.pop("tz", None) or schedules.default_timezone
        target = params.pop("target", None)
        spec = make_spec(
            kind,
            name,
            " ".join(cron),
            timezone,
            params=params,
            target=target,
            owner=email,
            enabled=enabled,
            settings=schedules.settings,
        )
        if spec.kind == "sync":
            await self._check_sync(spec.params)
        added = await schedules.store.add(spec)
        return admin_text("schedule_added", lang, name=added.name, summary=schedule_summary(added))

    async def _check_sync(self, params: Mapping[str, str]) -> None:
        """A sync scheduled in chat names a registered source, or a folder an admin may sync."""
        if "source" in params:
            await self._registry.get(params["source"])
        elif not await self._may_sync(await asyncio.to_thread(Path(params["path"]).resolve)):
            raise InputError(f"`{params['path']}` is not a known source or under a configured sync root")

    async def _schedule_lines(self, *, brief: bool, lang: Language) -> str:
        """Schedules with their last run and last failure (``brief``: one line each, for status)."""
        if self._schedules is None:
            return ""
        views = await self._schedules.store.overview()
        if not views:
            return admin_text("schedules_none", lang) if brief else ""
        lines = ["", admin_text("schedules_title", lang)]
        said_last = admin_text("last", lang)
        for view in views:
            s = view.schedule
            last = run_summary(view.last_run) if view.last_run else admin_text("never_run", lang)
            line = f"• `{s.name}` — {last}" if brief else f"• `{s.name}` — {schedule_summary(s)}; {said_last}: {last}"
            lines.append(line)
            failure = view.last_failure
            if failure is not None and failure != view.last_run:
                lines.append(admin_text("last_failure", lang, run=run_summary(failure)))
        return "\n".join(lines)

    async def _explain(self, user_ref: str, channel_id: str | None, lang: Language) -> str:
        user = await self._directory.user(user_ref)
        kind = await self._directory.channel_kind(channel_id) if channel_id else None
        members = await self._directory.channel_members(channel_id) if channel_id and kind else None
        asker = user.member() if user else None
        request = Request("ask", asker, channel_id, members, channel_kind=kind or ChannelKind())
        decision = decide(self._policy.current(), request)
        who = user.email if user else f"{user_ref} (not in the directory)"
        where = admin_text("in_channel", lang, channel=channel_id) if channel_id else ""
        return admin_text("policy_for", lang, who=who, where=where) + f"\n```{explain(decision)}```"

    async def _recent(self, user_ref: str | None, lang: Language) -> str:
        email = None
        if user_ref is not None:
            user = await self._directory.user(user_ref)
            if user is None:
                return admin_text("not_in_directory", lang, user=user_ref)
            email = user.email
        records = await self._audit.recent(10, email)
        if not records:
            return admin_text("no_audit_records", lang)
        lines = [admin_text("recent_title", lang)]
        for r in records:
            lines.append(
                f"• {r.created_at:%Y-%m-%d %H:%M} {r.platform} {r.user_email or r.user_ref} {r.action} "
                f"{'allowed' if r.allowed else 'denied:' + r.reason_code} {r.status} `{r.id[:8]}`"
            )
        return "\n".join(lines)


def _counts(report: IngestReport, lang: Language) -> str:
    """Files per outcome, in the admin's language."""
    counts = [admin_text(f"outcome_{k}", lang, n=v) for k, v in report.counts().items() if v]
    return ", ".join(counts) or admin_text("sync_nothing", lang)


def _sync_text(run: SyncRun, lang: Language) -> str:
    """A sync's reply: one line per source (refused files named: admins may see every path)."""
    lines = [admin_text("sync_title", lang)]
    for result in run:
        if result.report is None:
            lines.append(admin_text("sync_failed", lang, name=result.name, path=result.path))
            continue
        report = result.report
        counts = _counts(report, lang)
        lines.append(admin_text("sync_line", lang, name=result.name, counts=counts, seconds=report.seconds))
        lines.extend(admin_text("sync_refused", lang, path=p, reason=why) for p, why in report.refused[:10])
    lines.append(admin_text("sync_stale", lang, count=len(run.stale)))
    return "\n".join(lines)
