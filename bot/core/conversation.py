"""The conversation, the same on every chat platform.

An adapter translates a platform event into an :class:`InboundMessage` and hands it here, with
the platform's ports (:class:`PlatformParts`). From then on the core decides everything:

    claim the delivery (once across replicas) -> placeholder -> language -> thread history
    -> pipeline (policy, retrieval, model, audit) -> public or private reply -> finish or fail
    (a message asking for minutes goes to the minutes instead of the pipeline)

It also takes 👍/👎 feedback, admin commands and FAQ reviewers' button clicks, so an adapter has
nothing to decide: it only translates, renders, and implements :class:`~bot.core.ports.Transport` and
:class:`~bot.core.ports.History`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Protocol

from sqlalchemy.exc import SQLAlchemyError

from bot.core.admin import AdminCommand, AdminReply
from bot.core.faq_words import faq_text
from bot.core.intent import asks_for_minutes
from bot.core.messages import catalogue_texts, error_message, say
from bot.core.ports import (
    ChannelHistory,
    Directory,
    FaqReview,
    FeedbackLog,
    Files,
    History,
    Ledger,
    Meetings,
    PolicySource,
    ReplyStream,
    Transport,
)
from bot.core.types import Completed, Decided, HistoryMessage, InboundMessage, Reply, TextDelta, Turn
from bot.errors import DatabaseUnavailable, Language, UpstreamError
from llm import detect_language

if TYPE_CHECKING:
    from bot.core.pipeline import Pipeline

__all__ = ["Admin", "Conversation", "HistoryRules", "MinutesChat", "PlatformParts", "choose_language", "history_turns"]

_log = logging.getLogger(__name__)
_LATIN_WORD = re.compile(r"[A-Za-z]{2,}")


class MinutesChat(Protocol):
    """Minutes asked for in chat (``bot.minutes.chat.ChatMinutes``)."""

    async def answer(self, message: InboundMessage, stream: ReplyStream, language: Language) -> Reply | None:
        """Write the minutes of the thread or attached transcript and reply on ``stream`` (started)."""
        ...

    async def command(self, user_ref: str, args: tuple[str, ...], language: Language) -> AdminReply:
        """``/kura minutes #channel since:DATE [until:DATE]``: a channel's period, for the sender alone."""
        ...


class Admin(Protocol):
    """Admin commands (``AdminService``): decided by policy, run, audited."""

    async def handle(self, command: AdminCommand) -> AdminReply:
        """Run one command for its sender."""
        ...


@dataclass(frozen=True)
class PlatformParts:
    """What one platform lends the core: how to reply and post, who people are, thread history,
    and for minutes a channel's messages (``channels``), attached files (``files``) and online
    meetings' transcripts (``meetings``)."""

    transport: Transport
    directory: Directory
    pipeline: Pipeline
    history: History | None = None
    channels: ChannelHistory | None = None
    files: Files | None = None
    meetings: Meetings | None = None

    @property
    def platform(self) -> str:
        """The platform's name (``slack``, ``teams``, ``console``)."""
        return self.transport.platform


@dataclass(frozen=True)
class HistoryRules:
    """How much of a thread the model sees: the newest turns, within a character budget."""

    turns: int = 6
    chars_per_turn: int = 1500
    chars: int = 6000


def choose_language(text: str, locale: Language | None) -> Language:
    """The language to answer in: Japanese when the question has Japanese; English when it has
    English words; otherwise (``G3?``) the person's own setting, else English."""
    if detect_language(text) == "ja":
        return "ja"
    if len(_LATIN_WORD.findall(text)) >= 2:
        return "en"
    return locale or "en"


