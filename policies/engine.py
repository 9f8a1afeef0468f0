"""The pure policy engine: ``decide(policy, request) -> Decision``. No I/O, fails closed."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from policies.guards import channel_denial, rate_denial, topic_denial
from policies.model import ACTIONS, ChannelKind, Classification, Decision, Member, Policy, Request, Scope

__all__ = [
    "OUTSIDER",
    "Reader",
    "audience",
    "decide",
    "explain",
    "principals_of",
    "reader_of",
    "resolve",
    "scope_of",
    "workspace_reader",
]

_log = logging.getLogger(__name__)


def resolve(policy: Policy, member: Member) -> tuple[tuple[str, ...], Classification | None, list[str]]:
    """Roles and clearance a member has under ``policy``, with the rules that gave them."""
    if not member.known:
        return (), None, [f"{member.user_id}: not in the directory, no rights"]
    roles: list[str] = []
    clearance: Classification | None = None
    fired: list[str] = []
    for group in sorted(member.groups):
        rule = policy.groups.get(group)
        if rule is None:
            continue
        for role in rule.roles:
            if role not in roles:
                roles.append(role)
                fired.append(f"group:{group} -> role:{role} ({policy.source}:{rule.line})")
        if rule.clearance is not None and (clearance is None or rule.clearance > clearance):
            clearance = rule.clearance
            fired.append(f"group:{group} -> clearance {rule.clearance.label} ({policy.source}:{rule.line})")
    for role in roles:
        role_rule = policy.roles[role]
        if role_rule.clearance is not None and (clearance is None or role_rule.clearance > clearance):
            clearance = role_rule.clearance
            fired.append(f"role:{role} -> clearance {role_rule.clearance.label} ({policy.source}:{role_rule.line})")
    return tuple(roles), clearance, fired


def principals_of(member: Member, roles: tuple[str, ...]) -> frozenset[str]:
    """The access-list principals a member matches. Unknown members match ``public`` only."""
    if not member.known:
        return frozenset({"public"})
    return frozenset(
        {"public", f"user:{member.user_id.lower()}"}
        | {f"group:{g}" for g in member.groups}
        | {f"role:{r}" for r in roles}
    )


@dataclass(frozen=True)
class Reader:
    """One reader of a reply, as retrieval sees them: who (for explanations), their access-list
    principals and the highest classification they may read."""

    name: str
    principals: frozenset[str]
    clearance: Classification

    def may_read(self, acl: Iterable[str], classification: int) -> bool:
        """Whether this reader may read a document with this access list and classification."""
        return bool(self.principals & set(acl)) and classification <= self.clearance


#: Someone from another organisation in a shared channel: no rights in our directory.
OUTSIDER = Reader("another organisation (shared channel)", frozenset({"public"}), Classification.PUBLIC)


def reader_of(policy: Policy, member: Member) -> Reader:
    """A member as a reader: their principals and clearance (public when none is granted)."""
    roles, clearance, _ = resolve(policy, member)
    return Reader(member.user_id, principals_of(member, roles), clearance or Classification.PUBLIC)


def workspace_reader(policy: Policy) -> tuple[Reader, list[str]]:
    """Everyone in the workspace, present and future, as one reader: the ``workspace_audience``
    principals, with the roles and clearance their groups and roles bring (resolved like a member,
    but with no ``user:`` principal, so no access list can name it)."""
    rules = policy.channels
    named = rules.workspace_audience
    groups = frozenset(p[6:] for p in named if p.startswith("group:"))
    roles, clearance, fired = resolve(policy, Member("workspace", groups))
    for role in sorted(p[5:] for p in named if p.startswith("role:")):
        rule = policy.roles.get(role)
        if role not in roles:
            roles = (*roles, role)
        if rule is not None and rule.clearance is not None and (clearance is None or rule.clearance > clearance):
            clearance = rule.clearance
            fired.append(f"role:{role} -> clearance {rule.clearance.label} ({policy.source}:{rule.line})")
    principals = frozenset({"public"} | named | {f"role:{r}" for r in roles})
    return Reader("the workspace", principals, clearance or Classification.PUBLIC), fired


def audience(
    policy: Policy, kind: ChannelKind, members: Sequence[Member], channel_id: str = "the channel"
) -> tuple[list[Reader], list[str]]:
    """Everyone who reads what is said in a channel, and why: its members; for a public channel
    the whole workspace too (people who join later read its history); for a shared one, people of
    another organisation, who have no rights here. The same rule for answers and for posts."""
    readers = [reader_of(policy, m) for m in members]
    outsiders = sum(1 for m in members if not m.known)
    fired = [f"{kind.label} channel {channel_id}: {len(members)} members ({outsiders} without rights)"]
    if kind.access == "public":
        workspace, resolved = workspace_reader(policy)
        readers.append(workspace)
        line = policy.channels.workspace_line
        where = f"{policy.source}:{line}" if line else "not set: the default"
        named = ", ".join(sorted(policy.channels.workspace_audience))
        fired.append(
            f"public channel {channel_id}: workspace audience {named} ({where}), up to {workspace.clearance.label}"
        )
        fired.extend(f"workspace audience: {rule}" for rule in resolved)
    if kind.shared:
        readers.append(OUTSIDER)
        fired.append(f"shared channel {channel_id}: people of another organisation read it, with no rights")
    return readers, fired


def scope_of(readers: Sequence[Reader]) -> Scope:
    """What retrieval may return when all of ``readers`` see the reply."""
    clearance = min((r.clearance for r in readers), default=Classification.PUBLIC)
    return Scope(_minimal([r.principals for r in readers]), clearance)


def _minimal(sets: list[frozenset[str]]) -> tuple[frozenset[str], ...]:
    """Drop sets implied by others: a chunk matching subset A also matches any superset of A."""
    unique = sorted(set(sets), key=lambda s: (len(s), sorted(s)))
    # A kept set can only be inside a candidate that holds its rarest element, so each kept set is
    # filed under that one element and a candidate checks only those filed under its own: near
    # linear for a channel of thousands, where every set holds its member's own user principal.
    seen = Counter(element for s in unique for element in s)
    filed: dict[str, list[frozenset[str]]] = {}
    kept: list[frozenset[str]] = []
    for candidate in unique:
        if any(k <= candidate for element in candidate for k in filed.get(element, ())):
            continue
        kept.append(candidate)
        if candidate:
            filed.setdefault(min(candidate, key=lambda e: (seen[e], e)), []).append(candidate)
        else:
            return (candidate,)  # the empty set is inside every set: nothing else matters
    return tuple(kept)


def _deny(code: str, reason: str, rules: list[str], roles: tuple[str, ...] = ()) -> Decision:
    return Decision(allowed=False, reason_code=code, reason=reason, roles=roles, rules=tuple(rules))


def _decide(policy: Policy, request: Request) -> Decision:
    asker = request.principal
    if asker is None or not asker.known:
        return _deny("unknown_user", "the user is not in the directory", ["unknown user: deny"])
    if request.action not in ACTIONS:
        return _deny("unknown_action", f"unknown action {request.action!r}", ["unknown action: deny"])
    roles, clearance, fired = resolve(policy, asker)
    granting = [r for r in roles if request.action in policy.roles[r].actions]
    if not granting:
        fired.append(f"no role of {asker.user_id} allows {request.action!r}: deny")
        return _deny(
            "action_not_allowed",
            f"none of the roles ({', '.join(roles) or 'none'}) allows {request.action!r}",
            fired,
            roles,
        )
    fired.append(f"role:{granting[0]} allows {request.action} ({policy.source}:{policy.roles[granting[0]].line})")
    if clearance is None:
        clearance = Classification.PUBLIC
        fired.append("no clearance granted: public only")
    own = principals_of(asker, roles)
    denial = _guards(policy, request, roles, own, fired)
    if denial is not None:
        return denial

    if request.channel_id is None or policy.channels.visibility == "direct":
        scope = Scope((own,), clearance)
        if request.channel_id is None:
            fired.append("direct reply: the asker's own rights")
        else:
            where = f"{policy.source}:{policy.channels.line}"
            fired.append(f"channel answers go to the asker alone ({where}): the asker's own rights")
        return Decision(True, "allowed", "allowed", scope, policy.default_route, "direct", roles, tuple(fired))

    members = request.channel_members
    if members is None:
        fired.append(f"channel {request.channel_id} is unknown: deny")
        return _deny("unknown_channel", f"channel {request.channel_id} is unknown", fired, roles)
    if asker.user_id.lower() not in {m.user_id.lower() for m in members}:
        fired.append(f"{asker.user_id} is not a member of {request.channel_id}: deny")
        return _deny("not_a_member", f"the user is not a member of {request.channel_id}", fired, roles)
    # The asker is one of the members, so their own rights are in the audience already.
    readers, why = audience(policy, request.channel_kind, members, request.channel_id)
    scope = scope_of(readers)
    fired.extend(why)
    fired.append(f"only what every reader may read, up to {scope.clearance.label}")
    return Decision(True, "allowed", "allowed", scope, policy.default_route, "channel", roles, tuple(fired))


def _guards(
    policy: Policy, request: Request, roles: tuple[str, ...], own: frozenset[str], fired: list[str]
) -> Decision | None:
    """Channel, topic and rate-limit rules; the first that denies wins."""
    where = channel_denial(policy, request)
    if where is not None:
        fired.append(f"{where[1]}: deny")
        return _deny(where[0], where[1], fired, roles)
    if request.action == "ask":
        topic = topic_denial(policy, request, own)
        if topic is not None:
            fired.append(f"topic {topic.name!r} is for {', '.join(sorted(topic.allow))} ({policy.source}:{topic.line})")
            denied = _deny("topic_restricted", f"topic {topic.name!r} is restricted", fired, roles)
            return replace(denied, message_ja=topic.message_ja, message_en=topic.message_en)
        over = rate_denial(policy, roles, request)
        if over is not None:
            fired.append(f"rate limit: {over}: deny")
            return _deny("rate_limited", over, fired, roles)
    return None


def decide(policy: Policy, request: Request) -> Decision:
    """Decide a request. Any error inside the engine denies (fail closed).

    Args:
        policy: a validated policy.
        request: the action, the asker and where the reply goes.

    Returns:
        A :class:`Decision`; ``allowed=False`` carries ``reason_code`` and ``reason``.
    """
    try:
        return _decide(policy, request)
    except Exception:
        _log.exception("policy engine failed; denying")
        return _deny("policy_error", "the policy could not be evaluated", ["engine error: deny"])


def explain(decision: Decision) -> str:
    """A multi-line, human-readable account of a decision and every rule that fired."""
    head = "ALLOW" if decision.allowed else f"DENY ({decision.reason_code}: {decision.reason})"
    lines = [head, f"roles: {', '.join(decision.roles) or '(none)'}"]
    if decision.scope is not None:
        lines.append(f"clearance: {decision.scope.clearance.label}")
        for i, s in enumerate(decision.scope.principal_sets, 1):
            lines.append(f"reader set {i}: {', '.join(sorted(s))}")
        lines.append(f"visibility: {decision.visibility}; route: {decision.route}")
    lines.append("rules:")
    lines.extend(f"  - {rule}" for rule in decision.rules)
    return "\n".join(lines)
