"""Teams' Transport port: replies through the turn's context (the SDK's TurnContext for the message
being answered), and posts nobody asked for (jobs) through a saved conversation reference."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import aiohttp
from microsoft_agents.hosting.core import TurnContext

from bot.adapters.teams.connector import Connectors
from bot.adapters.teams.directory import TeamsDirectory
from bot.adapters.teams.render import answer_activity
from bot.adapters.teams.stream import TeamsReplyStream, one_to_one
from bot.chat_refs import ChatRefs, ConversationRef
from bot.core.types import Destination, InboundMessage, Reply
from bot.errors import UpstreamError

__all__ = ["TeamsTransport"]

_GUID = re.compile(r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")


class TeamsTransport:
    """Replies and proactive posts through the Bot Connector."""

    platform = "teams"

    def __init__(
        self,
        connectors: Connectors,
        refs: ChatRefs,
        directory: TeamsDirectory,
        *,
        bot_id: str,
        tenant_id: str | None,
        interval_s: float = 1.0,
    ) -> None:
        self._connectors = connectors
        self._refs = refs
        self._directory = directory
        self._bot_id = bot_id
        self._tenant = tenant_id
        self._interval = interval_s
        self._turns: dict[str, TurnContext] = {}

    @contextmanager
    def turn(self, event_id: str, context: TurnContext) -> Iterator[None]:
        """While a message is answered, replies to it go through its turn's context."""
        self._turns[event_id] = context
        try:
            yield
        finally:
            self._turns.pop(event_id, None)

    def reply(self, message: InboundMessage, *, private: bool) -> TeamsReplyStream:
        """A reply in the message's thread (in the asker's 1:1 chat when ``private``); 1:1 chats stream."""
        context = self._turns.get(message.event_id or "")
        if context is None:
            raise ValueError("a Teams reply needs the turn of the message it answers")
        personal = (
            context.activity.conversation is not None and context.activity.conversation.conversation_type == "personal"
        )
        return TeamsReplyStream(
            context,
            streaming=personal,
            private=private,
            interval_s=self._interval,
            tenant_id=self._tenant,
            on_posted=self._posted,
        )

    async def _posted(self, conversation_id: str, message_id: str, audit_id: str) -> None:
        await self._refs.record_reply(self.platform, conversation_id.split(";", 1)[0], message_id, audit_id)

    async def post(self, to: Destination, reply: Reply) -> str:
        """Post a finished reply to a channel, a thread in it, a chat, or a person's 1:1 chat."""
        try:
            if to.conversation is not None:
                ref = await self._refs.find(self.platform, to.conversation)
                if ref is None:
                    raise UpstreamError("Kura has no reference for that conversation: install Kura there first")
                conversation = to.conversation + (f";messageid={to.thread}" if to.thread else "")
                return await self._send(ref.service_url, conversation, reply)
            return await self._post_direct(to.user or "", reply)
        except aiohttp.ClientResponseError as exc:
            raise UpstreamError(f"Teams refused the post (HTTP {exc.status})") from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise UpstreamError(f"Teams could not be reached ({type(exc).__name__})") from exc

    async def _send(self, service_url: str, conversation: str, reply: Reply) -> str:
        async with self._connectors.open(service_url) as client:
            response = await client.conversations.send_to_conversation(conversation, answer_activity(reply))
        return str(response.id or "")

    async def _post_direct(self, user: str, reply: Reply) -> str:
        """A person by Teams id, Entra object id, or email (of someone Kura has met in Teams)."""
        member = self._directory.member_id_for(user) if "@" in user else user
        if not member or not (member.startswith("29:") or _GUID.match(member)):
            raise UpstreamError("Teams needs a user id, an Entra object id, or the email of someone Kura has met")
        service_url = await self._refs.any_service_url(self.platform)
        if service_url is None:
            raise UpstreamError("Kura has not heard from Teams yet: no service URL to open a chat on")
        async with self._connectors.open(service_url) as client:
            created = await client.conversations.create_conversation(one_to_one(self._bot_id, member, self._tenant))
            response = await client.conversations.send_to_conversation(created.id, answer_activity(reply))
        await self._refs.remember(ConversationRef(self.platform, created.id, service_url, "personal", self._tenant))
        return str(response.id or "")
