"""Who is asking: the directory port and its file implementation (users -> groups, channels -> members)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from bot.errors import ConfigurationError, Language
from policies import Member

__all__ = ["DirectoryUser", "FileDirectory"]


@dataclass(frozen=True)
class DirectoryUser:
    """A person the directory knows."""

    email: str
    name: str
    groups: frozenset[str]
    locale: Language = "ja"

    def member(self) -> Member:
        """As the policy engine sees them."""
        return Member(self.email, self.groups, known=True)


class _User(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: str
    name: str = ""
    groups: list[str] = []
    locale: Language = "ja"


class _Channel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = ""
    members: list[str] = []


class _DirectoryFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    users: list[_User] = []
    channels: dict[str, _Channel] = {}


class FileDirectory:
    """A directory read from YAML; emails compare case-insensitively."""

    def __init__(self, users: list[DirectoryUser], channels: dict[str, tuple[str, list[str]]]) -> None:
        self._users = {u.email.lower(): u for u in users}
        self._channels = channels

    @classmethod
    def load(cls, path: Path) -> FileDirectory:
        """Read and validate a directory file; ConfigurationError with the reason if it is bad."""
        try:
            parsed = _DirectoryFile.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
        except (OSError, UnicodeDecodeError, yaml.YAMLError, ValidationError) as exc:
            raise ConfigurationError(f"{path}: unusable directory file: {str(exc).splitlines()[0]}") from exc
        users = [DirectoryUser(u.email.lower(), u.name or u.email, frozenset(u.groups), u.locale) for u in parsed.users]
        channels = {cid: (c.name or cid, [m.lower() for m in c.members]) for cid, c in parsed.channels.items()}
        return cls(users, channels)

    async def user(self, ref: str) -> DirectoryUser | None:
        """The user with this email, or None."""
        return self._users.get(ref.strip().lower())

    async def channel_members(self, channel_id: str) -> tuple[Member, ...] | None:
        """Everyone in a channel; people not in the directory count as members with no rights.
        None when the channel is unknown."""
        channel = self._channels.get(channel_id)
        if channel is None:
            return None
        return tuple(
            self._users[m].member() if m in self._users else Member(m, frozenset(), known=False) for m in channel[1]
        )

    async def locale(self, ref: str) -> Language | None:
        """The language the user reads, from the directory file; None if unknown."""
        user = self._users.get(ref.strip().lower())
        return user.locale if user else None

    def users(self) -> list[DirectoryUser]:
        """Everyone, in file order."""
        return list(self._users.values())

    def channels(self) -> dict[str, str]:
        """Channel id -> name."""
        return {cid: name for cid, (name, _) in self._channels.items()}
