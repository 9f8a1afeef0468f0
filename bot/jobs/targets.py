"""Where a job reports: ``platform:address``, the platform first so each platform reads its own
addresses (Slack and Teams).

Slack addresses: ``C123`` (a channel), ``C123/1700000000.000100`` (a thread in it), ``@U123`` or
``@someone@example.com`` (a direct message to that user). Teams addresses: ``19:…@thread.tacv2`` (a
channel, or a chat ``19:…@thread.v2``), ``19:…@thread.tacv2/1700000000000`` (a thread: its root
message id), ``@<Entra object id>``, ``@29:…`` or ``@email`` (the person's 1:1 chat with Kura).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from bot.core.types import Destination
from bot.errors import InputError

__all__ = ["PLATFORMS", "Target", "parse_target"]

TargetKind = Literal["channel", "thread", "dm"]


@dataclass(frozen=True)
class Target:
    """A place to post: a channel, a thread in a channel, or a user's direct messages."""

    platform: str
    kind: TargetKind
    channel: str | None = None
    thread: str | None = None
    user: str | None = None

    def destination(self) -> Destination:
        """Where the core's outbox posts."""
        return Destination(self.platform, self.channel, self.thread, self.user)

    def __str__(self) -> str:
        if self.kind == "dm":
            return f"{self.platform}:@{self.user}"
        thread = f"/{self.thread}" if self.thread else ""
        return f"{self.platform}:{self.channel}{thread}"


_SLACK_CHANNEL = re.compile(r"^([CGD][A-Z0-9_]+)(?:/(\d+\.\d+))?$")
_SLACK_USER = re.compile(r"^[UW][A-Z0-9_]+$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _slack(address: str) -> Target:
    if address.startswith("@"):
        user = address[1:]
        if _SLACK_USER.match(user):
            return Target("slack", "dm", user=user)
        if _EMAIL.match(user):
            return Target("slack", "dm", user=user.lower())
        raise InputError(f"bad Slack user {user!r} (a user id such as U0123 or an email)")
    match = _SLACK_CHANNEL.match(address)
    if match is None:
        raise InputError(
            f"bad Slack address {address!r} (C123 for a channel, C123/1700000000.000100 for a thread, "
            "@U123 or @email for a direct message)"
        )
    channel, thread = match.groups()
    return Target("slack", "thread" if thread else "channel", channel=channel, thread=thread)


_TEAMS_CONVERSATION = re.compile(r"^((?:19|a|8):[^/\s;]{1,400})(?:/(\d{1,20}))?$")
_TEAMS_USER = re.compile(r"^(?:29:[^\s;/]{1,200}|[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12})$")


def _teams(address: str) -> Target:
    if address.startswith("@"):
        user = address[1:]
        if _TEAMS_USER.match(user):
            return Target("teams", "dm", user=user)
        if _EMAIL.match(user):
            return Target("teams", "dm", user=user.lower())
        raise InputError(f"bad Teams user {user!r} (an Entra object id, a 29: user id, or an email)")
    match = _TEAMS_CONVERSATION.match(address)
    if match is None:
        raise InputError(
            f"bad Teams address {address!r} (19:…@thread.tacv2 for a channel or chat, …/ROOT-ID for a thread "
            "in a channel, @OBJECT-ID for a person)"
        )
    conversation, thread = match.groups()
    return Target("teams", "thread" if thread else "channel", channel=conversation, thread=thread)


#: Address readers by platform name; a platform adds its own here.
PLATFORMS: dict[str, Callable[[str], Target]] = {"slack": _slack, "teams": _teams}


def parse_target(text: str) -> Target:
    """``platform:address`` as a Target; InputError with one line saying what is wrong."""
    platform, sep, address = text.strip().partition(":")
    if not sep or not address:
        raise InputError(f"bad target {text!r}: expected platform:address, e.g. slack:C0123")
    reader = PLATFORMS.get(platform.lower())
    if reader is None:
        raise InputError(f"unknown platform {platform!r} in target {text!r} ({', '.join(sorted(PLATFORMS))})")
    return reader(address)
