"""decide() and explain() on the shipped default policy and the sample directory."""

from __future__ import annotations

from pathlib import Path

import pytest

import bot
import policies
from bot.identity import FileDirectory
from policies import ChannelKind, Classification, Decision, Member, Policy, Request, decide, explain
from policies.model import GroupRule

pytestmark = pytest.mark.unit

ALICE = "alice@example.co.jp"
BOB = "bob@example.co.jp"
CAROL = "carol@example.co.jp"
DAVE = "dave@example.co.jp"

ALICE_PRINCIPALS = frozenset({"public", "user:alice@example.co.jp", "group:all-staff", "group:sales", "role:employee"})


@pytest.fixture
def policy() -> Policy:
    """The default policy shipped with Kura."""
    return policies.load_policy(Path(policies.__file__).parent / "default.yaml")


@pytest.fixture
def directory() -> FileDirectory:
    """The sample company's directory."""
    return FileDirectory.load(Path(bot.__file__).parent / "sample" / "directory.yaml")


async def _member(directory: FileDirectory, email: str) -> Member:
    user = await directory.user(email)
    assert user is not None, email
    return user.member()


async def _dm(policy: Policy, directory: FileDirectory, email: str, action: str = "ask") -> Decision:
    return decide(policy, Request(action, await _member(directory, email)))


async def _in_channel(policy: Policy, directory: FileDirectory, email: str, channel_id: str) -> Decision:
    members = await directory.channel_members(channel_id)
    kind = await directory.channel_kind(channel_id) or ChannelKind()
    return decide(policy, Request("ask", await _member(directory, email), channel_id, members, channel_kind=kind))


async def test_alice_may_ask_in_a_dm(policy: Policy, directory: FileDirectory) -> None:
    """An employee asking in a DM is allowed, with a direct reply."""
    decision = await _dm(policy, directory, ALICE)
    assert decision.allowed is True
    assert "allowed" == decision.reason_code
    assert "direct" == decision.visibility


async def test_alice_dm_scope_is_her_own_principals(policy: Policy, directory: FileDirectory) -> None:
    """A DM's scope is one set: the asker's public, user, group and role principals."""
    decision = await _dm(policy, directory, ALICE)
    assert decision.scope is not None
    assert (ALICE_PRINCIPALS,) == decision.scope.principal_sets


async def test_alice_dm_clearance_is_internal(policy: Policy, directory: FileDirectory) -> None:
    """The employee role brings internal clearance."""
    decision = await _dm(policy, directory, ALICE)
    assert decision.scope is not None
    assert Classification.INTERNAL == decision.scope.clearance


async def test_carol_gets_confidential_from_hr_group(policy: Policy, directory: FileDirectory) -> None:
    """Membership of hr raises clearance to confidential."""
    decision = await _dm(policy, directory, CAROL)
    assert decision.scope is not None
    assert Classification.CONFIDENTIAL == decision.scope.clearance


async def test_bob_gets_confidential_from_manager_role(policy: Policy, directory: FileDirectory) -> None:
    """The manager role raises clearance to confidential."""
    decision = await _dm(policy, directory, BOB)
    assert decision.scope is not None
    assert Classification.CONFIDENTIAL == decision.scope.clearance
    assert "manager" in decision.roles


@pytest.mark.parametrize("action", ["admin", "audit_export"])
async def test_dave_may_use_admin_actions(policy: Policy, directory: FileDirectory, action: str) -> None:
    """The it group's admin role allows admin and audit_export."""
    decision = await _dm(policy, directory, DAVE, action)
    assert decision.allowed is True
    assert "admin" in decision.roles


async def test_alice_may_not_admin(policy: Policy, directory: FileDirectory) -> None:
    """An employee without the admin role is denied admin."""
    decision = await _dm(policy, directory, ALICE, "admin")
    assert decision.allowed is False
    assert "action_not_allowed" == decision.reason_code
    assert decision.scope is None


async def test_admin_role_adds_no_clearance(policy: Policy, directory: FileDirectory) -> None:
    """Dave's clearance is what employee gives; admin grants no reading right."""
    decision = await _dm(policy, directory, DAVE)
    assert decision.scope is not None
    assert Classification.INTERNAL == decision.scope.clearance


def test_no_principal_is_unknown_user(policy: Policy) -> None:
    """A request with no principal is denied as unknown_user."""
    decision = decide(policy, Request("ask", None))
    assert decision.allowed is False
    assert "unknown_user" == decision.reason_code


def test_member_not_known_is_unknown_user(policy: Policy) -> None:
    """A member the directory does not know is denied as unknown_user, whatever their groups."""
    stranger = Member("mallory@example.com", frozenset({"all-staff", "it"}), known=False)
    decision = decide(policy, Request("ask", stranger))
    assert decision.allowed is False
    assert "unknown_user" == decision.reason_code


