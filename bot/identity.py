"""Who is asking: the directory port and its file implementation (users -> groups, channels -> members)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from bot.errors import ConfigurationError, Language
from bot.watched_file import WatchedFile
from policies import Member
from policies.model import ChannelAccess, ChannelKind

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
    # Unmarked channels count as public (the whole workspace reads them): forgetting to mark a
    # channel can only narrow what its answers use, never widen it.
    kind: ChannelAccess = "public"
    shared: bool = False


class _DirectoryFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    users: list[_User] = []
    channels: dict[str, _Channel] = {}


_Channels = dict[str, tuple[str, list[str], ChannelKind]]


@dataclass(frozen=True)
class _Snapshot:
    """One version of the directory file."""

    users: dict[str, DirectoryUser]
    channels: _Channels


def _parse(text: str, source: Path) -> _Snapshot:
    try:
        parsed = _DirectoryFile.model_validate(yaml.safe_load(text) or {})
    except (yaml.YAMLError, ValidationError) as exc:
        raise ConfigurationError(f"{source}: unusable directory file: {str(exc).splitlines()[0]}") from exc
    users = [DirectoryUser(u.email.lower(), u.name or u.email, frozenset(u.groups), u.locale) for u in parsed.users]
    channels = {
        cid: (c.name or cid, [m.lower() for m in c.members], ChannelKind(c.kind, c.shared))
        for cid, c in parsed.channels.items()
    }
    return _Snapshot({u.email: u for u in users}, channels)


class FileDirectory:
    """A directory read from YAML; emails compare case-insensitively. Loaded with ``watch=True``
    it follows the file: a person removed from a group loses what the group gave at the next check
    (``bot.watched_file``: a half-written or cut-off file never takes effect)."""

    def __init__(self, users: list[DirectoryUser], channels: _Channels) -> None:
        self._fixed = _Snapshot({u.email.lower(): u for u in users}, channels)
        self._file: WatchedFile[_Snapshot] | None = None

    @classmethod
    def load(cls, path: Path, *, watch: bool = False, interval_s: float = 1.0, settle_s: float = 1.0) -> FileDirectory:
        """Read and validate a directory file; ConfigurationError with the reason if it is bad."""
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigurationError(f"{path}: unusable directory file: {str(exc).splitlines()[0]}") from exc
        first = _parse(text, path)
        directory = cls([], {})
        directory._fixed = first
        if watch:
            directory._file = WatchedFile(
                path,
                lambda new: _parse(new, path),
                first,
                what="directory",
                errors=(ConfigurationError,),
                interval_s=interval_s,
                settle_s=settle_s,
            )
        return directory

    @property
    def _now(self) -> _Snapshot:
        return self._file.current() if self._file is not None else self._fixed

    @property
    def last_error(self) -> str | None:
        """Why the newest version of a watched file is not in force (None when it is)."""
        return self._file.last_error if self._file is not None else None

    async def user(self, ref: str) -> DirectoryUser | None:
        """The user with this email, or None."""
        return self._now.users.get(ref.strip().lower())

    async def channel_members(self, channel_id: str) -> tuple[Member, ...] | None:
        """Everyone in a channel; people not in the directory count as members with no rights.
        None when the channel is unknown."""
        now = self._now
        channel = now.channels.get(channel_id)
        if channel is None:
            return None
        return tuple(
            now.users[m].member() if m in now.users else Member(m, frozenset(), known=False) for m in channel[1]
        )

    async def channel_kind(self, channel_id: str) -> ChannelKind | None:
        """Who else reads the channel (``kind:``/``shared:`` in the file; public when unmarked);
        None when the channel is unknown."""
        channel = self._now.channels.get(channel_id)
        return None if channel is None else channel[2]

    async def locale(self, ref: str) -> Language | None:
        """The language the user reads, from the directory file; None if unknown."""
        user = self._now.users.get(ref.strip().lower())
        return user.locale if user else None

    def users(self) -> list[DirectoryUser]:
        """Everyone, in file order."""
        return list(self._now.users.values())

    def channels(self) -> dict[str, str]:
        """Channel id -> name."""
        return {cid: name for cid, (name, *_) in self._now.channels.items()}
