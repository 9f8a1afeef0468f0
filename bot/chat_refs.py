"""Where chat conversations are reached and which message carries which answer, in the database so
every replica (and a job run from the command line) sees them."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.audit.models import ChatConversation, ChatReply

__all__ = ["ChatRefs", "ConversationRef"]


@dataclass(frozen=True)
class ConversationRef:
    """A conversation reference: enough to post into the conversation without being asked."""

    platform: str
    conversation_id: str
    service_url: str
    kind: str
    tenant_id: str | None = None
    team_id: str | None = None


class ChatRefs:
    """Conversation references and reply message ids."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def remember(self, ref: ConversationRef) -> None:
        """Save or refresh a conversation's reference (the service URL can move)."""
        values = {
            "platform": ref.platform,
            "conversation_id": ref.conversation_id,
            "service_url": ref.service_url,
            "kind": ref.kind,
            "tenant_id": ref.tenant_id,
            "team_id": ref.team_id,
        }
        statement = insert(ChatConversation).values(values)
        changed = {name: statement.excluded[name] for name in ("service_url", "kind", "tenant_id", "team_id")}
        statement = statement.on_conflict_do_update(
            index_elements=[ChatConversation.platform, ChatConversation.conversation_id],
            set_={**changed, "updated_at": func.now()},
        )
        async with self._sessions.begin() as session:
            await session.execute(statement)

    async def find(self, platform: str, conversation_id: str) -> ConversationRef | None:
        """The saved reference of a conversation, or None."""
        async with self._sessions() as session:
            row = await session.get(ChatConversation, (platform, conversation_id))
        if row is None:
            return None
        return ConversationRef(row.platform, row.conversation_id, row.service_url, row.kind, row.tenant_id, row.team_id)

    async def any_service_url(self, platform: str) -> str | None:
        """The service URL a conversation was last heard on (to open a new 1:1 chat), or None."""
        statement = (
            select(ChatConversation.service_url)
            .where(ChatConversation.platform == platform)
            .order_by(ChatConversation.updated_at.desc())
            .limit(1)
        )
        async with self._sessions() as session:
            found = (await session.execute(statement)).scalar_one_or_none()
        return None if found is None else str(found)

    async def record_reply(self, platform: str, conversation_id: str, message_id: str, audit_id: str) -> None:
        """Remember that ``message_id`` carries the answer recorded as ``audit_id``."""
        statement = insert(ChatReply).values(
            platform=platform, conversation_id=conversation_id, message_id=message_id, audit_id=audit_id
        )
        async with self._sessions.begin() as session:
            await session.execute(statement.on_conflict_do_nothing())

    async def audit_id_of(self, platform: str, conversation_id: str, message_id: str) -> str | None:
        """The audit id of the answer ``message_id`` carries, or None."""
        async with self._sessions() as session:
            row = await session.get(ChatReply, (platform, conversation_id, message_id))
        return None if row is None else row.audit_id
