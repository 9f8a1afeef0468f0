"""Minutes asked for in chat: ``@Kura この会議の議事録をまとめて`` in a thread summarises the thread;
with a transcript attached, the file; in an online meeting's chat, the meeting's transcript. The
reply comes where it was asked when every reader there may read the source, else to the asker
alone (``ReplyStream.go_private``) with the reason."""

from __future__ import annotations

import logging

from bot.core.admin import AdminReply
from bot.core.conversation import PlatformParts
from bot.core.messages import error_message, refusal_message
from bot.core.minutes_words import minutes_text
from bot.core.ports import PolicySource, ReplyStream
from bot.core.types import Citation, Destination, InboundMessage, Reply
from bot.errors import InputError, Language, UpstreamError
from bot.minutes.service import MinutesRequest, MinutesService, ReadSource
from bot.minutes.sources import Transcript, attached_source, conversation_source, meeting_source, parse_when

__all__ = ["ChatMinutes"]

_log = logging.getLogger(__name__)


class ChatMinutes:
    """Minutes for one platform's conversation."""

    def __init__(self, service: MinutesService, parts: PlatformParts, policy: PolicySource, *, max_bytes: int) -> None:
        self._service = service
        self._parts = parts
        self._policy = policy
        self._max_bytes = max_bytes

    def _reader(self, message: InboundMessage) -> ReadSource | None:
        parts = self._parts
        if message.files and parts.files is not None:
            file, files = message.files[0], parts.files

            async def read_file(email: str) -> Transcript:
                raw = await files.fetch(file, self._max_bytes)
                return attached_source(file.name, raw, email, parts.platform, file.id)

            return read_file
        if message.meeting is not None and parts.meetings is not None:
            meeting, meetings = message.meeting, parts.meetings

            async def read_meeting(_email: str) -> Transcript:
                found = await meetings.transcript(meeting)
                if found is None:
                    raise InputError(minutes_text("no_meeting_transcript", message.locale or "en"))
                return meeting_source(found)

            return read_meeting
        where, thread, channels = message.where, message.thread_id, parts.channels
        if message.channel_id is None or where is None or thread is None or channels is None:
            return None

        async def read_thread(_email: str) -> Transcript:
            policy = self._policy.current()
            return await conversation_source(parts.platform, channels, parts.directory, policy, where, thread=thread)

        return read_thread

    async def command(self, user_ref: str, args: tuple[str, ...], language: Language) -> AdminReply:
        """``/kura minutes CHANNEL since:DATE [until:DATE]``: the channel's messages in the period,
        summarised for the sender alone (a slash command's reply is seen by them only)."""
        pairs = [a.partition(":") for a in args]
        options = {key: value for key, colon, value in pairs if colon and key in ("since", "until")}
        channel = next((key for key, colon, _ in pairs if not colon), None)
        channels = self._parts.channels
        if channel is None or "since" not in options or channels is None:
            return AdminReply(False, minutes_text("usage", language), None)
        try:
            since = parse_when(options["since"])
            until = parse_when(options["until"]) if "until" in options else None
        except InputError as exc:
            return AdminReply(False, minutes_text("bad_source", language, reason=exc), None)
        parts = self._parts

        async def read(_email: str) -> Transcript:
            policy = self._policy.current()
            return await conversation_source(
                parts.platform, channels, parts.directory, policy, channel, since=since, until=until
            )

        user = await parts.directory.user(user_ref)
        request = MinutesRequest(parts.platform, user_ref, user, None)
        outcome = await self._service.run(request, read)
        if outcome.status == "done":
            return AdminReply(True, outcome.text, outcome.audit_id)
        if outcome.status == "refused":
            return AdminReply(False, refusal_message(outcome.decision.reason_code, language), outcome.audit_id)
        if outcome.status == "bad_input":
            text = minutes_text("bad_source", language, reason=outcome.decision.reason)
            return AdminReply(False, text, outcome.audit_id)
        return AdminReply(False, error_message("upstream", language), outcome.audit_id)

    async def answer(self, message: InboundMessage, stream: ReplyStream, language: Language) -> Reply | None:
        """Write the minutes and reply (the stream has started); never raises but for cancellation."""
        read = self._reader(message)
        if read is None:
            await stream.fail(minutes_text("usage", language))
            return None
        user = await self._parts.directory.user(message.user)
        here = (
            Destination(self._parts.platform, message.where, message.thread_id)
            if message.channel_id is not None
            else None
        )
        request = MinutesRequest(
            self._parts.platform, message.user, user, None, deliver_to=here, channel_id=message.channel_id
        )
        try:
            outcome = await self._service.run(request, read)
        except UpstreamError as exc:  # the asker's own record could not be read
            _log.warning("minutes in chat failed platform=%s error=%s", self._parts.platform, exc.code)
            await stream.fail(error_message("upstream", language))
            return None
        lang = outcome.language if outcome.status == "done" else language
        if outcome.status == "bad_input":
            await stream.fail(minutes_text("bad_source", lang, reason=outcome.decision.reason))
            return None
        if outcome.status == "unavailable":
            code = "model_unavailable" if outcome.decision.reason_code == "model_unavailable" else "upstream"
            await stream.fail(error_message(code, lang))
            return None
        if here is not None and not outcome.public:
            await stream.go_private()  # refusals, and minutes not every reader here may read
        if outcome.status == "refused":
            words = refusal_message(outcome.decision.reason_code, lang)
            reply = Reply("refused", words, (), outcome.decision, outcome.audit_id, lang)
        else:
            source = outcome.source
            cited = (Citation(1, source.access.source, source.title),) if source else ()
            text = f"{outcome.note}\n\n{outcome.text}" if outcome.note else outcome.text
            reply = Reply("answered", text, cited, outcome.decision, outcome.audit_id, lang)
        await stream.finish(reply)
        return reply