def history_turns(messages: Sequence[HistoryMessage], rules: HistoryRules = HistoryRules()) -> tuple[Turn, ...]:
    """The thread as turns for the model: people's messages and Kura's answers (not its placeholders,
    refusals or failure lines; not other bots), the newest kept within the rules, oldest first."""
    mine = catalogue_texts()
    turns: list[Turn] = []
    for m in messages:
        text = m.text.strip()
        if m.author == "bot" or not text or (m.author == "kura" and text in mine):
            continue
        turns.append(Turn("assistant" if m.author == "kura" else "user", text[: rules.chars_per_turn]))
    kept: list[Turn] = []
    used = 0
    for turn in reversed(turns):
        if len(kept) == rules.turns or used + len(turn.text) > rules.chars:
            break
        kept.append(turn)
        used += len(turn.text)
    return tuple(reversed(kept))


class Conversation:
    """Answers one platform's messages and takes its feedback and admin commands."""

    def __init__(
        self,
        parts: PlatformParts,
        *,
        ledger: Ledger,
        feedback: FeedbackLog,
        admin: Admin,
        policy: PolicySource,
        history_rules: HistoryRules = HistoryRules(),
        minutes: MinutesChat | None = None,
        faq: FaqReview | None = None,
    ) -> None:
        self.parts = parts
        self._minutes = minutes
        self._faq = faq
        self._ledger = ledger
        self._feedback = feedback
        self._admin = admin
        self._policy = policy
        self._rules = history_rules

    @property
    def platform(self) -> str:
        """The platform this conversation runs on."""
        return self.parts.platform

    async def language_of(self, user_ref: str, text: str = "") -> Language:
        """The language for ``user_ref``: of ``text`` when it tells, else the person's setting."""
        try:
            locale = await self.parts.directory.locale(user_ref)
        except (UpstreamError, SQLAlchemyError) as exc:
            _log.warning("locale lookup failed error=%s", type(exc).__name__)
            locale = None
        return choose_language(text, locale)

    async def handle(self, message: InboundMessage, *, follow_up: bool = False) -> Reply | None:
        """Answer one message (or drop it: a delivery already taken returns None). Never raises
        but for cancellation: failures become a short reply in the message's language.

        ``follow_up``: a plain message in a thread (no mention), answered only when Kura already
        took part in that thread; the thread is read once, for that and for the history.
        """
        thread: Sequence[HistoryMessage] | None = None
        if follow_up:
            thread = await self._thread(message)
            if not any(m.author == "kura" for m in thread or ()):
                return None
        language = choose_language(message.text, message.locale)
        transport = self.parts.transport
        # Policy may want channel answers seen by the asker alone: then nothing is shown publicly.
        private = message.channel_id is not None and self._policy.current().channels.visibility == "direct"
        stream = transport.reply(message, private=private)
        try:
            if message.event_id and not await self._ledger.claim(self.platform, message.event_id):
                _log.info("duplicate delivery dropped platform=%s event_id=%s", self.platform, message.event_id)
                self.parts.pipeline.metrics.request(self.platform, "duplicate")
                return None
            await stream.start(language)
            language = await self.language_of(message.user, message.text) if message.locale is None else language
            if self._minutes is not None and not follow_up and asks_for_minutes(message.text):
                return await self._minutes.answer(replace(message, locale=language), stream, language)
            history = history_turns(thread, self._rules) if thread is not None else await self._history(message)
            inbound = replace(message, locale=language, history=history)
            return await self._answer(inbound, stream, private=private)
        except (SQLAlchemyError, DatabaseUnavailable):
            _log.exception("database unavailable platform=%s event_id=%s", self.platform, message.event_id)
            await self._fail(stream, error_message(DatabaseUnavailable.code, language))
        except Exception:
            _log.exception("failed to answer platform=%s event_id=%s", self.platform, message.event_id)
            await self._fail(stream, error_message("upstream", language))
        return None

    async def _answer(self, message: InboundMessage, stream: ReplyStream, *, private: bool) -> Reply | None:
        reply: Reply | None = None
        async for event in self.parts.pipeline.handle(message):
            if isinstance(event, Decided):
                if event.decision.visibility == "direct" and message.channel_id is not None and not private:
                    await stream.go_private()  # refusals, and answers policy keeps private
                    private = True
            elif isinstance(event, TextDelta):
                await stream.append(event.text)
            elif isinstance(event, Completed):
                reply = event.reply
        if reply is not None:
            await stream.finish(reply)
        return reply

    async def _history(self, message: InboundMessage) -> tuple[Turn, ...]:
        """Earlier turns when the message continues a thread; none when history cannot be read."""
        if message.thread_id in (None, message.message_id):
            return message.history
        thread = await self._thread(message)
        return message.history if thread is None else history_turns(thread, self._rules)

    async def _thread(self, message: InboundMessage) -> Sequence[HistoryMessage] | None:
        """The thread ``message`` is in, up to it; None when there is none or it cannot be read."""
        history, where = self.parts.history, message.where
        if history is None or where is None or message.thread_id is None:
            return None
        try:
            return await history.thread(where, message.thread_id, message.message_id)
        except UpstreamError as exc:
            _log.warning("thread history unavailable platform=%s error=%s", self.platform, exc.code)
            return None

    async def _fail(self, stream: ReplyStream, text: str) -> None:
        self.parts.pipeline.metrics.request(self.platform, "failed")
        try:
            await stream.fail(text)
        except Exception:
            _log.exception("could not deliver the failure reply platform=%s", self.platform)

    async def feedback(self, user_ref: str, audit_id: str, value: int) -> str:
        """Store 👍 (+1) or 👎 (-1) against an answer's audit record; the words to show the person."""
        language = await self.language_of(user_ref)
        try:
            ok = await self._feedback.record_feedback(audit_id, user_ref, 1 if value > 0 else -1)
        except SQLAlchemyError:
            _log.exception("feedback not stored platform=%s", self.platform)
            return error_message(DatabaseUnavailable.code, language)
        return say("feedback_thanks" if ok else "feedback_unknown", language)

    async def command(self, user_ref: str, args: tuple[str, ...], channel_id: str | None) -> AdminReply:
        """An admin command (``/kura …``): decided, run and audited by the admin service."""
        language = await self.language_of(user_ref)
        if args[:1] and args[0].lower() == "minutes" and self._minutes is not None:
            return await self._minutes.command(user_ref, args[1:], language)
        return await self._admin.handle(AdminCommand(self.platform, user_ref, args, channel_id, language))

    async def faq_review(self, user_ref: str, entry_id: int, verdict: str, answer: str | None = None) -> str:
        """A reviewer's click on an FAQ entry's button (``approve``, ``edit`` with ``answer``,
        ``reject``), as the platform's user: done or refused by the FAQ service, audited either
        way; the one line to show them."""
        language = await self.language_of(user_ref)
        if self._faq is None:
            _log.warning("faq review without an faq service platform=%s", self.platform)
            return error_message("internal", language)
        try:
            user = await self.parts.directory.user(user_ref)
            if user is None:
                return faq_text("unknown_reviewer", language)
            return await self._faq.review(
                user.email, entry_id, verdict, answer=answer, platform=self.platform, language=language
            )
        except UpstreamError as exc:
            _log.warning("faq review failed platform=%s error=%s", self.platform, exc.code)
            return error_message(exc.code, language)
        except SQLAlchemyError:
            _log.exception("faq review failed platform=%s", self.platform)
            return error_message(DatabaseUnavailable.code, language)

    async def faq_answer(self, user_ref: str, entry_id: int) -> str | None:
        """The entry's answer to prefill an edit box, or None when this person may not review it
        (or it cannot be told now): then the click is refused through :meth:`faq_review`."""
        if self._faq is None:
            return None
        try:
            user = await self.parts.directory.user(user_ref)
            return None if user is None else await self._faq.current_answer(user.email, entry_id)
        except (UpstreamError, SQLAlchemyError) as exc:
            _log.warning("faq answer lookup failed platform=%s error=%s", self.platform, type(exc).__name__)
            return None
