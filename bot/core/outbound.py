"""Messages nobody asked for in chat: a scheduled job posts to a channel, a thread or a person.

The same rules as for answers hold. Policy decides whether the job's owner may do the action
there (channel rules included); **the audience rule**: what is posted may draw only on documents
every reader of the destination may read (``policies.engine.audience``, as for answers: channel
members; for a public channel the whole workspace; for a shared one, another organisation; or the
one person of a DM); the text goes through the answer sanitiser; and every post leaves an audit
record before it leaves Kura.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import replace

from sqlalchemy.exc import SQLAlchemyError

from bot.audit.store import AuditEntry
from bot.core.conversation import PlatformParts, choose_language
from bot.core.messages import refusal_message
from bot.core.ports import AuditLog, PolicySource
from bot.core.sanitize import sanitize_answer
from bot.core.types import Citation, Destination, InboundMessage, PostResult, Reply, ReplyAction, SourceRef
from bot.errors import Language, UpstreamError
from policies import Decision, Policy, Request, decide
from policies.engine import Reader, audience, reader_of

__all__ = ["Outbox", "unreadable_by"]

_log = logging.getLogger(__name__)


def unreadable_by(readers: Sequence[Reader], sources: Iterable[SourceRef]) -> str | None:
    """Why some reader may not read some source (the audience rule), or None when all may."""
    listed = list(sources)
    for reader in readers:
        for source in listed:
            if not reader.may_read(source.acl, source.classification):
                return f"{source.source} is not readable by {reader.name}: audience rule, not posted"
    return None


class Outbox:
    """Posts on any attached platform on behalf of a job's owner."""

    def __init__(self, policy: PolicySource, audit: AuditLog, *, link_hosts: Iterable[str] = ()) -> None:
        self._policy = policy
        self._audit = audit
        self._hosts = tuple(link_hosts)
        self._platforms: dict[str, PlatformParts] = {}

    def attach(self, parts: PlatformParts) -> None:
        """Make a platform reachable (its adapter calls this when it starts)."""
        self._platforms[parts.platform] = parts

    @property
    def platforms(self) -> tuple[str, ...]:
        """The platforms posts can go to now."""
        return tuple(self._platforms)

    def parts(self, platform: str) -> PlatformParts | None:
        """The ports a platform lent the core, or None when it is not attached."""
        return self._platforms.get(platform)

    async def check(self, to: Destination, *, owner: str, action: str, sources: Sequence[SourceRef] = ()) -> Decision:
        """Whether ``owner`` may post text drawn from ``sources`` at ``to`` (policy, then the
        audience rule), without posting. A directory that cannot be read refuses."""
        parts = self._platforms.get(to.platform)
        if parts is None:
            return Decision(False, "unknown_platform", f"{to.platform} is not configured")
        try:
            decision, readers = await self._audience(parts, self._policy.current(), to, owner, action)
        except (UpstreamError, SQLAlchemyError) as exc:
            _log.warning("outbound: directory unavailable error=%s", type(exc).__name__)
            return Decision(False, "policy_error", "the directory could not be read")
        if decision.allowed:
            why = unreadable_by(readers, sources)
            if why is not None:
                decision = Decision(False, "audience_not_cleared", why, rules=(*decision.rules, why))
        return decision

    async def post(
        self,
        to: Destination,
        text: str,
        *,
        owner: str,
        actor: str,
        action: str = "ask",
        sources: Sequence[SourceRef] = (),
        language: Language | None = None,
        subject: str = "",
        actions: Sequence[ReplyAction] = (),
    ) -> PostResult:
        """Post ``text`` (drawn from ``sources``) to ``to`` as ``actor`` for ``owner`` (an email).

        Args:
            to: the channel, thread or person.
            text: the message; it is sanitised like any answer.
            owner: whose rights the post uses; policy must allow them ``action`` at ``to``.
            actor: who posts, for the audit record (e.g. ``schedule:weekly-digest``).
            action: the policy action (``ask``, ``minutes``, ``admin`` …).
            sources: the documents the text drew on; every reader must be allowed to read each.
            language: the message's language (refusal words); detected from the text when None.
            subject: what the post is, for the audit record.
            actions: buttons under the message (e.g. an FAQ reviewer's approve / edit / reject).

        Returns:
            Whether it was posted and why not; the audit record's id either way (when it could be written).
        """
        started = time.perf_counter()
        lang = language or choose_language(text, None)
        decision = await self.check(to, owner=owner, action=action, sources=sources)
        parts = self._platforms.get(to.platform)
        if decision.reason_code == "policy_error":
            status = "unavailable"
            return await self._record(to, decision, status, text, owner, actor, action, sources, subject, started)
        if not decision.allowed or parts is None:
            words = refusal_message(decision.reason_code, lang)
            _log.info("outbound refused reason=%s platform=%s", decision.reason_code, to.platform)
            return await self._record(to, decision, "refused", words, owner, actor, action, sources, subject, started)
        clean = sanitize_answer(text, self._hosts).strip()
        citations = tuple(Citation(i, s.source, s.title) for i, s in enumerate(_unique(sources), 1))
        result = await self._record(to, decision, "posted", clean, owner, actor, action, sources, subject, started)
        if result.audit_id is None:
            return result  # nothing leaves Kura without its record
        reply = Reply("answered", clean, citations, decision, None, lang, actions=tuple(actions))
        return await self._deliver(parts, to, reply, result.audit_id, actor, owner, action, started)

    async def ask(self, question: str, *, to: Destination, owner: str, actor: str) -> PostResult:
        """Ask ``question`` as ``owner`` and post the answer at ``to`` (e.g. a weekly question).

        The pipeline answers for the destination's audience (every member of a channel; a DM only
        to the owner themself) and audits the answer; the post is audited too. Refusals, failures
        and "nothing found" are not posted.
        """
        started = time.perf_counter()
        parts = self._platforms.get(to.platform)
        lang = choose_language(question, None)
        if parts is None:
            denied = Decision(False, "unknown_platform", f"{to.platform} is not configured")
            return await self._record(to, denied, "refused", question, owner, actor, "ask", (), question, started)
        if to.conversation is None:
            recipient = await parts.directory.user(to.user or "")
            if recipient is None or recipient.email.lower() != owner.lower():
                denied = Decision(False, "recipient_not_owner", "a direct answer goes only to the asker")
                return await self._record(to, denied, "refused", question, owner, actor, "ask", (), question, started)
        inbound = InboundMessage(
            to.platform, owner, question, channel_id=to.conversation, thread_id=to.thread, locale=lang
        )
        reply = await parts.pipeline.answer(inbound)
        if reply.status == "answered" and to.conversation is not None and reply.decision.visibility == "direct":
            # Policy keeps channel answers private: this one used the owner's rights, not the channel's.
            why = "channel answers are private by policy: not posted to the channel"
            reply = Reply("refused", why, (), Decision(False, "audience_not_cleared", why), reply.audit_id, lang)
        if reply.status != "answered":
            return PostResult(False, reply.decision.reason_code or reply.status, to, None, reply.audit_id)
        subject = f"{question} (answer {reply.audit_id})"
        result = await self._record(to, reply.decision, "posted", reply.text, owner, actor, "ask", (), subject, started)
        if result.audit_id is None:
            return result
        return await self._deliver(parts, to, reply, result.audit_id, actor, owner, "ask", started)

    async def _audience(
        self, parts: PlatformParts, policy: Policy, to: Destination, owner: str, action: str
    ) -> tuple[Decision, list[Reader]]:
        """The policy decision for the owner at ``to``, and everyone who will read the post (the
        same audience an answer there has, whatever the policy's visibility: a post is seen by all)."""
        user = await parts.directory.user(owner)
        asker = user.member() if user else None
        if to.conversation is not None:
            kind = await parts.directory.channel_kind(to.conversation)
            members = await parts.directory.channel_members(to.conversation) if kind is not None else None
            if kind is None or members is None:
                # Nobody can say who would read it (even when policy keeps answers private there).
                decision = decide(policy, Request(action, asker, to.conversation, None))
                unknown = Decision(False, "unknown_channel", f"channel {to.conversation} is unknown")
                return (decision if not decision.allowed else unknown), []
            decision = decide(policy, Request(action, asker, to.conversation, members, channel_kind=kind))
            readers, why = audience(policy, kind, members, to.conversation)
            return replace(decision, rules=(*decision.rules, *(w for w in why if w not in decision.rules))), readers
        recipient = await parts.directory.user(to.user or "")
        if recipient is None:
            return Decision(False, "unknown_user", f"{to.user} is not in the directory"), []
        return decide(policy, Request(action, asker, None)), [reader_of(policy, recipient.member())]

    async def _deliver(
        self,
        parts: PlatformParts,
        to: Destination,
        reply: Reply,
        audit_id: str,
        actor: str,
        owner: str,
        action: str,
        started: float,
    ) -> PostResult:
        try:
            message_id = await parts.transport.post(to, reply)
        except UpstreamError as exc:
            _log.warning("outbound post failed platform=%s error=%s", to.platform, exc.code)
            failed = Decision(False, "upstream", f"the platform did not take the post ({exc.code})")
            record = await self._record(to, failed, "unavailable", reply.text, owner, actor, action, (), "", started)
            return PostResult(False, "upstream", to, None, record.audit_id or audit_id)
        return PostResult(True, "posted", to, message_id, audit_id)

    async def _record(
        self,
        to: Destination,
        decision: Decision,
        status: str,
        text: str,
        owner: str,
        actor: str,
        action: str,
        sources: Sequence[SourceRef],
        subject: str,
        started: float,
    ) -> PostResult:
        entry = AuditEntry(
            platform=to.platform,
            user_ref=actor,
            user_email=owner,
            action=action,
            allowed=decision.allowed,
            reason_code=decision.reason_code,
            status=status,
            question=f"post to {to}: {subject}" if subject else f"post to {to}",
            answer=text,
            latency_ms=int((time.perf_counter() - started) * 1000),
            channel_id=to.conversation or (f"@{to.user}" if to.user else None),
            thread_id=to.thread,
            rules=decision.rules,
            retrieved=[{"source": s.source, "acl": list(s.acl), "classification": s.classification} for s in sources],
            policy_version=self._policy.current().version,
        )
        try:
            audit_id: str | None = await self._audit.append(entry)
        except SQLAlchemyError as exc:
            _log.error("outbound audit write failed error=%s", type(exc).__name__)
            return PostResult(False, "unavailable", to, None, None)
        return PostResult(
            status == "posted", decision.reason_code if status != "posted" else "posted", to, None, audit_id
        )


def _unique(sources: Sequence[SourceRef]) -> list[SourceRef]:
    seen: dict[str, SourceRef] = {}
    for s in sources:
        seen.setdefault(s.source, s)
    return list(seen.values())
