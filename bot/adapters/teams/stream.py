"""One reply in Teams, as the core streams it.

- A 1:1 chat streams (Teams streaming, the only place it is allowed): an informative update at once
  ("考えています…"), then the text so far about once a second as ``typing`` activities with a
  ``streaminfo`` entity, then the final message (``streamType: final``) with citations, the AI label
  and the feedback loop. If Teams refuses streaming (403/400), the answer is sent as one message.
- A channel or group chat: a placeholder in the thread at once, updated once with the final message.
- For the asker alone (policy ``visibility: direct``, refusals in channels): Teams has no message
  only one member sees, so the reply goes to the asker's 1:1 chat with Kura and any placeholder in
  the thread is withdrawn.

It receives only sanitised text; it decides nothing but how Teams shows it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

import aiohttp
from microsoft_agents.activity import Activity, ChannelAccount, ConversationParameters, StreamInfo
from microsoft_agents.hosting.core import TurnContext
from microsoft_agents.hosting.core.connector import ConnectorClientBase

from bot.adapters.teams.render import answer_activity, markdown, text_activity, thinking
from bot.core.messages import say
from bot.core.types import Reply
from bot.errors import Language, UpstreamError

__all__ = ["TeamsReplyStream", "one_to_one", "send_direct"]

_log = logging.getLogger(__name__)
#: Recorded for feedback: (conversation id, message id, audit id).
OnPosted = Callable[[str, str, str], Awaitable[None]]


def _refused_streaming(exc: Exception) -> bool:
    """Teams' answers to a stream it will not take (outside 1:1, cancelled by the user, ended)."""
    return isinstance(exc, aiohttp.ClientResponseError) and exc.status in (400, 403)


def one_to_one(bot_id: str, member_id: str, tenant_id: str | None) -> ConversationParameters:
    """What the connector needs to open (or find) the 1:1 chat between Kura and one person."""
    return ConversationParameters(
        is_group=False,
        bot=ChannelAccount(id=bot_id),
        members=[ChannelAccount(id=member_id)],
        tenant_id=tenant_id,
        channel_data={"tenant": {"id": tenant_id}} if tenant_id else None,
    )


async def send_direct(context: TurnContext, activity: Activity, tenant_id: str | None) -> tuple[str, str] | None:
    """Send to the sender's 1:1 chat with Kura (opened, or found, by the connector); (conversation
    id, message id) of what was sent."""
    inbound = context.activity
    connector = context.services.get(ConnectorClientBase)  # type: ignore[type-abstract]
    if connector is None or inbound.from_property is None or inbound.recipient is None:
        raise UpstreamError("no connector for a private reply")
    created = await connector.conversations.create_conversation(
        one_to_one(inbound.recipient.id, inbound.from_property.id, tenant_id)
    )
    response = await connector.conversations.send_to_conversation(created.id, activity)
    return (created.id, response.id) if response is not None and response.id else None


class TeamsReplyStream:
    """The ReplyStream port for one Teams message (the turn's context replies into its thread)."""

    def __init__(
        self,
        context: TurnContext,
        *,
        streaming: bool,
        private: bool,
        interval_s: float,
        tenant_id: str | None,
        on_posted: OnPosted,
    ) -> None:
        self._context = context
        self._streaming = streaming and not private
        self._private = private
        self._interval = interval_s
        self._tenant = tenant_id
        self._on_posted = on_posted
        self._stream_id: str | None = None
        self._sequence = 0
        self._placeholder: str | None = None
        self._text = ""
        self._sent = ""
        self._last = 0.0

    # ------------------------------------------------------------------ the port

    async def start(self, language: Language) -> None:
        """An informative update (1:1) or a placeholder in the thread; nothing when private."""
        if self._private:
            return
        if self._streaming and await self._stream(thinking(language), "informative"):
            return
        response = await self._context.send_activity(text_activity(say("placeholder", language)))
        self._placeholder = response.id if response is not None else None

    async def go_private(self) -> None:
        """From now on the reply is the asker's alone: the placeholder in the thread is withdrawn."""
        self._private, self._streaming = True, False
        if self._placeholder is not None:
            await self._context.delete_activity(self._placeholder)
            self._placeholder = None

    async def append(self, text: str) -> None:
        """More clean text; a 1:1 chat shows it about once a second, elsewhere it waits for the end."""
        self._text += text
        if not self._streaming or self._stream_id is None or time.monotonic() - self._last < self._interval:
            return
        shown = markdown(self._text)
        if shown.strip() and shown != self._sent:
            await self._stream(shown, "streaming")

    async def finish(self, reply: Reply) -> None:
        """The final message: the whole text, citations, AI label and feedback loop."""
        posted = await self._deliver(answer_activity(reply))
        if posted is not None and reply.audit_id and reply.status == "answered":
            await self._on_posted(posted[0], posted[1], reply.audit_id)

    async def fail(self, text: str) -> None:
        """A short failure line instead of an answer."""
        await self._deliver(text_activity(text))

    # ------------------------------------------------------------------ delivery

    async def _deliver(self, activity: Activity) -> tuple[str, str] | None:
        """Send the final activity where it belongs; (conversation id, message id) of the result."""
        conversation = self._context.activity.conversation.id if self._context.activity.conversation else ""
        if self._private:
            return await send_direct(self._context, activity, self._tenant)
        if self._streaming and self._stream_id is not None:
            final = activity.model_copy(deep=True)
            final.entities = [*(final.entities or []), StreamInfo(stream_type="final", stream_id=self._stream_id)]
            try:
                await self._context.send_activity(final)
                return conversation, self._stream_id
            except aiohttp.ClientResponseError as exc:
                if not _refused_streaming(exc):
                    raise
                _log.warning("teams refused the stream's end status=%s: sending the answer as a message", exc.status)
        if self._placeholder is not None:
            update = activity.model_copy(deep=True)
            update.id = self._placeholder
            try:
                await self._context.update_activity(update)
                return conversation, self._placeholder
            except aiohttp.ClientResponseError as exc:
                if exc.status != 404:
                    raise
                _log.info("the placeholder is gone (deleted in Teams): posting the answer")
        response = await self._context.send_activity(activity)
        return (conversation, response.id) if response is not None and response.id else None

    async def _stream(self, text: str, stream_type: str) -> bool:
        """One streaming update (a ``typing`` activity); False (and streaming off) when Teams will
        not take it."""
        self._sequence += 1
        info = StreamInfo(stream_type=stream_type, stream_sequence=self._sequence)
        if self._stream_id is not None:
            info.stream_id = self._stream_id
        activity = Activity(type="typing", text=text, entities=[info])
        try:
            response = await self._context.send_activity(activity)
        except aiohttp.ClientResponseError as exc:
            if not _refused_streaming(exc):
                raise
            _log.info("teams refused streaming status=%s: the answer comes as one message", exc.status)
            self._streaming = False
            return False
        if self._stream_id is None:
            self._stream_id = response.id if response is not None else None
        self._sent, self._last = text, time.monotonic()
        return True

    def __repr__(self) -> str:
        where = self._context.activity.conversation.id if self._context.activity.conversation else "?"
        return f"TeamsReplyStream({where}, streaming={self._streaming}, private={self._private})"
