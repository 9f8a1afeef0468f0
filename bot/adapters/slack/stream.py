"""Rendering one answer into a Slack thread as it streams: a placeholder at once, then either
Slack's native stream (chat.startStream/appendStream/stopStream) or throttled chat.update."""

from __future__ import annotations

import time
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters.slack.render import answer_messages, placeholder
from bot.core.sanitize import sanitize_answer
from bot.core.types import Completed, InboundMessage, PipelineEvent, Reply, TextDelta
from bot.errors import Language
from llm import detect_language

__all__ = ["ThreadWriter"]

_CURSOR = " ▌"


class ThreadWriter:
    """Writes one reply into one thread; ``native`` selects Slack's streaming methods."""

    def __init__(
        self,
        client: AsyncWebClient,
        channel: str,
        thread_ts: str,
        *,
        native: bool,
        interval_s: float,
        recipient: tuple[str, str | None] | None = None,
    ) -> None:
        self._client = client
        self._channel = channel
        self._thread = thread_ts
        self._native = native
        self._interval = interval_s
        self._recipient = recipient
        self._ts: str | None = None
        self._streaming = False
        self._text = ""
        self._sent = 0
        self._last = 0.0
        self._private: str | None = None

    def private_to(self, user_id: str) -> None:
        """Policy wants this channel answer seen by the asker alone: one ephemeral message at the end."""
        self._private = user_id
        self._native = False

    async def start(self, message: InboundMessage) -> None:
        """Show that Kura is working, as soon as possible."""
        language: Language = message.locale or detect_language(message.text)
        if self._private is not None:
            return  # an ephemeral message cannot be edited: nothing to show until the answer is ready
        if self._native:
            try:
                kwargs: dict[str, Any] = {}
                if self._recipient is not None:
                    kwargs = {"recipient_user_id": self._recipient[0], "recipient_team_id": self._recipient[1]}
                response = await self._client.chat_startStream(channel=self._channel, thread_ts=self._thread, **kwargs)
                self._ts, self._streaming = str(response["ts"]), True
                return
            except SlackApiError:
                self._native = False  # the workspace lacks streaming: fall back to chat.update
        response = await self._client.chat_postMessage(
            channel=self._channel,
            thread_ts=self._thread,
            text=placeholder(language),
            unfurl_links=False,
            unfurl_media=False,
        )
        self._ts = str(response["ts"])

    async def write(self, event: PipelineEvent) -> Reply | None:
        """Render one pipeline event; returns the reply when the pipeline completed."""
        if isinstance(event, TextDelta):
            self._text += event.text
            if self._private is not None:
                return None
            if time.monotonic() - self._last >= self._interval:
                await self._flush()
        elif isinstance(event, Completed):
            await self.finish(event.reply)
            return event.reply
        return None

    async def _flush(self) -> None:
        self._last = time.monotonic()
        if self._ts is None or not self._text.strip():
            return
        if self._streaming:
            delta = self._text[self._sent :]
            if delta:
                await self._client.chat_appendStream(channel=self._channel, ts=self._ts, markdown_text=delta)
                self._sent = len(self._text)
        else:
            partial = sanitize_answer(self._text)[:3000]  # the final text is sanitised by the core
            await self._client.chat_update(channel=self._channel, ts=self._ts, text=partial + _CURSOR)

    async def finish(self, reply: Reply) -> None:
        """The final message(s): the whole text within Slack's limits, sources, feedback buttons."""
        messages = answer_messages(reply)
        if self._private is not None:
            for text, blocks in messages:
                await self._client.chat_postEphemeral(
                    channel=self._channel, user=self._private, thread_ts=self._thread, text=text, blocks=blocks
                )
            return
        if self._streaming and self._ts is not None and reply.status == "answered" and len(messages) == 1:
            delta = reply.text[self._sent :] if reply.text.startswith(self._text[: self._sent]) else ""
            tail = [b for b in messages[0][1] if b.get("type") != "section"]
            await self._client.chat_stopStream(
                channel=self._channel, ts=self._ts, markdown_text=delta or None, blocks=tail or None
            )
            return
        if self._streaming and self._ts is not None:
            await self._client.chat_stopStream(channel=self._channel, ts=self._ts)
            self._ts = None
        first, *rest = messages
        if self._ts is not None:
            await self._client.chat_update(channel=self._channel, ts=self._ts, text=first[0], blocks=first[1])
        else:
            rest = messages
        for text, blocks in rest:
            await self._client.chat_postMessage(
                channel=self._channel,
                thread_ts=self._thread,
                text=text,
                blocks=blocks,
                unfurl_links=False,
                unfurl_media=False,
            )

    async def fail(self, text: str) -> None:
        """Replace the placeholder (or post) with a short failure line."""
        if self._private is not None:
            await self._client.chat_postEphemeral(
                channel=self._channel, user=self._private, thread_ts=self._thread, text=text
            )
        elif self._streaming and self._ts is not None:
            await self._client.chat_stopStream(channel=self._channel, ts=self._ts, markdown_text=text)
        elif self._ts is not None:
            await self._client.chat_update(channel=self._channel, ts=self._ts, text=text, blocks=[])
        else:
            await self._client.chat_postMessage(
                channel=self._channel, thread_ts=self._thread, text=text, unfurl_links=False, unfurl_media=False
            )
