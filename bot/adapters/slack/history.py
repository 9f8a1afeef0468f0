"""Slack's message history: ``SlackHistory`` reads a thread before a message (follow-ups), a whole
thread, or a channel's messages in a period (minutes), marked by author and named by speaker."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.adapters.slack.translate import history_message
from bot.core.types import HistoryMessage
from bot.errors import UpstreamError

__all__ = ["SlackHistory"]

_log = logging.getLogger(__name__)

#: Pages of ``conversations.replies`` read for one thread (200 messages each): the newest turns
#: are what matter, and Slack returns threads oldest first.
_MAX_PAGES = 10
#: Pages of ``conversations.history`` read for one period. The method is Tier 3 (about 50 a minute),
#: but for apps created after 2025-05-29 and not on the Marketplace Slack allows 1 request a minute
#: and 15 messages a page: 50 pages is then 750 messages and most of an hour (the client waits out
#: each 429's ``Retry-After``). Past the cap the newest messages are kept and a warning is logged.
_MAX_CHANNEL_PAGES = 50
_PAGE = 200
#: Message subtypes that are something someone said; joins, leaves, topic changes and pins are not.
_SAID = frozenset({None, "bot_message", "file_share", "me_message", "thread_broadcast"})

_Page = Callable[[str | None], Awaitable[AsyncSlackResponse]]


def _ts_key(ts: str) -> tuple[int, int]:
    seconds, _, micros = ts.partition(".")
    return int(seconds or 0), int((micros or "0").ljust(6, "0")[:6])


def _ts_of(when: datetime) -> str:
    """A Slack ts (seconds.micros) for an aware or naive (taken as local) time."""
    return f"{when.timestamp():.6f}"


class SlackHistory:
    """The History and ChannelHistory ports: ``conversations.history`` and ``conversations.replies``,
    paged, marked by author; speakers are ``users.info`` display names, looked up once per person."""

    def __init__(self, client: AsyncWebClient, *, bot_user_id: str, bot_id: str | None) -> None:
        self._client = client
        self._bot_user = bot_user_id
        self._bot_id = bot_id
        self._names: dict[str, str] = {}

    async def thread(self, conversation: str, thread: str, before: str | None) -> Sequence[HistoryMessage]:
        """The thread's messages before ``before``, oldest first (the newest when it is very long)."""
        limit = _ts_key(before) if before else None
        found = await self._replies(conversation, thread)
        return [
            history_message(m, self._bot_user, self._bot_id)
            for m in found
            if limit is None or _ts_key(str(m.get("ts", ""))) < limit
        ]

    async def whole_thread(self, conversation: str, thread: str) -> Sequence[HistoryMessage]:
        """Every message of the thread, the parent first, with speakers."""
        return await self._named([m for m in await self._replies(conversation, thread) if _said(m)])

    async def channel(self, conversation: str, since: datetime, until: datetime | None) -> Sequence[HistoryMessage]:
        """Top-level messages posted in [since, until) and their threads' replies in that period,
        oldest first, with speakers. A thread started before ``since`` is not read (Slack lists
        threads by their first message), though replies to it may fall in the period."""
        low = _ts_key(_ts_of(since))
        high = _ts_key(_ts_of(until)) if until is not None else None

        def inside(message: Mapping[str, Any]) -> bool:
            at = _ts_key(str(message.get("ts", "")))
            return at >= low and (high is None or at < high)

        async def page(cursor: str | None) -> AsyncSlackResponse:
            return await self._client.conversations_history(
                channel=conversation,
                oldest=_ts_of(since),
                latest=_ts_of(until) if until is not None else None,
                inclusive=True,
                limit=_PAGE,
                cursor=cursor,
            )

        top = await _pages("conversations.history", page, _MAX_CHANNEL_PAGES)
        seen: dict[str, Mapping[str, Any]] = {}
        for message in top:
            if inside(message):
                seen.setdefault(str(message.get("ts", "")), message)
            if message.get("reply_count") and message.get("thread_ts") == message.get("ts"):
                for reply in await self._replies(conversation, str(message["ts"])):
                    if inside(reply):
                        seen.setdefault(str(reply.get("ts", "")), reply)
        ordered = sorted((m for m in seen.values() if _said(m)), key=lambda m: _ts_key(str(m.get("ts", ""))))
        return await self._named(ordered)

    async def _replies(self, conversation: str, thread: str) -> list[Mapping[str, Any]]:
        async def page(cursor: str | None) -> AsyncSlackResponse:
            return await self._client.conversations_replies(channel=conversation, ts=thread, limit=_PAGE, cursor=cursor)

        return await _pages("conversations.replies", page, _MAX_PAGES)

    async def _named(self, messages: Sequence[Mapping[str, Any]]) -> list[HistoryMessage]:
        """The messages as history, each with its speaker's name (their user id when it cannot be
        looked up; a bot's own name when it posted as no user)."""
        failed: set[str] = set()
        named: list[HistoryMessage] = []
        for message in messages:
            found = history_message(message, self._bot_user, self._bot_id)
            if found.user:
                speaker = await self._name(found.user, failed)
            else:
                profile = message.get("bot_profile")
                bot_name = profile.get("name") if isinstance(profile, Mapping) else None
                speaker = str(message.get("username") or bot_name or message.get("bot_id") or "")
            named.append(replace(found, speaker=speaker))
        return named

    async def _name(self, user: str, failed: set[str]) -> str:
        """Cached for the life of this instance; a failed lookup is tried again on the next read only."""
        if user in self._names:
            return self._names[user]
        if user in failed:
            return user
        try:
            response = await self._client.users_info(user=user)
        except (SlackApiError, SlackClientError, aiohttp.ClientError, TimeoutError) as exc:
            _log.warning("slack speaker lookup failed error=%s", type(exc).__name__)
            failed.add(user)
            return user
        found = response.get("user") or {}
        profile = found.get("profile") or {}
        name = str(profile.get("display_name") or profile.get("real_name") or found.get("name") or user)
        self._names[user] = name
        return name


def _said(message: Mapping[str, Any]) -> bool:
    return message.get("subtype") in _SAID


async def _pages(method: str, page: _Page, max_pages: int) -> list[Mapping[str, Any]]:
    """Every message of a paged method, up to ``max_pages`` pages; Slack's refusals as UpstreamError."""
    messages: list[Mapping[str, Any]] = []
    cursor: str | None = None
    try:
        for _ in range(max_pages):
            response = await page(cursor)
            messages.extend(response.get("messages") or [])
            cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                return messages
    except SlackApiError as exc:
        raise UpstreamError(f"{method} failed: {exc.response.get('error')}") from exc
    except (SlackClientError, aiohttp.ClientError, TimeoutError) as exc:
        raise UpstreamError(f"{method} failed: Slack could not be reached ({type(exc).__name__})") from exc
    _log.warning("slack history truncated method=%s pages=%s", method, max_pages)
    return messages
