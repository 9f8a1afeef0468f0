"""Who reads a channel: a public channel is read by the whole workspace (people who join later read
its history), a shared one by people of another organisation; a private one or a group DM by its
members only. The policy's ``channels.workspace_audience`` says what the workspace may read."""

from __future__ import annotations

import pytest

from policies import ChannelKind, Classification, Decision, Member, Request, decide, explain, load_policy_text
from policies.engine import workspace_reader
from policies.loader import check_policy_text

pytestmark = pytest.mark.unit

BASE = """\
version: 1
roles:
  employee:
    actions: [ask]
    clearance: internal
  manager:
    actions: [ask]
    clearance: confidential
  auditor:
    actions: [ask]
    clearance: confidential
groups:
  all-staff:
    roles: [employee]
  managers:
    roles: [manager]
  hr:
    clearance: confidential
"""
ALICE = Member("alice@example.co.jp", frozenset({"all-staff"}))
BOB = Member("bob@example.co.jp", frozenset({"all-staff", "managers"}))
CAROL = Member("carol@example.co.jp", frozenset({"all-staff", "hr"}))
HR2 = Member("hanako@example.co.jp", frozenset({"all-staff", "hr"}))
GUEST = Member("guest@partner.example.com", frozenset(), known=False)
WORKSPACE_STAFF = "channels:\n  workspace_audience: group:all-staff\n"

PUBLIC = ChannelKind("public")
PRIVATE = ChannelKind("private")
DIRECT = ChannelKind("direct")


def _decide(policy_text: str, kind: ChannelKind, members: tuple[Member, ...], asker: Member = CAROL) -> Decision:
    policy = load_policy_text(BASE + policy_text, "p.yaml")
    return decide(policy, Request("ask", asker, "C1", members, channel_kind=kind))


def _readable(decision: Decision, acl: tuple[str, ...], classification: Classification) -> bool:
    """Whether retrieval under the decision's scope returns a chunk (what the SQL does)."""
    scope = decision.scope
    assert scope is not None
    return classification <= scope.clearance and all(set(acl) & s for s in scope.principal_sets)


def test_public_channel_without_a_workspace_audience_gets_public_documents_only() -> None:
    """Every member is HR, but anyone may join a public channel and read the answer later: by
    default (no workspace_audience) only public documents, at public clearance."""
    decision = _decide("", PUBLIC, (CAROL, HR2))
    assert decision.allowed
    assert decision.scope is not None
    assert Classification.PUBLIC == decision.scope.clearance
    assert not _readable(decision, ("group:hr",), Classification.CONFIDENTIAL)
    assert not _readable(decision, ("group:all-staff",), Classification.INTERNAL)
    assert _readable(decision, ("public",), Classification.PUBLIC)


def test_public_channel_uses_what_the_workspace_audience_may_read() -> None:
    """workspace_audience group:all-staff: internal all-staff documents, not HR's, whoever is in."""
    decision = _decide(WORKSPACE_STAFF, PUBLIC, (CAROL, HR2))
    assert decision.scope is not None
    assert Classification.INTERNAL == decision.scope.clearance
    assert _readable(decision, ("group:all-staff",), Classification.INTERNAL)
    assert not _readable(decision, ("group:hr",), Classification.INTERNAL)
    assert not _readable(decision, ("group:all-staff",), Classification.CONFIDENTIAL)


def test_public_channel_still_needs_every_current_member() -> None:
    """A member with fewer rights than the workspace audience (someone outside all-staff) still
    narrows the answer: the workspace audience AND every member."""
    contractor = Member("kenji@example.co.jp", frozenset())
    decision = _decide(WORKSPACE_STAFF, PUBLIC, (CAROL, contractor))
    assert decision.scope is not None
    assert Classification.PUBLIC == decision.scope.clearance
    assert not _readable(decision, ("group:all-staff",), Classification.PUBLIC)


def test_private_channel_keeps_the_member_rule() -> None:
    """Only HR in a private channel: HR's confidential documents are readable."""
    decision = _decide(WORKSPACE_STAFF, PRIVATE, (CAROL, HR2))
    assert decision.scope is not None
    assert Classification.CONFIDENTIAL == decision.scope.clearance
    assert _readable(decision, ("group:hr",), Classification.CONFIDENTIAL)


def test_group_dm_keeps_the_member_rule() -> None:
    """A group DM is read by its members only."""
    decision = _decide(WORKSPACE_STAFF, DIRECT, (CAROL, HR2))
    assert _readable(decision, ("group:hr",), Classification.CONFIDENTIAL)


@pytest.mark.parametrize("kind", [ChannelKind("private", shared=True), ChannelKind("public", shared=True)])
def test_shared_channel_is_public_only_even_before_the_partner_joins(kind: ChannelKind) -> None:
    """Slack Connect: another organisation reads it, with no rights here, even when none of its
    people is a member yet (they can be added at any time and read the history)."""
    decision = _decide(WORKSPACE_STAFF, kind, (CAROL, HR2))
    assert decision.allowed
    assert decision.scope is not None
    assert Classification.PUBLIC == decision.scope.clearance
    assert (frozenset({"public"}),) == decision.scope.principal_sets
    assert any("another organisation" in rule for rule in decision.rules)


def test_shared_channel_with_a_guest_is_public_only() -> None:
    """An external member present now: public only, as before."""
    decision = _decide(WORKSPACE_STAFF, ChannelKind("private", shared=True), (BOB, GUEST), asker=BOB)
    assert decision.scope is not None
    assert (frozenset({"public"}),) == decision.scope.principal_sets


