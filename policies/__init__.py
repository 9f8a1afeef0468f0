"""Policy files and the pure policy engine: who may do what, where, with which data.

Imports nothing of Kura's. ``decide()`` is pure and fails closed.
"""

from policies.engine import decide, explain
from policies.loader import PolicyError, load_policy, load_policy_text
from policies.model import (
    ACTIONS,
    ChannelKind,
    Classification,
    Decision,
    Member,
    Policy,
    Request,
    Retention,
    Scope,
)

__all__ = [
    "ACTIONS",
    "ChannelKind",
    "Classification",
    "Decision",
    "Member",
    "Policy",
    "PolicyError",
    "Request",
    "Retention",
    "Scope",
    "decide",
    "explain",
    "load_policy",
    "load_policy_text",
]
