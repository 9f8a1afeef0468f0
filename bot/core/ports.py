"""What the pipeline needs from the outside, as protocols named by capability."""

from __future__ import annotations

from typing import Protocol

from bot.audit.store import AuditEntry
from bot.identity import DirectoryUser
from policies import Member, Policy
from policies.model import Usage

__all__ = ["AuditLog", "Directory", "PolicySource", "Signals"]


class Directory(Protocol):
    """Who people are and who is in which channel."""

    async def user(self, ref: str) -> DirectoryUser | None:
        """The user an adapter's reference (an email) names, or None if unknown."""
        ...

    async def channel_members(self, channel_id: str) -> tuple[Member, ...] | None:
        """Everyone who sees replies in the channel; None if the channel is unknown."""
        ...


class PolicySource(Protocol):
    """The policy in force now (reloadable)."""

    def current(self) -> Policy:
        """The policy to decide with."""
        ...


class Signals(Protocol):
    """Facts about a request that need I/O: topic similarity, recent usage."""

    async def topic_scores(self, policy: Policy, text: str) -> dict[str, float]:
        """Topic name -> similarity of ``text`` to the topic's example questions."""
        ...

    async def usage(self, user_email: str | None) -> Usage:
        """What the user has used recently."""
        ...


class AuditLog(Protocol):
    """Where every request leaves its record."""

    async def append(self, entry: AuditEntry) -> str:
        """Append one record; return its id."""
        ...
