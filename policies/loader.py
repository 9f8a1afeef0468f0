"""Read policy files into a :class:`~policies.model.Policy`, with ``file:line`` for every problem.

The YAML is composed into nodes first so that each value keeps its line; the shape is checked by
pydantic and the meaning (known actions, roles, classifications) by hand. Errors make the file
unusable; warnings (e.g. a role no group grants) are reported by ``kura policy check`` only.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from policies.engine import reader_of, workspace_reader
from policies.model import ACTIONS, Classification, GroupRule, Member, Policy, RoleRule
from policies.sections import (
    ChannelsFile,
    Checker,
    FaqFile,
    RateLimitFile,
    RetentionFile,
    TopicFile,
    channels_of,
    faq_of,
    rate_limits_of,
    retention_of,
    routing_of,
    topics_of,
)

__all__ = ["PolicyError", "PolicyReport", "check_policy_text", "load_policy", "load_policy_text"]

_Path = tuple[str | int, ...]


class PolicyError(Exception):
    """A policy file that cannot be used; ``problems`` are ``file:line: message`` strings."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(problems[0] if problems else "invalid policy")
        self.problems = problems


@dataclass(frozen=True)
class PolicyReport:
    """What checking a policy file found."""

    policy: Policy | None
    errors: list[str]
    warnings: list[str]


class _RoleFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    description: str = ""
    actions: list[str] = []
    clearance: str | None = None


class _GroupFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    description: str = ""
    roles: list[str] = []
    clearance: str | None = None


class _PolicyFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int
    default_route: str = "local"
    roles: dict[str, _RoleFile]
    groups: dict[str, _GroupFile] = {}
    channels: ChannelsFile | None = None
    topics: list[TopicFile] = []
    rate_limits: list[RateLimitFile] = []
    routing: dict[str, list[str]] = {}
    retention: RetentionFile | None = None
    faq: FaqFile | None = None


def _to_python(node: yaml.Node, path: _Path, lines: dict[_Path, int], errors: list[str], src: str) -> object:
    """Turn a composed node into plain values, recording each path's 1-based line."""
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[str, object] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key in out:
                errors.append(f"{src}:{key_node.start_mark.line + 1}: duplicate key {key!r}")
            out[key] = _to_python(value_node, (*path, key), lines, errors, src)
            lines[(*path, key)] = key_node.start_mark.line + 1  # a name's line, not its block's
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_to_python(item, (*path, i), lines, errors, src) for i, item in enumerate(node.value)]
    scalar: object = yaml.safe_load(yaml.serialize(node))
    return scalar


def _line(lines: dict[_Path, int], path: _Path) -> int:
    while path and path not in lines:
        path = path[:-1]
    return lines.get(path, 1)


