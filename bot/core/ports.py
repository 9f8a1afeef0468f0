"""What the pipeline needs from the outside, as protocols named by capability."""

from __future__ import annotations

from typing import Protocol

from bot.audit.store import AuditEntry
from bot.identity import DirectoryUser
from policies import Member, Policy

__all__ = ["AuditLog", "Directory", "PolicySource"]


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


class AuditLog(Protocol):
    """Where every request leaves its record."""

    async def append(self, entry: AuditEntry) -> str:
        """Append one record; return its id."""
        ...
