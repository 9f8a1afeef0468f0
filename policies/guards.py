"""Checks that can deny an otherwise allowed request: where (channels), what (topics), how much
(rate limits); and which model endpoints data of a class may reach (routing). Pure."""

from __future__ import annotations

from policies.model import Classification, Policy, RateLimit, Request, TopicRule
from policies.text import fold, keyword_in

__all__ = ["channel_denial", "endpoints_for", "limits_for", "rate_denial", "topic_denial"]


def channel_denial(policy: Policy, request: Request) -> tuple[str, str] | None:
    """(code, reason) when Kura may not answer where the request was made."""
    rules = policy.channels
    where = f"{policy.source}:{rules.line}"
    if request.channel_id is None:
        if not rules.direct_messages:
            return "direct_messages_off", f"direct messages are turned off ({where})"
        return None
    if request.channel_id in rules.deny:
        return "channel_denied", f"Kura does not answer in {request.channel_id} ({where})"
    if rules.allow and request.channel_id not in rules.allow:
        return "channel_not_allowed", f"{request.channel_id} is not on the channel allow list ({where})"
    return None


def topic_denial(policy: Policy, request: Request, principals: frozenset[str]) -> TopicRule | None:
    """The first restricted topic the question touches that the asker is not allowed. Keywords were
    folded when the policy loaded; the question is folded the same way here."""
    text = fold(request.text)
    compact = text.replace(" ", "")
    for topic in policy.topics:
        by_keyword = any(keyword_in(k, text, compact) for k in topic.keywords)
        by_example = request.topic_scores.get(topic.name, 0.0) >= topic.threshold
        if (by_keyword or by_example) and not (topic.allow & principals):
            return topic
    return None


def limits_for(policy: Policy, roles: tuple[str, ...]) -> tuple[int | None, int | None]:
    """(requests per minute, tokens per day) the roles grant: the most generous of each; None = no limit."""
    mine: list[RateLimit] = [r for r in policy.rate_limits if r.role in roles]
    if not mine:
        return None, None
    rpm = None if any(r.requests_per_minute is None for r in mine) else max(r.requests_per_minute or 0 for r in mine)
    tpd = None if any(r.tokens_per_day is None for r in mine) else max(r.tokens_per_day or 0 for r in mine)
    return rpm, tpd


def rate_denial(policy: Policy, roles: tuple[str, ...], request: Request) -> str | None:
    """A reason when the user is over their rate limit."""
    rpm, tpd = limits_for(policy, roles)
    if rpm is not None and request.usage.requests_last_minute >= rpm:
        return f"{request.usage.requests_last_minute} requests in the last minute (limit {rpm})"
    if tpd is not None and request.usage.tokens_today >= tpd:
        return f"{request.usage.tokens_today} tokens today (limit {tpd})"
    return None


def endpoints_for(policy: Policy, classification: Classification) -> tuple[str, ...]:
    """Model endpoints data of this class may reach. Above ``public`` it is the local model only,
    whatever the file says (the loader rejects such files too; this is the second lock)."""
    if classification > Classification.PUBLIC:
        return ("local",)
    return policy.routing.get(classification.label, ("local",)) or ("local",)
