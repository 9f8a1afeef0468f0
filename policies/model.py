"""Values the policy engine reads and returns. All frozen; no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Literal

__all__ = [
    "ACTIONS",
    "ChannelKind",
    "ChannelRules",
    "Classification",
    "Decision",
    "FaqRules",
    "GroupRule",
    "Member",
    "Policy",
    "RateLimit",
    "Request",
    "Retention",
    "RoleRule",
    "Scope",
    "TopicRule",
    "Usage",
    "Visibility",
]

#: Every action a request may ask for. Anything else is denied.
ACTIONS: tuple[str, ...] = ("ask", "minutes", "admin", "audit_export")

Visibility = Literal["direct", "channel"]


class Classification(IntEnum):
    """Data classes, ordered: a clearance of X reads X and everything below."""

    PUBLIC = 0
    INTERNAL = 1
    CONFIDENTIAL = 2
    SECRET = 3

    @classmethod
    def parse(cls, name: str) -> Classification:
        """Return the level named ``name`` (case-insensitive); ValueError if there is none."""
        try:
            return cls[name.strip().upper()]
        except KeyError:
            raise ValueError(f"unknown classification {name!r}") from None

    @property
    def label(self) -> str:
        """The lower-case name used in files and SQL."""
        return self.name.lower()


@dataclass(frozen=True)
class RoleRule:
    """What a role may do, and the clearance it brings."""

    name: str
    actions: frozenset[str]
    clearance: Classification | None
    line: int = 0


@dataclass(frozen=True)
class GroupRule:
    """What membership of a directory group brings: roles and/or a clearance."""

    name: str
    roles: tuple[str, ...]
    clearance: Classification | None
    line: int = 0


@dataclass(frozen=True)
class ChannelRules:
    """Where Kura answers at all, and who sees channel answers."""

    direct_messages: bool = True
    allow: frozenset[str] = frozenset()  # empty: every known channel
    deny: frozenset[str] = frozenset()
    visibility: Visibility = "channel"  # "direct": channel answers go to the asker alone (ephemeral)
    line: int = 0
    #: The principals every member of the workspace holds: who reads a public channel, including
    #: people who join later. ``{"public"}`` (the default): public channels get public documents only.
    workspace_audience: frozenset[str] = frozenset({"public"})
    workspace_line: int = 0


ChannelAccess = Literal["public", "private", "direct"]


@dataclass(frozen=True)
class ChannelKind:
    """Who can read a channel besides the members it has now.

    ``public``: anyone in the workspace may join and read its history (the workspace audience reads
    it). ``private``: its members only. ``direct``: a DM or group DM, its members only. ``shared``:
    connected to another organisation (Slack Connect), whose people read it with no rights in our
    directory, now or once they are added. The default is the strictest unshared kind: public.
    """

    access: ChannelAccess = "public"
    shared: bool = False

    @property
    def label(self) -> str:
        """``public``, ``private shared`` …, for explanations."""
        return f"{self.access} shared" if self.shared else self.access


@dataclass(frozen=True)
class TopicRule:
    """Questions on a topic only for some principals: matched by keywords or by similarity to
    example questions (the caller computes the similarity; the engine compares it)."""

    name: str
    allow: frozenset[str]
    keywords: tuple[str, ...]
    examples: tuple[str, ...]
    threshold: float
    message_ja: str
    message_en: str
    line: int = 0


@dataclass(frozen=True)
class RateLimit:
    """Capacity a role grants; a user gets the most generous of their roles' limits."""

    role: str
    requests_per_minute: int | None
    tokens_per_day: int | None
    line: int = 0


@dataclass(frozen=True)
class Retention:
    """How long each class of audit data is kept, in days; None keeps it for good.

    ``question_text`` and ``answer_text``: the encrypted text of audit records (removed, the hashes
    stay); ``minutes_text`` the same for meeting minutes. ``audit_metadata``: the records
    themselves, with their feedback (removed from the oldest on, behind a signed retention anchor
    that the chain's verification starts from).
    """

    question_text_days: int | None = None
    answer_text_days: int | None = None
    audit_metadata_days: int | None = None
    line: int = 0
    #: ``minutes_text``: the text of meeting minutes (as ``answer_text`` when the file does not say).
    minutes_text_days: int | None = None


@dataclass(frozen=True)
class FaqRules:
    """``faq:``: when a frequent question becomes an FAQ entry and when an entry answers.

    ``min_askers``: distinct people who must have asked a question (paraphrases together) before it
    becomes a candidate; ``match``: the similarity (0-1) a new question needs to an approved entry to
    be answered from it; ``verify_every_days``: an approved entry goes back to review this long after
    it was last verified (None: never for age alone).
    """

    min_askers: int = 3
    match: float = 0.95
    verify_every_days: int | None = 180
    line: int = 0


@dataclass(frozen=True)
class Policy:
    """A loaded, validated policy."""

    roles: dict[str, RoleRule]
    groups: dict[str, GroupRule]
    default_route: str = "local"
    source: str = "<memory>"
    version: str = "0"
    channels: ChannelRules = ChannelRules()
    topics: tuple[TopicRule, ...] = ()
    rate_limits: tuple[RateLimit, ...] = ()
    #: Classification label -> model endpoints allowed for data of that class. Missing: local only.
    routing: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: None when the file has no ``retention:`` section (the operator's settings then apply).
    retention: Retention | None = None
    #: FAQ rules; the defaults when the file has no ``faq:`` section.
    faq: FaqRules = FaqRules()


@dataclass(frozen=True)
class Usage:
    """What a user has used recently (counted by the caller, across replicas)."""

    requests_last_minute: int = 0
    tokens_today: int = 0


@dataclass(frozen=True)
class Member:
    """A person as the directory knows them; ``known=False`` means a member with no rights."""

    user_id: str
    groups: frozenset[str] = frozenset()
    known: bool = True


@dataclass(frozen=True)
class Request:
    """What is asked: an action by a principal, in a DM (``channel_id`` None) or a channel."""

    action: str
    principal: Member | None
    channel_id: str | None = None
    #: Everyone who will see the reply in the channel; None when the channel is unknown.
    channel_members: tuple[Member, ...] | None = None
    #: Who else reads the channel (the workspace, another organisation); public unless told.
    channel_kind: ChannelKind = ChannelKind()
    #: The question, for topic keywords.
    text: str = ""
    #: Topic name -> similarity of the question to the topic's examples (0..1).
    topic_scores: dict[str, float] = field(default_factory=dict)
    usage: Usage = Usage()


@dataclass(frozen=True)
class Scope:
    """What retrieval may return: a chunk must match *every* principal set, within the clearance.

    One set per distinct reader of the reply (their ``public``, ``user:``, ``group:``, ``role:``
    principals). A chunk is readable when its access list intersects each set.
    """

    principal_sets: tuple[frozenset[str], ...]
    clearance: Classification


@dataclass(frozen=True)
class Decision:
    """The policy's answer, as a value. A denial carries its reason; it is not an exception."""

    allowed: bool
    reason_code: str
    reason: str
    scope: Scope | None = None
    route: str = "local"
    visibility: Visibility = "direct"
    roles: tuple[str, ...] = ()
    rules: tuple[str, ...] = field(default_factory=tuple)
    #: A rule's own words for the user (topic rules), shown instead of the generic refusal.
    message_ja: str | None = None
    message_en: str | None = None
