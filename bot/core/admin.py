"""Admin commands (``/kura …`` in Slack, the same from any adapter): allowed to the admin role by
policy, every one audited. Adapters translate mentions to plain references before calling this."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from bot.audit.store import AuditEntry, AuditStore
from bot.core.messages import refusal_message
from bot.core.ports import Directory, PolicySource
from bot.errors import Language
from knowledge import Ingestor, KnowledgeStore
from policies import Request, decide, explain

__all__ = ["HELP", "AdminCommand", "AdminReply", "AdminService"]

HELP = """*Kura admin commands* (`/kura …`, admins only; replies are visible to you alone)
• `help` — this list
• `status` — model, database, index size, requests in progress
• `sources` — knowledge sources with document counts and last sync
• `sync [PATH]` — re-ingest one source (or all known sources)
• `policy explain @user [#channel]` — a decision for that user, and every rule that fired
• `audit verify` — check the audit hash chain
• `audit recent [@user]` — the last 10 audit records (needs the `audit_export` action)"""


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
        ingestor: Ingestor,
        *,
        model_name: str,
        sync_roots: Sequence[Path] = (),
        in_flight: dict[str, int] | None = None,
    ) -> None:
        self._directory = directory
        self._policy = policy
        self._audit = audit
        self._store = store
        self._ingestor = ingestor
        self._model = model_name
        self._sync_roots = [p.resolve() for p in sync_roots]
        self._in_flight = in_flight if in_flight is not None else {}

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
                text = await self._run(command.args)
            except SQLAlchemyError:
                text = "The database is unavailable; nothing was changed."
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

    async def _run(self, args: tuple[str, ...]) -> str:
        verb = args[0].lower() if args else "help"
        rest = args[1:]
        if verb == "status":
            return await self._status()
        if verb == "sources":
            return await self._sources()
        if verb == "sync":
            return await self._sync(rest)
        if verb == "policy" and rest[:1] == ("explain",) and len(rest) >= 2:
            return await self._explain(rest[1], rest[2] if len(rest) > 2 else None)
        if verb == "audit" and rest[:1] == ("verify",):
            result = await self._audit.verify()
            if result.ok:
                gone = result.pruned_through
                pruned = f" (records up to {gone} removed by retention, behind a signed anchor)" if gone else ""
                return f"✅ audit chain intact: {result.records} records{pruned}"
            return f"❌ audit chain broken at record {result.first_bad}: {result.problem}"
        if verb == "audit" and rest[:1] == ("recent",):
            return await self._recent(rest[1] if len(rest) > 1 else None)
        return HELP

    async def _status(self) -> str:
        stats = await self._store.stats()
        busy = sum(self._in_flight.values())
        return (
            f"*Kura status*\n• model: `{self._model}`\n• database: ok\n"
            f"• index: {stats.documents} documents, {stats.chunks} chunks (`{self._store.model}`)\n"
            f"• requests in progress: {busy}"
        )

    async def _sources(self) -> str:
        rows = await self._store.sources()
        if not rows:
            return "No knowledge sources yet. `kura ingest PATH` or `/kura sync PATH` adds one."
        lines = ["*Knowledge sources*"]
        for r in rows:
            when = r.last_ingested.strftime("%Y-%m-%d %H:%M UTC") if r.last_ingested else "never"
            lines.append(f"• `{r.root}` — {r.documents} documents, {r.chunks} chunks, last sync {when}")
        return "\n".join(lines)

    async def _sync(self, rest: tuple[str, ...]) -> str:
        known = [Path(r.root) for r in await self._store.sources()]
        if rest:
            target = await asyncio.to_thread(Path(rest[0]).resolve)
            allowed = known + self._sync_roots
            if not any(target == a or a in target.parents for a in allowed):
                return f"`{target}` is not a known source or under a configured sync root; nothing was ingested."
            targets = [target]
        else:
            targets = known
        lines = []
        for target in targets:
            try:
                report = await self._ingestor.ingest(target)
            except FileNotFoundError:
                lines.append(f"• `{target}`: no such folder")
                continue
            counts = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in report.counts().items() if v) or "nothing"
            lines.append(f"• `{target}`: {counts} ({report.seconds:.1f}s)")
            lines.extend(f"   refused `{path}`: {reason}" for path, reason in report.refused[:10])
        return "\n".join(["*Sync*", *lines]) if lines else "No sources to sync."

    async def _explain(self, user_ref: str, channel_id: str | None) -> str:
        user = await self._directory.user(user_ref)
        members = await self._directory.channel_members(channel_id) if channel_id else None
        decision = decide(self._policy.current(), Request("ask", user.member() if user else None, channel_id, members))
        who = user.email if user else f"{user_ref} (not in the directory)"
        return f"*Policy for {who}*{' in ' + channel_id if channel_id else ''}\n```{explain(decision)}```"

    async def _recent(self, user_ref: str | None) -> str:
        email = None
        if user_ref is not None:
            user = await self._directory.user(user_ref)
            if user is None:
                return f"{user_ref} is not in the directory."
            email = user.email
        records = await self._audit.recent(10, email)
        if not records:
            return "No audit records."
        lines = ["*Recent audit records*"]
        for r in records:
            lines.append(
                f"• {r.created_at:%Y-%m-%d %H:%M} {r.platform} {r.user_email or r.user_ref} {r.action} "
                f"{'allowed' if r.allowed else 'denied:' + r.reason_code} {r.status} `{r.id[:8]}`"
            )
        return "\n".join(lines)
