"""Who a Slack user is: Slack id → email (``users.info``) → Kura's directory; channel members
(``conversations.members``) and what kind of channel it is (``conversations.info``: public,
private, a group DM, shared with another organisation). Cached briefly. People from other
workspaces (Slack Connect) are members with no rights, whatever their email.

Lookups of the same id that overlap share one Web API call: when many mentions arrive at once
(after a restart, or when the cache expires) Slack sees one ``users.info`` per person and one
``conversations.members`` per channel, not one per mention, which would run into its rate limits.

Big channels: when a channel has more members whose profiles are not cached than
``bulk_threshold``, the whole workspace's profiles are read with ``users.list`` (200 a page) instead
of one ``users.info`` each: a channel of 3,000 costs 15 pages of members and the workspace's pages
of users, not 3,000 calls. In a shared channel nobody's profile is needed: another organisation
reads it, so answers there use public documents only whoever the members are; members not already
known count as members with no rights (the asker was looked up before, so is known).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters.cache import Shared, TTLCache
from bot.adapters.slack.translate import language_of
from bot.errors import DirectoryUnavailable, Language
from bot.identity import DirectoryUser, FileDirectory
from policies import ChannelKind, Member

__all__ = ["SlackDirectory", "SlackProfile", "kind_of"]

#: Member profiles fetched at once when a channel's members are first looked up.
MEMBER_LOOKUPS = 8
#: More uncached members than this: read every profile with ``users.list`` instead.
BULK_THRESHOLD = 50
#: Page size of ``users.list`` and ``conversations.members`` (Slack recommends at most 200).
PAGE = 200
_USERS_LIST = "*users.list"  # a key no Slack id can be


@dataclass(frozen=True)
class SlackProfile:
    """What Kura needs of a Slack user."""

    user_id: str
    email: str | None
    locale: str | None
    team_id: str | None
    is_bot: bool


class SlackDirectory:
    """The Directory port for Slack user and channel ids (emails are passed to the base directory)."""

    def __init__(
        self,
        client: AsyncWebClient,
        base: FileDirectory,
        *,
        team_id: str | None,
        ttl_s: float,
        bulk_threshold: int = BULK_THRESHOLD,
    ) -> None:
        self._client = client
        self._base = base
        self._team_id = team_id
        self._bulk_threshold = bulk_threshold
        self._profiles = TTLCache(ttl_s)
        self._members = TTLCache(ttl_s)
        self._kinds = TTLCache(ttl_s)
        self._member_ids = TTLCache(ttl_s)
        self._listed = TTLCache(ttl_s)
        self._profile_calls = Shared()
        self._member_calls = Shared()
        self._kind_calls = Shared()

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
        profile = _profile_of(user_id, response["user"])
        self._profiles.put(user_id, profile)
        return profile

    async def _fill_profiles(self) -> None:
        """Every profile of the workspace into the cache, a page of ``users.list`` at a time (once
        per cache lifetime; overlapping callers share the listing)."""
        if self._listed.get(_USERS_LIST) is None:
            await self._profile_calls.run(_USERS_LIST, self._list_users)

    async def _list_users(self) -> None:
        cursor: str | None = None
        try:
            while True:
                response = await self._client.users_list(cursor=cursor, limit=PAGE, include_locale=True)
                listed: list[Any] = response.get("members") or []
                for user in listed:
                    if isinstance(user, dict) and user.get("id"):
                        self._profiles.put(str(user["id"]), _profile_of(str(user["id"]), user))
                cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
                if not cursor:
                    break
        except SlackApiError as exc:
            raise DirectoryUnavailable(f"users.list failed: {exc.response.get('error')}") from exc
        except SlackClientError as exc:
            raise DirectoryUnavailable("users.list failed") from exc
        self._listed.put(_USERS_LIST, True)

    def _ours(self, profile: SlackProfile) -> bool:
        return self._team_id is None or profile.team_id in (None, self._team_id)

    async def user(self, ref: str) -> DirectoryUser | None:
        """A Slack user id (or an email) as a directory user; None if unknown, email-less or external."""
        if "@" in ref:
            return await self._base.user(ref)
        return await self._user_of(await self.profile(ref))

    async def _user_of(self, profile: SlackProfile | None) -> DirectoryUser | None:
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

    async def channel_kind(self, channel_id: str) -> ChannelKind | None:
        """What kind of channel it is (``conversations.info``, cached); None when Slack does not
        know it or Kura may not see it."""
        cached = self._kinds.get(channel_id)
        if isinstance(cached, ChannelKind):
            return cached
        return await self._kind_calls.run(channel_id, lambda: self._fetch_kind(channel_id))

    async def _fetch_kind(self, channel_id: str) -> ChannelKind | None:
        try:
            response = await self._client.conversations_info(channel=channel_id)
        except SlackApiError as exc:
            if exc.response.get("error") in (
                "channel_not_found",
                "not_in_channel",
                "method_not_supported_for_channel_type",
            ):
                return None
            raise DirectoryUnavailable(f"conversations.info failed: {exc.response.get('error')}") from exc
        except SlackClientError as exc:
            raise DirectoryUnavailable("conversations.info failed") from exc
        kind = kind_of(response.get("channel") or {})
        self._kinds.put(channel_id, kind)
        return kind

    async def channel_members(self, channel_id: str) -> tuple[Member, ...] | None:
        """Every human member of the channel; None when Slack does not know the channel."""
        cached = self._members.get(channel_id)
        if isinstance(cached, tuple):
            return await self._as_members(cached)
        ids = self._member_ids.get(channel_id)
        if isinstance(ids, tuple):
            return await self._known_so_far(ids)
        return await self._member_calls.run(channel_id, lambda: self._fetch_members(channel_id))

    async def _fetch_members(self, channel_id: str) -> tuple[Member, ...] | None:
        ids: list[str] = []
        cursor: str | None = None
        try:
            while True:
                response = await self._client.conversations_members(channel=channel_id, cursor=cursor, limit=PAGE)
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
        kind = await self.channel_kind(channel_id)
        if kind is not None and kind.shared:
            # Another organisation reads it: answers there are public-only whoever the members
            # are, so no profile is worth a call. The ids are kept; the members are who is known
            # at each call (an asker was looked up just before asking).
            self._member_ids.put(channel_id, tuple(ids))
            return await self._known_so_far(ids)
        if sum(1 for i in ids if not isinstance(self._profiles.get(i), SlackProfile)) > self._bulk_threshold:
            await self._fill_profiles()
        lookups = asyncio.Semaphore(MEMBER_LOOKUPS)

        async def member(member_id: str) -> tuple[str, SlackProfile | None]:
            async with lookups:
                return member_id, await self.profile(member_id)

        found = await asyncio.gather(*(member(member_id) for member_id in ids), return_exceptions=True)
        failed = next((f for f in found if isinstance(f, BaseException)), None)
        if failed is not None:
            raise failed
        # Profiles are cached, not the members they make: groups come from the directory at every
        # call, so a change to the directory file holds at once, not after the cache expires.
        profiles = tuple(f for f in found if not isinstance(f, BaseException))
        self._members.put(channel_id, profiles)
        return await self._as_members(profiles)

    async def _as_members(self, profiles: Sequence[tuple[str, SlackProfile | None]]) -> tuple[Member, ...]:
        found = [await self._as_member(member_id, profile) for member_id, profile in profiles]
        return tuple(m for m in found if m is not None)

    async def _known_so_far(self, ids: Sequence[str]) -> tuple[Member, ...]:
        """Members from cached profiles only (no call); anyone not cached counts as an outsider."""
        found = [await self._as_member(i, self._profiles.get(i)) for i in ids]
        return tuple(m for m in found if m is not None)

    async def _as_member(self, member_id: str, profile: SlackProfile | None) -> Member | None:
        if profile is not None and profile.is_bot:
            return None  # bots (Kura included) read nothing
        user = await self._user_of(profile)
        return user.member() if user else Member(member_id, frozenset(), known=False)


def _profile_of(user_id: str, user: dict[str, Any]) -> SlackProfile:
    """A ``users.info``/``users.list`` user object as the profile Kura keeps."""
    return SlackProfile(
        user_id=user_id,
        email=(user.get("profile") or {}).get("email"),
        locale=user.get("locale"),
        team_id=user.get("team_id"),
        is_bot=bool(user.get("is_bot")) or user_id == "USLACKBOT",
    )


def kind_of(channel: dict[str, Any]) -> ChannelKind:
    """A conversation object's kind. Any sharing flag (another organisation, other workspaces of
    the org, an invitation pending) makes it shared: people Kura cannot vet may read it. Neither
    private nor a DM: public (the wider audience, also when a flag is missing)."""
    shared = any(
        bool(channel.get(flag)) for flag in ("is_shared", "is_ext_shared", "is_org_shared", "is_pending_ext_shared")
    )
    if channel.get("is_im") or channel.get("is_mpim"):
        return ChannelKind("direct", shared)
    if channel.get("is_private") or channel.get("is_group"):
        return ChannelKind("private", shared)
    return ChannelKind("public", shared)
