"""The optional sections of a policy file (channels, topics, rate limits, routing, retention): their
file shape and their checks, each problem with ``file:line``."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field

from policies.model import (
    ChannelRules,
    Classification,
    FaqRules,
    RateLimit,
    Retention,
    RoleRule,
    TopicRule,
    Visibility,
)
from policies.text import fold_keyword

__all__ = [
    "ENDPOINTS",
    "ChannelsFile",
    "Checker",
    "FaqFile",
    "RateLimitFile",
    "RetentionFile",
    "TopicFile",
    "channels_of",
    "faq_of",
    "parse_days",
    "rate_limits_of",
    "retention_of",
    "routing_of",
    "topics_of",
]

#: Model endpoints a policy may route to: the local model, and an optional second
#: OpenAI-compatible endpoint (a cloud model or a bigger on-prem one).
ENDPOINTS = ("local", "secondary")
_PRINCIPAL = re.compile(r"^(public|(user|group|role):[^\s,]+)$")


class ChannelsFile(BaseModel):
    """``channels:``."""

    model_config = ConfigDict(extra="forbid")
    direct_messages: bool = True
    allow: list[str] = []
    deny: list[str] = []
    visibility: str = "channel"
    #: ``public``, or the principals every workspace member holds (``group:all-staff``, a list).
    workspace_audience: str | list[str] = "public"


class TopicFile(BaseModel):
    """One entry of ``topics:``."""

    model_config = ConfigDict(extra="forbid")
    name: str
    description: str = ""
    allow: list[str]
    keywords: list[str] = []
    examples: list[str] = []
    threshold: float = Field(default=0.9, gt=0, le=1)
    message: dict[str, str] = {}


class RateLimitFile(BaseModel):
    """One entry of ``rate_limits:``."""

    model_config = ConfigDict(extra="forbid")
    role: str
    requests_per_minute: int | None = Field(default=None, ge=1)
    tokens_per_day: int | None = Field(default=None, ge=1)


class RetentionFile(BaseModel):
    """``retention:``: a period per data class (``90`` or ``90d`` days, ``12w`` weeks, ``1y`` years;
    ``forever`` or absent: kept for good)."""

    model_config = ConfigDict(extra="forbid")
    question_text: int | str | None = None
    answer_text: int | str | None = None
    #: Meeting minutes' text; absent: as ``answer_text``.
    minutes_text: int | str | None = None
    audit_metadata: int | str | None = None


class FaqFile(BaseModel):
    """``faq:``: candidates need ``min_askers`` distinct askers; an approved entry answers a question
    at least ``match`` similar; entries are verified again every ``verify_every`` (a period)."""

    model_config = ConfigDict(extra="forbid")
    min_askers: int = Field(default=3, ge=2)
    match: float = Field(default=0.95, gt=0.5, le=1)
    verify_every: int | str | None = "180d"


_PERIOD = re.compile(r"^\s*(\d+)\s*([dwy]?)\s*$")
_DAYS_PER = {"": 1, "d": 1, "w": 7, "y": 365}


def parse_days(value: int | str | None) -> int | None:
    """Days in a retention period; None for ``forever`` or no value.

    Raises:
        ValueError: not a whole number of days, weeks or years, or less than one day.
    """
    if value is None or (isinstance(value, str) and value.strip().lower() == "forever"):
        return None
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a period")
    if isinstance(value, int):
        days = value
    else:
        match = _PERIOD.match(value.lower())
        if match is None:
            raise ValueError(f"{value!r} is not a period (e.g. 90, 90d, 12w, 1y, forever)")
        days = int(match.group(1)) * _DAYS_PER[match.group(2)]
    if days < 1:
        raise ValueError(f"{value!r}: a retention period is at least one day")
    return days


@dataclass
class Checker:
    """Collects problems with the line of the path they concern."""

    source: str
    line_of: Callable[[tuple[str | int, ...]], int]
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def error(self, path: tuple[str | int, ...], message: str) -> None:
        """Record an error at ``path``."""
        self.errors.append(f"{self.source}:{self.line_of(path)}: {message}")

    def warn(self, path: tuple[str | int, ...], message: str) -> None:
        """Record a warning at ``path``."""
        self.warnings.append(f"{self.source}:{self.line_of(path)}: {message}")


def channels_of(raw: ChannelsFile | None, roles: dict[str, RoleRule], check: Checker) -> ChannelRules:
    """The channel rules; overlapping allow/deny entries are errors (which one wins would be a guess)."""
    if raw is None:
        return ChannelRules()
    if raw.visibility not in ("channel", "direct"):
        check.error(("channels", "visibility"), f"visibility must be 'channel' or 'direct', not {raw.visibility!r}")
    both = sorted(set(raw.allow) & set(raw.deny))
    if both:
        check.error(("channels", "deny"), f"channel(s) {', '.join(both)} are both allowed and denied")
    visibility: Visibility = "direct" if raw.visibility == "direct" else "channel"
    return ChannelRules(
        raw.direct_messages,
        frozenset(raw.allow),
        frozenset(raw.deny),
        visibility,
        check.line_of(("channels",)),
        workspace_audience=_workspace_audience(raw.workspace_audience, roles, check),
        workspace_line=check.line_of(("channels", "workspace_audience")),
    )


def _workspace_audience(raw: str | list[str], roles: dict[str, RoleRule], check: Checker) -> frozenset[str]:
    """The principals every workspace member holds. Anything doubtful is an error, never a guess:
    this decides what a whole workspace may read in public channels."""
    entries = [raw] if isinstance(raw, str) else raw
    path: tuple[str | int, ...] = ("channels", "workspace_audience")
    if not entries:
        check.error(path, "workspace_audience is empty: write 'public' or the principals every member holds")
    principals = {"public"}
    for j, entry in enumerate(entries):
        where = (*path, j) if isinstance(raw, list) else path
        principal = entry.strip()
        if not _PRINCIPAL.match(principal):
            check.error(where, f"workspace_audience: invalid principal {entry!r} (public, group:NAME or role:NAME)")
        elif principal.startswith("user:"):
            check.error(where, f"workspace_audience: {entry!r} is one person, not everyone in the workspace")
        elif principal.startswith("role:") and principal[5:] not in roles:
            check.error(where, f"workspace_audience: unknown role {principal[5:]!r}")
        else:
            principals.add(principal)
    return frozenset(principals)


def topics_of(raw: list[TopicFile], check: Checker) -> tuple[TopicRule, ...]:
    """Topic rules; bad principals are errors, keywords shared by two topics are warnings."""
    rules: list[TopicRule] = []
    owner: dict[str, str] = {}
    for i, topic in enumerate(raw):
        for j, principal in enumerate(topic.allow):
            if not _PRINCIPAL.match(principal):
                check.error(("topics", i, "allow", j), f"topic {topic.name!r}: invalid principal {principal!r}")
        if not topic.keywords and not topic.examples:
            check.warn(("topics", i), f"topic {topic.name!r} has no keywords or examples: it never matches")
        keywords = [fold_keyword(k) for k in topic.keywords]
        for j, (keyword, key) in enumerate(zip(topic.keywords, keywords, strict=True)):
            if not key:
                check.warn(("topics", i, "keywords", j), f"topic {topic.name!r}: keyword {keyword!r} is empty")
                continue
            if key in owner and owner[key] != topic.name:
                check.warn(
                    ("topics", i, "keywords", j),
                    f"keyword {keyword!r} is in topics {owner[key]!r} and {topic.name!r}: they overlap",
                )
            owner.setdefault(key, topic.name)
        default_ja = "この話題については、許可された人だけが質問できます。"
        default_en = "Questions on this topic are restricted."
        rules.append(
            TopicRule(
                name=topic.name,
                allow=frozenset(topic.allow),
                keywords=tuple(k for k in keywords if k),
                examples=tuple(topic.examples),
                threshold=topic.threshold,
                message_ja=topic.message.get("ja", default_ja),
                message_en=topic.message.get("en", default_en),
                line=check.line_of(("topics", i)),
            )
        )
    return tuple(rules)


def rate_limits_of(raw: list[RateLimitFile], roles: dict[str, RoleRule], check: Checker) -> tuple[RateLimit, ...]:
    """Rate limits by role; an unknown role is an error, a role listed twice a warning."""
    seen: set[str] = set()
    limits: list[RateLimit] = []
    for i, limit in enumerate(raw):
        if limit.role not in roles:
            check.error(("rate_limits", i, "role"), f"rate limit for unknown role {limit.role!r}")
        if limit.role in seen:
            check.warn(("rate_limits", i), f"role {limit.role!r} has two rate limits: the more generous applies")
        seen.add(limit.role)
        limits.append(
            RateLimit(limit.role, limit.requests_per_minute, limit.tokens_per_day, check.line_of(("rate_limits", i)))
        )
    return tuple(limits)


def routing_of(raw: dict[str, list[str]], check: Checker) -> dict[str, tuple[str, ...]]:
    """Classification -> endpoints. Only ``public`` data may go anywhere but ``local``."""
    routing: dict[str, tuple[str, ...]] = {}
    for label, endpoints in raw.items():
        try:
            level = Classification.parse(label)
        except ValueError:
            check.error(("routing", label), f"unknown classification {label!r}")
            continue
        for j, endpoint in enumerate(endpoints):
            if endpoint not in ENDPOINTS:
                check.error(("routing", label, j), f"unknown endpoint {endpoint!r} (one of {', '.join(ENDPOINTS)})")
        if level > Classification.PUBLIC and any(e != "local" for e in endpoints):
            check.error(("routing", label), f"{label} data may only be routed to the local model")
        routing[level.label] = tuple(e for e in endpoints if e in ENDPOINTS)
    return routing


def retention_of(raw: RetentionFile | None, check: Checker) -> Retention | None:
    """Retention per data class. Text kept longer than the records that hold it is a warning: the
    records (and their text) go first."""
    if raw is None:
        return None
    days: dict[str, int | None] = {}
    for name in ("question_text", "answer_text", "minutes_text", "audit_metadata"):
        try:
            days[name] = parse_days(getattr(raw, name))
        except ValueError as exc:
            check.error(("retention", name), f"retention.{name}: {exc}")
            days[name] = None
    records = days["audit_metadata"]
    for name in ("question_text", "answer_text", "minutes_text"):
        if name == "minutes_text" and raw.minutes_text is None:
            continue
        text = days[name]
        if records is not None and (text is None or text > records):
            kept = "forever" if text is None else f"{text} days"
            check.warn(
                ("retention", name),
                f"retention.{name} ({kept}) outlives audit_metadata ({records} days): the text goes with its record",
            )
    minutes = days["minutes_text"] if raw.minutes_text is not None else days["answer_text"]
    return Retention(days["question_text"], days["answer_text"], records, check.line_of(("retention",)), minutes)


def faq_of(raw: FaqFile | None, check: Checker) -> FaqRules:
    """The FAQ rules (the defaults when the file has no ``faq:``). One asker is never enough: an
    entry would then repeat one person's question."""
    if raw is None:
        return FaqRules()
    try:
        every = parse_days(raw.verify_every)
    except ValueError as exc:
        check.error(("faq", "verify_every"), f"faq.verify_every: {exc}")
        every = None
    return FaqRules(raw.min_askers, raw.match, every, check.line_of(("faq",)))
