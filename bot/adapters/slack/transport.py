"""Slack's Transport port: ``SlackTransport`` (reply in a thread, post to a channel, a thread or a
person)."""

from __future__ import annotations

from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters.slack.render import answer_messages
from bot.adapters.slack.stream import SlackReplyStream
from bot.core.types import Destination, InboundMessage, Reply
from bot.errors import UpstreamError
from bot.settings import SlackSettings

__all__ = ["SlackTransport"]


class SlackTransport:
    """Replies and posts through the Web API (``chat:write``, ``im:write``, ``users:read.email``)."""

    platform = "slack"

    def __init__(self, client: AsyncWebClient, settings: SlackSettings, *, team_id: str | None) -> None:
        self._client = client
        self._settings = settings
        self._team = team_id

    def reply(self, message: InboundMessage, *, private: bool) -> SlackReplyStream:
        """A reply in the message's thread (ephemeral to the asker when ``private``)."""
        where = message.where
        if where is None or message.thread_id is None:
            raise ValueError("a Slack message always has a channel and a thread")
        return SlackReplyStream(
            self._client,
            where,
            message.thread_id,
            native=self._settings.streaming == "native",
            interval_s=self._settings.update_interval_s,
            user=message.user,
            team_id=self._team,
            private=private,
        )

    async def post(self, to: Destination, reply: Reply) -> str:
        """Post a finished reply to a channel, a thread, or a person (a DM opened by id or email)."""
        try:
            channel = to.conversation or await self._open_dm(to.user or "")
            first = ""
            for text, blocks in answer_messages(reply):
                response = await self._client.chat_postMessage(
                    channel=channel,
                    thread_ts=to.thread,
                    text=text,
                    blocks=blocks,
                    unfurl_links=False,
                    unfurl_media=False,
                )
                first = first or str(response["ts"])
            return first
        except SlackApiError as exc:
            raise UpstreamError(f"Slack refused the post: {exc.response.get('error')}") from exc
        except SlackClientError as exc:
            raise UpstreamError("Slack could not be reached") from exc

    async def _open_dm(self, user: str) -> str:
        if "@" in user:
            found = await self._client.users_lookupByEmail(email=user)
            user = str(found["user"]["id"])
        opened = await self._client.conversations_open(users=user)
        return str(opened["channel"]["id"])