async def test_unknown_action_is_denied(policy: Policy, directory: FileDirectory) -> None:
    """An action outside ACTIONS is denied as unknown_action, even for an admin."""
    decision = await _dm(policy, directory, DAVE, "delete_everything")
    assert decision.allowed is False
    assert "unknown_action" == decision.reason_code


async def test_channel_reply_is_channel_visible(policy: Policy, directory: FileDirectory) -> None:
    """Asking in a channel the asker belongs to is allowed with channel visibility."""
    decision = await _in_channel(policy, directory, ALICE, "C-SALES")
    assert decision.allowed is True
    assert "channel" == decision.visibility


async def test_channel_scope_has_one_set_per_distinct_reader(policy: Policy, directory: FileDirectory) -> None:
    """Alice's and Bob's sets are not subsets of each other, so both are kept."""
    decision = await _in_channel(policy, directory, ALICE, "C-SALES")
    bob = frozenset(
        {
            "public",
            "user:bob@example.co.jp",
            "group:all-staff",
            "group:sales",
            "group:managers",
            "role:employee",
            "role:manager",
        }
    )
    assert decision.scope is not None
    assert {ALICE_PRINCIPALS, bob} == set(decision.scope.principal_sets)
    assert 2 == len(decision.scope.principal_sets)


async def test_channel_clearance_is_the_lowest_member(policy: Policy, directory: FileDirectory) -> None:
    """Bob is confidential, Alice internal: the channel gets internal."""
    decision = await _in_channel(policy, directory, BOB, "C-SALES")
    assert decision.scope is not None
    assert Classification.INTERNAL == decision.scope.clearance


async def test_channel_with_guest_is_public_only(policy: Policy, directory: FileDirectory) -> None:
    """A guest outside the directory limits the channel to public at public clearance."""
    decision = await _in_channel(policy, directory, BOB, "C-PARTNERS")
    assert decision.allowed is True
    assert decision.scope is not None
    assert Classification.PUBLIC == decision.scope.clearance
    assert (frozenset({"public"}),) == decision.scope.principal_sets


async def test_minimal_drops_supersets(policy: Policy, directory: FileDirectory) -> None:
    """A reader whose set contains another reader's set adds no constraint and is dropped."""
    alice = await _member(directory, ALICE)
    alice_in_hr = Member(ALICE.upper(), alice.groups | {"hr"})
    decision = decide(policy, Request("ask", alice, "C-X", (alice_in_hr, alice), channel_kind=ChannelKind("private")))
    assert decision.scope is not None
    assert (ALICE_PRINCIPALS,) == decision.scope.principal_sets


async def test_unknown_channel_is_denied(policy: Policy, directory: FileDirectory) -> None:
    """A channel the directory does not know is denied as unknown_channel."""
    decision = await _in_channel(policy, directory, ALICE, "C-NOWHERE")
    assert decision.allowed is False
    assert "unknown_channel" == decision.reason_code


async def test_asker_outside_the_channel_is_denied(policy: Policy, directory: FileDirectory) -> None:
    """Carol is not in C-SALES and may not ask there."""
    decision = await _in_channel(policy, directory, CAROL, "C-SALES")
    assert decision.allowed is False
    assert "not_a_member" == decision.reason_code
    assert decision.scope is None


def test_engine_error_fails_closed() -> None:
    """A group naming a role the policy lacks makes the engine raise inside; decide() denies."""
    broken = Policy(roles={}, groups={"all-staff": GroupRule("all-staff", ("employee",), None)})
    alice = Member(ALICE, frozenset({"all-staff"}))
    decision = decide(broken, Request("ask", alice))
    assert decision.allowed is False
    assert "policy_error" == decision.reason_code
    assert decision.scope is None


async def test_explain_allow_lists_every_rule(policy: Policy, directory: FileDirectory) -> None:
    """An allowed decision explains as ALLOW and names every rule that fired."""
    decision = await _in_channel(policy, directory, ALICE, "C-SALES")
    text = explain(decision)
    assert text.startswith("ALLOW")
    assert decision.rules
    for rule in decision.rules:
        assert rule in text


async def test_explain_deny_gives_reason_and_rules(policy: Policy, directory: FileDirectory) -> None:
    """A denial explains as DENY with its reason code and every rule that fired."""
    decision = await _dm(policy, directory, ALICE, "admin")
    text = explain(decision)
    assert text.startswith("DENY")
    assert "action_not_allowed" in text
    assert decision.rules
    for rule in decision.rules:
        assert rule in text
