"""Who a Teams user is: Teams id → the Bot Connector's member record (email / UPN, tenant, role) →
Kura's directory, optionally with the person's Entra groups from Graph; who reads a conversation
(its roster: a standard channel's is the team's, a private or shared channel's its own members, a
group chat's its members) and what kind it is.

Guests, anonymous meeting users and people from other tenants are members with no rights, whatever
their email says: only our own tenant's accounts are looked up in the directory. The Bot Connector
needs the conversation a person is in to describe them, so every inbound activity tells the
directory where its sender and conversation were seen (:meth:`TeamsDirectory.seen`); conversation
references saved in the database cover conversations not heard from since the start.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import aiohttp
from microsoft_agents.activity import ChannelAccount

from bot.adapters.cache import Shared, TTLCache
from bot.adapters.teams.connector import Connectors
from bot.adapters.teams.graph import GraphGroups, is_object_id
from bot.adapters.teams.translate import channel_kind_of, language_of
from bot.chat_refs import ChatRefs
from bot.errors import DirectoryUnavailable, Language, UpstreamError
from bot.identity import DirectoryUser, FileDirectory
from policies import ChannelKind, Member

__all__ = ["TeamsDirectory", "TeamsProfile"]

_log = logging.getLogger(__name__)
#: Members per page of ``pagedmembers`` (the connector allows up to 500).
PAGE = 500
#: Pages read for one roster at most (100,000 people).
MAX_PAGES = 200
#: People looked up at once (directory, and Graph when groups come from Entra).
LOOKUPS = 8


@dataclass(frozen=True)
class TeamsProfile:
    """What Kura needs of a Teams member record."""

    user_id: str
    email: str | None
    tenant_id: str | None
    role: str | None
    aad_object_id: str | None


@dataclass(frozen=True)
class _Where:
    service_url: str
    conversation_id: str
    kind: ChannelKind | None = None


def _extra(account: ChannelAccount, name: str) -> Any:
    extra = account.model_extra or {}
    return extra.get(name)


def _profile_of(account: ChannelAccount) -> TeamsProfile:
    email = _extra(account, "email") or _extra(account, "userPrincipalName")
    return TeamsProfile(
        user_id=str(account.id),
        email=str(email).strip().lower() if email else None,
        tenant_id=account.tenant_id or _extra(account, "tenantId"),
        role=_extra(account, "userRole"),
        aad_object_id=account.aad_object_id,
    )


def _status(exc: BaseException) -> int | None:
    return exc.status if isinstance(exc, aiohttp.ClientResponseError) else None


def _unless_gone(exc: BaseException, what: str) -> None:
    """Nothing when the Bot Connector does not know the person or conversation (404: the caller
    returns None); otherwise the lookup failed: :class:`DirectoryUnavailable` (the core fails closed)."""
    if _status(exc) == 404:
        return None
    raise DirectoryUnavailable(f"the Teams {what} lookup failed ({_status(exc) or type(exc).__name__})") from exc


class TeamsDirectory:
    """The Directory port for Teams user and conversation ids (emails go to the base directory)."""

    def __init__(
        self,
        connectors: Connectors,
        base: FileDirectory,
        refs: ChatRefs,
        *,
        tenant_id: str | None,
        ttl_s: float,
        graph: GraphGroups | None = None,
        group_names: Mapping[str, str] | None = None,
    ) -> None:
        self._connectors = connectors
        self._base = base
        self._refs = refs
        self._tenant = tenant_id
        self._graph = graph
        self._names_by_id: dict[str, set[str]] = {}
        for name, object_id in (group_names or {}).items():
            self._names_by_id.setdefault(object_id.strip().lower(), set()).add(name)
        self._profiles = TTLCache(ttl_s)
        self._rosters = TTLCache(ttl_s)
        self._profile_calls = Shared()
        self._roster_calls = Shared()
        self._where_users: dict[str, _Where] = {}
        self._where_conversations: dict[str, _Where] = {}
        self._locales: dict[str, Language] = {}
        self._ids_by_email: dict[str, str] = {}

    def seen(self, activity: Mapping[str, Any], channel_id: str | None) -> None:
        """Remember where an inbound activity's sender and conversation are reached."""
        service_url = str(activity.get("serviceUrl") or "")
        conversation = str((activity.get("conversation") or {}).get("id") or "")
        sender = str((activity.get("from") or {}).get("id") or "")
        if not service_url or not conversation:
            return
        where = _Where(service_url, conversation.split(";", 1)[0], channel_kind_of(activity))
        if sender:
            self._where_users[sender] = where
            locale = language_of(activity.get("locale"))
            if locale is not None:
                self._locales[sender] = locale
        if channel_id is not None:
            self._where_conversations[channel_id] = where

    async def _where(self, conversation_id: str) -> _Where | None:
        known = self._where_conversations.get(conversation_id)
        if known is not None:
            return known
        ref = await self._refs.find("teams", conversation_id)
        if ref is None:
            return None
        kind = ChannelKind("direct") if ref.kind == "groupChat" else None
        return _Where(ref.service_url, ref.conversation_id, kind)

    # ------------------------------------------------------------------ people

    async def profile(self, user_id: str) -> TeamsProfile | None:
        """The member record of a Teams user (cached); None when no conversation they were seen in
        knows them."""
        cached = self._profiles.get(user_id)
        if isinstance(cached, TeamsProfile):
            return cached
        where = self._where_users.get(user_id)
        if where is None:
            return None
        return await self._profile_calls.run(user_id, lambda: self._fetch_profile(user_id, where))

    async def _fetch_profile(self, user_id: str, where: _Where) -> TeamsProfile | None:
        try:
            async with self._connectors.open(where.service_url) as client:
                account = await client.conversations.get_conversation_member(where.conversation_id, user_id)
        except (aiohttp.ClientError, TimeoutError, UpstreamError) as exc:
            _unless_gone(exc, "member")
            return None
        profile = _profile_of(account)
        self._keep(profile)
        return profile

    def _keep(self, profile: TeamsProfile) -> None:
        self._profiles.put(profile.user_id, profile)
        if profile.email is not None and self._ours(profile):
            self._ids_by_email[profile.email] = profile.user_id

    def member_id_for(self, email: str) -> str | None:
        """The Teams id of someone Kura has met (asked, or on a roster it read), by email."""
        return self._ids_by_email.get(email.strip().lower())

    def _ours(self, profile: TeamsProfile) -> bool:
        if profile.role in ("guest", "anonymous"):
            return False
        return self._tenant is None or profile.tenant_id in (None, self._tenant)

    async def _user_of(self, profile: TeamsProfile | None) -> DirectoryUser | None:
        if profile is None or profile.email is None or not self._ours(profile):
            return None
        user = await self._base.user(profile.email)
        if user is None:
            return None
        if self._graph is not None and profile.aad_object_id:
            entra = await self._entra_groups(profile.aad_object_id)
            if entra:
                user = replace(user, groups=user.groups | entra)
        locale = self._locales.get(profile.user_id)
        return replace(user, locale=locale) if locale else user

    async def _entra_groups(self, object_id: str) -> frozenset[str]:
        """The person's Entra groups as ``OBJECT-ID`` (lower case) and the Kura names mapped to them;
        never display names (not unique; people may create groups)."""
        if self._graph is None:
            return frozenset()
        found = await self._graph.groups_of(object_id) or frozenset()
        ids = {g.lower() for g in found if is_object_id(g)}
        return frozenset(ids | {name for i in ids for name in self._names_by_id.get(i, ())})

    async def user(self, ref: str) -> DirectoryUser | None:
        """A Teams user id (or an email) as a directory user; None if unknown, a guest, anonymous or
        from another tenant."""
        if "@" in ref:
            return await self._base.user(ref)
        return await self._user_of(await self.profile(ref))

    async def locale(self, ref: str) -> Language | None:
        """The language of the person's Teams client (the locale of their last activity)."""
        if "@" in ref:
            return await self._base.locale(ref)
        return self._locales.get(ref)

    # ------------------------------------------------------------------ conversations

    async def channel_kind(self, channel_id: str) -> ChannelKind | None:
        """A group chat is direct; a channel is private to its roster (a standard channel's roster
        is the team), shared when Teams says so; None when the conversation is unknown."""
        where = await self._where(channel_id)
        if where is None:
            return None
        return where.kind or ChannelKind("private")

    async def channel_members(self, channel_id: str) -> tuple[Member, ...] | None:
        """Everyone on the conversation's roster; None when it is unknown."""
        where = await self._where(channel_id)
        if where is None:
            return None
        cached = self._rosters.get(channel_id)
        if not isinstance(cached, tuple):
            cached = await self._roster_calls.run(channel_id, lambda: self._fetch_roster(where))
            if cached is None:
                return None
        return await self._as_members(cached)

    async def _fetch_roster(self, where: _Where) -> tuple[TeamsProfile, ...] | None:
        profiles: list[TeamsProfile] = []
        token: str | None = None
        try:
            async with self._connectors.open(where.service_url) as client:
                for _ in range(MAX_PAGES):
                    page = await client.conversations.get_conversation_paged_members(where.conversation_id, PAGE, token)
                    profiles.extend(_profile_of(account) for account in page.members or ())
                    token = page.continuation_token
                    if not token:
                        break
        except (aiohttp.ClientError, TimeoutError, UpstreamError) as exc:
            _unless_gone(exc, "roster")
            return None
        for profile in profiles:
            self._keep(profile)
        found = tuple(profiles)
        self._rosters.put(where.conversation_id, found)
        return found

    async def _as_members(self, profiles: tuple[TeamsProfile, ...]) -> tuple[Member, ...]:
        # Groups come from the directory (and Graph) at every call: the roster is cached, not rights.
        lookups = asyncio.Semaphore(LOOKUPS)

        async def user_of(profile: TeamsProfile) -> DirectoryUser | None:
            async with lookups:
                return await self._user_of(profile)

        users = await asyncio.gather(*(user_of(p) for p in profiles))
        return tuple(
            user.member() if user is not None else Member(p.user_id, frozenset(), known=False)
            for p, user in zip(profiles, users, strict=True)
        )
