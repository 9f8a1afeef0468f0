"""Minutes for one requester: decide, read the source, check it may be read, write, audit, deliver.

    policy ("minutes") -> read the source -> the requester may read it -> write (model) -> audit
    -> deliver: where asked (a thread, a channel, ``--post-to``) only when every reader there may
    read the source (the audience rule, ``Outbox.check``); otherwise to the requester alone, saying why.

Every run leaves an audit record (action ``minutes``): the source and its access, the requester, the
delivery target, the model, the prompt version and token counts; its text is the minutes (retention
class ``minutes_text``). Failures become an outcome with a reason, never an exception to the caller.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

from sqlalchemy.exc import SQLAlchemyError

from bot.audit.store import AuditEntry
from bot.core.minutes_words import minutes_text
from bot.core.outbound import Outbox
from bot.core.ports import AuditLog, PolicySource
from bot.core.sanitize import sanitize_answer
from bot.core.types import Destination, PostResult
from bot.errors import InputError, Language, UpstreamError
from bot.identity import DirectoryUser
from bot.minutes.render import render_minutes
from bot.minutes.schema import Minutes
from bot.minutes.sources import Transcript
from bot.minutes.writer import MinutesWriter
from llm.errors import ModelServerError
from llm.minutes import MINUTES_PROMPT_VERSION
from policies import Decision, Request, decide
from policies.engine import reader_of

__all__ = ["MinutesOutcome", "MinutesRequest", "MinutesService", "ReadSource"]

_log = logging.getLogger(__name__)

#: Reads the source for the requester (an email); raises InputError or UpstreamError with one line.
ReadSource = Callable[[str], Awaitable[Transcript]]


@dataclass(frozen=True)
class MinutesRequest:
    """Who asks (``user_ref`` as the platform names them, ``user`` as the directory knows them),
    from where, in which language, and where the minutes should go (None: back to the caller only)."""

    platform: str
    user_ref: str
    user: DirectoryUser | None
    language: Language | None = None
    deliver_to: Destination | None = None
    #: Who acts, for the audit record (the requester, or ``schedule:<name>``).
    actor: str | None = None
    channel_id: str | None = None


@dataclass(frozen=True)
class MinutesOutcome:
    """What happened: ``status`` is ``done``, ``refused``, ``bad_input`` or ``unavailable``."""

    status: str
    decision: Decision
    text: str
    language: Language
    minutes: Minutes | None = None
    source: Transcript | None = None
    audit_id: str | None = None
    #: Whether the minutes may be shown where asked (the audience rule held there).
    public: bool = False
    #: A one-line note for the requester when the minutes went to them alone instead.
    note: str = ""
    posted: PostResult | None = None


class MinutesService:
    """Writes minutes for requesters on any platform, or the command line."""

    def __init__(
        self,
        policy: PolicySource,
        audit: AuditLog,
        writer: MinutesWriter,
        outbox: Outbox,
        *,
        link_hosts: tuple[str, ...],
    ) -> None:
        self._policy = policy
        self._audit = audit
        self._writer = writer
        self._outbox = outbox
        self._hosts = link_hosts

    async def run(self, request: MinutesRequest, read: ReadSource, *, post: bool = False) -> MinutesOutcome:
        """Minutes of what ``read`` gives, for ``request``; ``post``: post them to ``deliver_to``
        (else the caller shows them, e.g. in the thread, when ``public``)."""
        started = time.perf_counter()
        lang: Language = request.language or "ja"
        policy = self._policy.current()
        member = request.user.member() if request.user else None
        decision = decide(policy, Request("minutes", member, None))
        if not decision.allowed or request.user is None:
            return await self._end(request, "refused", decision, lang, started)
        email = request.user.email
        try:
            source = await read(email)
        except InputError as exc:
            failed = Decision(False, "bad_input", str(exc))
            return await self._end(request, "bad_input", failed, lang, started, text=str(exc))
        except UpstreamError as exc:
            failed = Decision(False, "upstream", str(exc))
            return await self._end(request, "unavailable", failed, lang, started, text=str(exc))
        if not reader_of(policy, request.user.member()).may_read(source.access.acl, source.access.classification):
            why = f"{email} may not read {source.access.source}"
            denied = Decision(False, "source_not_readable", why, rules=(*decision.rules, why))
            return await self._end(request, "refused", denied, lang, started, source=source)
        here = Decision(False, "not_asked", "nowhere to post")
        if request.deliver_to is not None:
            here = await self._outbox.check(request.deliver_to, owner=email, action="minutes", sources=[source.access])
        try:
            written = await self._writer.write(source.lines, request.language, source.title)
        except ModelServerError as exc:
            failed = Decision(False, "model_unavailable", str(exc))
            return await self._end(request, "unavailable", failed, lang, started, source=source)
        minutes = written.minutes
        text = sanitize_answer(render_minutes(minutes, source), self._hosts).strip()
        entry = replace(
            self._entry(request, decision, "answered", text, started, source, here),
            model=self._writer.model_name,
            prompt_version=MINUTES_PROMPT_VERSION,
            tokens=written.usage.total,
        )
        audit_id = await self._append(entry)
        if audit_id is None:
            failed = Decision(False, "database", "the audit record could not be written")
            return MinutesOutcome("unavailable", failed, "", minutes.language, source=source)
        note = ""
        if request.deliver_to is not None and not here.allowed:
            reason = (
                minutes_text("audience_reason", minutes.language)
                if here.reason_code == "audience_not_cleared"
                else here.reason
            )
            note = minutes_text("sent_privately", minutes.language, target=str(request.deliver_to), reason=reason)
        outcome = MinutesOutcome(
            "done", decision, text, minutes.language, minutes, source, audit_id, public=here.allowed, note=note
        )
        if post and request.deliver_to is not None:
            return await self._post(request, request.deliver_to, outcome, email)
        return outcome

    async def _post(
        self, request: MinutesRequest, to: Destination, outcome: MinutesOutcome, email: str
    ) -> MinutesOutcome:
        """Post to the destination when it is cleared, else to the requester alone with the note."""
        actor = request.actor or request.user_ref
        subject = f"minutes {outcome.audit_id}"
        sources = [outcome.source.access] if outcome.source else []
        if not outcome.public:
            to = Destination(to.platform, user=email)
        text = f"{outcome.note}\n\n{outcome.text}" if outcome.note else outcome.text
        posted = await self._outbox.post(
            to,
            text,
            owner=email,
            actor=actor,
            action="minutes",
            sources=sources,
            language=outcome.language,
            subject=subject,
        )
        return replace(outcome, posted=posted)

    async def _end(
        self,
        request: MinutesRequest,
        status: str,
        decision: Decision,
        lang: Language,
        started: float,
        *,
        text: str = "",
        source: Transcript | None = None,
    ) -> MinutesOutcome:
        """A run that made no minutes: audited, with the reason."""
        entry = self._entry(request, decision, status, text, started, source, None)
        audit_id = await self._append(entry)
        _log.info("minutes not written status=%s reason=%s", status, decision.reason_code)
        return MinutesOutcome(status, decision, text, lang, source=source, audit_id=audit_id)

    def _entry(
        self,
        request: MinutesRequest,
        decision: Decision,
        status: str,
        text: str,
        started: float,
        source: Transcript | None,
        here: Decision | None,
    ) -> AuditEntry:
        target = str(request.deliver_to) if request.deliver_to else "the requester"
        what = f"{source.kind} {source.id}" if source else "a source that could not be read"
        rules = (*decision.rules, *(here.rules if here else ()))
        retrieved = (
            [
                {
                    "source": source.access.source,
                    "kind": source.kind,
                    "acl": list(source.access.acl),
                    "classification": source.access.classification,
                    "lines": len(source.lines),
                    "delivery": target,
                    "delivery_cleared": bool(here and here.allowed),
                }
            ]
            if source
            else []
        )
        return AuditEntry(
            platform=request.platform,
            user_ref=request.actor or request.user_ref,
            user_email=request.user.email if request.user else None,
            action="minutes",
            allowed=decision.allowed,
            reason_code=decision.reason_code,
            status=status,
            question=f"minutes of {what} for {target}",
            answer=text,
            latency_ms=int((time.perf_counter() - started) * 1000),
            channel_id=request.channel_id,
            rules=rules,
            retrieved=retrieved,
            policy_version=self._policy.current().version,
        )

    async def _append(self, entry: AuditEntry) -> str | None:
        try:
            return await self._audit.append(entry)
        except SQLAlchemyError as exc:
            _log.error("minutes audit write failed error=%s", type(exc).__name__)
            return None
