"""Who a Slack user is: Slack id → email (``users.info``) → Kura's directory; channel members
(``conversations.members``). Cached briefly. People from other workspaces (Slack Connect) are
members with no rights, whatever their email.

Lookups of the same id that overlap share one Web API call: when many mentions arrive at once
(after a restart, or when the cache expires) Slack sees one ``users.info`` per person and one
``conversations.members`` per channel, not one per mention, which would run into its rate limits.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters.slack.translate import language_of
from bot.errors import DirectoryUnavailable, Language
from bot.identity import DirectoryUser, FileDirectory
from policies import Member

__all__ = ["SlackDirectory", "SlackProfile"]

T = TypeVar("T")
#: Member profiles fetched at once when a channel's members are first looked up.
MEMBER_LOOKUPS = 8


@dataclass(frozen=True)
class SlackProfile:
    """What Kura needs of a Slack user."""

    user_id: str
    email: str | None
    locale: str | None
    team_id: str | None
    is_bot: bool


class _TTLCache:
    def __init__(self, ttl: float) -> None:
        self._ttl = ttl
        self._items: dict[str, tuple[float, Any]] = {}

    def get(self, key: str) -> Any | None:
        hit = self._items.get(key)
        if hit is None or time.monotonic() - hit[0] > self._ttl:
            return None
        return hit[1]

    def put(self, key: str, value: Any) -> None:
        self._items[key] = (time.monotonic(), value)


class _Shared:
    """Concurrent calls for one key await one fetch (its result or its exception)."""

    def __init__(self) -> None:
        self._pending: dict[str, asyncio.Future[Any]] = {}

    async def run(self, key: str, fetch: Callable[[], Awaitable[T]]) -> T:
        future = self._pending.get(key)
        if future is None:
            future = asyncio.ensure_future(fetch())
            self._pending[key] = future
            future.add_done_callback(lambda done: self._done(key, done))
        # A waiter that is cancelled leaves the fetch running for the others.
        result: T = await asyncio.shield(future)
        return result

    def _done(self, key: str, future: asyncio.Future[Any]) -> None:
        if self._pending.get(key) is future:
            del self._pending[key]
        if not future.cancelled():
            future.exception()  # retrieved here too, in case every waiter was cancelled


class SlackDirectory:
    """The Directory port for Slack user and channel ids (emails are passed to the base directory)."""

    def __init__(self, client: AsyncWebClient, base: FileDirectory, *, team_id: str | None, ttl_s: float) -> None:
        self._client = client
        self._base = base
        self._team_id = team_id
        self._profiles = _TTLCache(ttl_s)
        self._members = _TTLCache(ttl_s)
        self._profile_calls = _Shared()
        self._member_calls = _Shared()

    async def profile(self, user_id: str) -> SlackProfile | None:
        """The user's Slack profile (cached); None if Slack does not know them."""
        cached = self._profiles.get(user_id)
        if isinstance(cached, SlackProfile):
            return cached
        return await self._profile_calls.run(user_id, lambda: self._fetch_profile(user_id))

    async def _fetch_profile(self, user_id: str) -> SlackProfile | None:
        try:
            response = await self._client.users_info(user=user_id, include_locale=True)
        except SlackApiError as exc:
            if exc.response.get("error") in ("user_not_found", "user_not_visible"):
                return None
            raise DirectoryUnavailable(f"users.info failed: {exc.response.get('error')}") from exc
        except SlackClientError as exc:
            raise DirectoryUnavailable("users.info failed") from exc
        user = response["user"]
        profile = SlackProfile(
            user_id=user_id,
            email=(user.get("profile") or {}).get("email"),
            locale=user.get("locale"),
            team_id=user.get("team_id"),
            is_bot=bool(user.get("is_bot")) or user_id == "USLACKBOT",
        )
        self._profiles.put(user_id, profile)
        return profile

    def _ours(self, profile: SlackProfile) -> bool:
        return self._team_id is None or profile.team_id in (None, self._team_id)

    async def user(self, ref: str) -> DirectoryUser | None:
        """A Slack user id (or an email) as a directory user; None if unknown, email-less or external."""
        if "@" in ref:
            return await self._base.user(ref)
        profile = await self.profile(ref)
        if profile is None or profile.email is None or profile.is_bot or not self._ours(profile):
            return None
        user = await self._base.user(profile.email)
        if user is None:
            return None
        language = language_of(profile.locale)
        return replace(user, locale=language) if language else user

    async def locale(self, ref: str) -> Language | None:
        """The language set in the person's Slack profile (or the directory, for an email)."""
        if "@" in ref:
            return await self._base.locale(ref)
        profile = await self.profile(ref)
        return language_of(profile.locale) if profile else None

    async def channel_members(self, channel_id: str) -> tuple[Member, ...] | None:
        """Every human member of the channel; None when Slack does not know the channel."""
        cached = self._members.get(channel_id)
        if isinstance(cached, tuple):
            return cached
        return await self._member_calls.run(channel_id, lambda: self._fetch_members(channel_id))

    async def _fetch_members(self, channel_id: str) -> tuple[Member, ...] | None:
        ids: list[str] = []
        cursor: str | None = None
        try:
            while True:
                response = await self._client.conversations_members(channel=channel_id, cursor=cursor, limit=200)
                ids.extend(response.get("members", []))
                cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
                if not cursor:
                    break
        except SlackApiError as exc:
            if exc.response.get("error") in ("channel_not_found", "not_in_channel"):
                return None
            raise DirectoryUnavailable(f"conversations.members failed: {exc.response.get('error')}") from exc
        except SlackClientError as exc:
            raise DirectoryUnavailable("conversations.members failed") from exc
        lookups = asyncio.Semaphore(MEMBER_LOOKUPS)

        async def member(member_id: str) -> Member | None:
            async with lookups:
                profile = await self.profile(member_id)
            if profile is not None and profile.is_bot:
                return None  # bots (Kura included) read nothing
            user = await self.user(member_id) if profile is not None else None
            return user.member() if user else Member(member_id, frozenset(), known=False)

        found = await asyncio.gather(*(member(member_id) for member_id in ids), return_exceptions=True)
        failed = next((f for f in found if isinstance(f, BaseException)), None)
        if failed is not None:
            raise failed
        result = tuple(m for m in found if isinstance(m, Member))
        self._members.put(channel_id, result)
        return result