def check_policy_text(
    text: str,
    source: str = "<policy>",
    known_groups: frozenset[str] | None = None,
    people: Sequence[Member] | None = None,
) -> PolicyReport:
    """Validate policy YAML; never raises for bad content. With ``known_groups`` (the directory's),
    groups the policy names that nobody is in are reported too; with ``people`` (the directory's),
    anyone who lacks what ``workspace_audience`` says every workspace member holds."""
    errors: list[str] = []
    warnings: list[str] = []
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        return PolicyReport(None, [f"{source}:{line}: not valid YAML: {getattr(exc, 'problem', exc)}"], [])
    if node is None:
        return PolicyReport(None, [f"{source}:1: the policy file is empty"], [])
    lines: dict[_Path, int] = {}
    try:
        raw = _to_python(node, (), lines, errors, source)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark is not None else 1
        return PolicyReport(None, [f"{source}:{line}: unsupported YAML: {getattr(exc, 'problem', exc)}"], [])
    try:
        parsed = _PolicyFile.model_validate(raw)
    except ValidationError as exc:
        for err in exc.errors():
            loc = tuple(err["loc"])
            where = ".".join(str(p) for p in loc) or "top level"
            errors.append(f"{source}:{_line(lines, loc)}: {where}: {err['msg']}")
        return PolicyReport(None, errors, warnings)

    def clearance(value: str | None, path: _Path) -> Classification | None:
        if value is None:
            return None
        try:
            return Classification.parse(value)
        except ValueError:
            errors.append(
                f"{source}:{_line(lines, path)}: unknown classification {value!r} "
                f"(one of {', '.join(c.label for c in Classification)})"
            )
            return None

    roles: dict[str, RoleRule] = {}
    for name, role in parsed.roles.items():
        for i, action in enumerate(role.actions):
            if action not in ACTIONS:
                errors.append(
                    f"{source}:{_line(lines, ('roles', name, 'actions', i))}: role {name!r}: "
                    f"unknown action {action!r} (one of {', '.join(ACTIONS)})"
                )
        roles[name] = RoleRule(
            name=name,
            actions=frozenset(a for a in role.actions if a in ACTIONS),
            clearance=clearance(role.clearance, ("roles", name, "clearance")),
            line=_line(lines, ("roles", name)),
        )
    groups: dict[str, GroupRule] = {}
    for name, group in parsed.groups.items():
        for i, role_name in enumerate(group.roles):
            if role_name not in roles:
                errors.append(
                    f"{source}:{_line(lines, ('groups', name, 'roles', i))}: group {name!r}: unknown role {role_name!r}"
                )
        if not group.roles and group.clearance is None:
            warnings.append(f"{source}:{_line(lines, ('groups', name))}: group {name!r} grants nothing")
        groups[name] = GroupRule(
            name=name,
            roles=tuple(group.roles),
            clearance=clearance(group.clearance, ("groups", name, "clearance")),
            line=_line(lines, ("groups", name)),
        )
    granted = {r for g in groups.values() for r in g.roles}
    for name in roles:
        if name not in granted:
            warnings.append(
                f"{source}:{_line(lines, ('roles', name))}: role {name!r} is unreachable: no group grants it"
            )
    check = Checker(source, lambda path: _line(lines, path))
    channels = channels_of(parsed.channels, roles, check)
    topics = topics_of(parsed.topics, check)
    rate_limits = rate_limits_of(parsed.rate_limits, roles, check)
    routing = routing_of(parsed.routing, check)
    retention = retention_of(parsed.retention, check)
    faq = faq_of(parsed.faq, check)
    if known_groups is not None:
        for name in groups:
            if name not in known_groups:
                check.warn(("groups", name), f"group {name!r} is not in the directory: its rules never apply")
        for principal in sorted(channels.workspace_audience):
            if principal.startswith("group:") and principal[6:] not in known_groups:
                check.warn(
                    ("channels", "workspace_audience"),
                    f"workspace_audience names group {principal[6:]!r}, which is not in the directory",
                )
        for i, topic in enumerate(topics):
            for principal in sorted(topic.allow):
                if principal.startswith("group:") and principal[6:] not in known_groups:
                    check.warn(("topics", i), f"topic {topic.name!r} allows unknown group {principal!r}")
    errors.extend(check.errors)
    warnings.extend(check.warnings)
    if errors:
        return PolicyReport(None, errors, warnings)
    version = hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]
    policy = Policy(
        roles,
        groups,
        default_route=parsed.default_route,
        source=source,
        version=version,
        channels=channels,
        topics=topics,
        rate_limits=rate_limits,
        routing=routing,
        retention=retention,
        faq=faq,
    )
    if people is not None:
        warnings.extend(_workspace_gaps(policy, people, _line(lines, ("channels", "workspace_audience"))))
    return PolicyReport(policy, errors, warnings)


def _workspace_gaps(policy: Policy, people: Sequence[Member], line: int) -> list[str]:
    """A warning when someone in the directory lacks a principal of the workspace audience, or has
    a lower clearance: such a person can join a public channel and read what it was answered with."""
    workspace, _ = workspace_reader(policy)
    short = []
    for person in people:
        reader = reader_of(policy, person)
        if not workspace.principals <= reader.principals or reader.clearance < workspace.clearance:
            short.append(person.user_id)
    if not short:
        return []
    named = ", ".join(sorted(policy.channels.workspace_audience))
    shown = ", ".join(short[:3]) + (f" and {len(short) - 3} more" if len(short) > 3 else "")
    return [
        f"{policy.source}:{line}: workspace_audience ({named}) is not held by everyone in the directory: "
        f"{shown} could join a public channel and read answers made for it"
    ]


def load_policy_text(text: str, source: str = "<policy>") -> Policy:
    """Parse and validate policy YAML; raise :class:`PolicyError` listing every error."""
    report = check_policy_text(text, source)
    if report.policy is None:
        raise PolicyError(report.errors)
    return report.policy


def load_policy(path: Path) -> Policy:
    """Load a policy file; raise :class:`PolicyError` if it is unreadable or invalid."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError([f"{path}:1: cannot read the policy file: {exc}"]) from exc
    return load_policy_text(text, str(path))
