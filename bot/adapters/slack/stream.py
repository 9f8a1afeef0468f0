"""One reply in a Slack thread, as the core streams it: a placeholder at once, then either Slack's
native stream (chat.startStream/appendStream/stopStream) or throttled chat.update, and the final
message(s); or a single ephemeral message when the reply is for the asker alone.

It receives only sanitised text from the core; it decides nothing but how Slack shows it.
"""

from __future__ import annotations

import time
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters.slack.render import answer_messages, mrkdwn, placeholder
from bot.core.types import Reply
from bot.errors import Language

__all__ = ["SlackReplyStream"]

_CURSOR = " ▌"
#: chat.update while streaming shows at most this much (the final message is split properly).
_PARTIAL_LIMIT = 3000


class SlackReplyStream:
    """The ReplyStream port for one Slack thread; ``native`` selects Slack's streaming methods."""

    def __init__(
        self,
        client: AsyncWebClient,
        channel: str,
        thread_ts: str,
        *,
        native: bool,
        interval_s: float,
        user: str,
        team_id: str | None,
        private: bool,
    ) -> None:
        self._client = client
        self._channel = channel
        self._thread = thread_ts
        self._native = native and not private
        self._interval = interval_s
        self._user = user
        self._team = team_id
        self._private = private
        self._ts: str | None = None
        self._streaming = False
        self._text = ""
        self._sent = 0
        self._last = 0.0

    async def start(self, language: Language) -> None:
        """A placeholder (or an open native stream) in the thread; nothing when private."""
        if self._private:
            return  # an ephemeral message cannot be edited: nothing to show until the answer is ready
        if self._native:
            try:
                response = await self._client.chat_startStream(
                    channel=self._channel,
                    thread_ts=self._thread,
                    recipient_user_id=self._user,
                    recipient_team_id=self._team,
                )
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

    async def go_private(self) -> None:
        """The reply is for the asker alone: the placeholder in the thread is withdrawn."""
        self._private, self._native = True, False
        if self._ts is None:
            return
        if self._streaming:
            await self._client.chat_stopStream(channel=self._channel, ts=self._ts)
            self._streaming = False
        await self._client.chat_delete(channel=self._channel, ts=self._ts)
        self._ts = None

    async def append(self, text: str) -> None:
        """More clean text; shown at most every ``interval_s`` seconds."""
        self._text += text
        if self._private or self._ts is None:
            return
        if time.monotonic() - self._last >= self._interval:
            await self._flush()

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
            await self._client.chat_update(
                channel=self._channel, ts=self._ts, text=mrkdwn(self._text[:_PARTIAL_LIMIT]) + _CURSOR
            )

    async def finish(self, reply: Reply) -> None:
        """The final message(s): the whole text within Slack's limits, sources, feedback buttons."""
        messages = answer_messages(reply)
        if self._private:
            for text, blocks in messages:
                await self._client.chat_postEphemeral(
                    channel=self._channel, user=self._user, thread_ts=self._thread, text=text, blocks=blocks
                )
            return
        shown = self._text[: self._sent]
        whole = reply.status == "answered" and len(messages) == 1 and reply.text.startswith(shown)
        if self._streaming and self._ts is not None and whole:
            # What was streamed is the start of the answer: append the rest, then sources and buttons.
            tail = [b for b in messages[0][1] if b.get("type") != "section"]
            rest = reply.text[len(shown) :]
            await self._client.chat_stopStream(
                channel=self._channel, ts=self._ts, markdown_text=rest or None, blocks=tail or None
            )
            return
        if self._streaming and self._ts is not None:
            await self._client.chat_stopStream(channel=self._channel, ts=self._ts)
            self._streaming = False
        first, *rest_messages = messages
        if self._ts is not None:
            await self._client.chat_update(channel=self._channel, ts=self._ts, text=first[0], blocks=first[1])
        else:
            rest_messages = messages
        for text, blocks in rest_messages:
            await self._post(text, blocks)

    async def fail(self, text: str) -> None:
        """Replace the placeholder (or post) with a short failure line."""
        if self._private:
            await self._client.chat_postEphemeral(
                channel=self._channel, user=self._user, thread_ts=self._thread, text=text
            )
        elif self._streaming and self._ts is not None:
            await self._client.chat_stopStream(channel=self._channel, ts=self._ts)
            self._streaming = False
            await self._client.chat_update(channel=self._channel, ts=self._ts, text=text, blocks=[])
        elif self._ts is not None:
            await self._client.chat_update(channel=self._channel, ts=self._ts, text=text, blocks=[])
        else:
            await self._post(text, None)

    async def _post(self, text: str, blocks: list[dict[str, Any]] | None) -> None:
        await self._client.chat_postMessage(
            channel=self._channel,
            thread_ts=self._thread,
            text=text,
            blocks=blocks,
            unfurl_links=False,
            unfurl_media=False,
        )

    def __repr__(self) -> str:
        return f"SlackReplyStream({self._channel}/{self._thread}, private={self._private})"