def test_the_request_default_is_a_public_channel() -> None:
    """A caller that does not say what kind of channel it is gets the narrower answer."""
    policy = load_policy_text(BASE, "p.yaml")
    decision = decide(policy, Request("ask", CAROL, "C1", (CAROL, HR2)))
    assert decision.scope is not None
    assert Classification.PUBLIC == decision.scope.clearance


def test_workspace_audience_by_role_brings_the_roles_clearance() -> None:
    """role:auditor as the workspace audience: its confidential clearance, its role principal."""
    decision = _decide("channels:\n  workspace_audience: [role:auditor]\n", PUBLIC, (CAROL, HR2))
    assert decision.scope is not None
    assert Classification.CONFIDENTIAL == decision.scope.clearance
    assert _readable(decision, ("role:auditor", "group:hr"), Classification.CONFIDENTIAL)
    assert not _readable(decision, ("group:hr",), Classification.CONFIDENTIAL)


def test_no_access_list_can_name_the_workspace_reader() -> None:
    """The workspace reader is not a person: it has no ``user:`` principal for a document to name
    (an access file allowing ``user:workspace`` must not reach every public channel)."""
    policy = load_policy_text(BASE + WORKSPACE_STAFF, "p.yaml")
    reader, _ = workspace_reader(policy)
    assert not any(p.startswith("user:") for p in reader.principals)
    decision = _decide(WORKSPACE_STAFF, PUBLIC, (CAROL, HR2))
    assert not _readable(decision, ("user:workspace", "user:the workspace"), Classification.PUBLIC)


def test_explain_says_public_channel_workspace_audience_with_file_and_line() -> None:
    """The fired rules name the workspace audience and where it is set; explain shows them."""
    decision = _decide(WORKSPACE_STAFF, PUBLIC, (CAROL, HR2))
    line = BASE.count("\n") + 2
    expected = f"public channel C1: workspace audience group:all-staff, public (p.yaml:{line}), up to internal"
    assert expected in decision.rules
    assert expected in explain(decision)
    default = _decide("", PUBLIC, (CAROL,))
    assert "public channel C1: workspace audience public (not set: the default), up to public" in default.rules


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("user:alice@example.co.jp", "is one person, not everyone in the workspace"),
        ("everyone", "invalid principal 'everyone'"),
        ("role:nobody", "unknown role 'nobody'"),
        ("[]", "workspace_audience is empty"),
        ("[group:all-staff, 'group:a b']", "invalid principal 'group:a b'"),
    ],
)
def test_policy_check_rejects_a_doubtful_workspace_audience_with_its_line(value: str, message: str) -> None:
    text = BASE + f"channels:\n  visibility: channel\n  workspace_audience: {value}\n"
    report = check_policy_text(text, "p.yaml")
    assert report.policy is None
    line = BASE.count("\n") + 3
    assert any(e.startswith(f"p.yaml:{line}: ") and message in e for e in report.errors), report.errors


def test_policy_check_rejects_a_workspace_audience_that_is_not_text() -> None:
    report = check_policy_text(BASE + "channels:\n  workspace_audience: {group: all-staff}\n", "p.yaml")
    assert report.policy is None
    assert any("workspace_audience" in e for e in report.errors)


def test_policy_check_warns_of_a_workspace_audience_group_nobody_is_in() -> None:
    report = check_policy_text(BASE + "channels:\n  workspace_audience: group:al-staff\n", "p.yaml", frozenset({"hr"}))
    assert report.policy is not None
    assert any("group 'al-staff', which is not in the directory" in w for w in report.warnings)


def test_policy_check_warns_when_someone_in_the_directory_lacks_the_workspace_audience() -> None:
    """An operator who claims more than everyone holds (here group:hr) is told who falls short:
    they could join a public channel and read answers made for HR."""
    text = BASE + "channels:\n  workspace_audience: group:hr\n"
    people = [CAROL, HR2, ALICE, BOB]
    report = check_policy_text(text, "p.yaml", frozenset({"all-staff", "hr", "managers"}), people)
    assert report.policy is not None
    [warning] = [w for w in report.warnings if "not held by everyone" in w]
    line = BASE.count("\n") + 2
    assert warning.startswith(f"p.yaml:{line}: workspace_audience (group:hr, public)")
    assert "alice@example.co.jp, bob@example.co.jp could join a public channel" in warning
    fine = check_policy_text(BASE + WORKSPACE_STAFF, "p.yaml", frozenset({"all-staff"}), people)
    assert not any("not held by everyone" in w for w in fine.warnings)


def test_reader_sets_are_reduced_to_the_minimal_ones() -> None:
    """However many members, the reader sets kept are exactly the minimal ones: each input set holds
    one of them, and none holds another (checked against the definition on random families)."""
    import random

    from policies.engine import _minimal

    rng = random.Random(7)  # noqa: S311 - test data, not secrets
    universe = [f"group:g{i}" for i in range(6)]
    for _ in range(500):
        family = [frozenset(rng.sample(universe, rng.randint(0, 4))) for _ in range(rng.randint(0, 12))]
        kept = _minimal(family)
        assert all(any(k <= s for k in kept) for s in family)
        assert all(not (a < b) for a in kept for b in kept)
        assert set(kept) <= set(family)
        assert set(kept) == {s for s in family if not any(o < s for o in family)}
