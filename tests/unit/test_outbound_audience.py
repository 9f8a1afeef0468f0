"""The audience rule for posts is the answers' rule: a post to a public channel is read by the whole
workspace (and by whoever joins later), a post to a shared channel by another organisation; the
policy's visibility for answers does not change who reads a post."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.core.types import Destination, SourceRef
from bot.identity import FileDirectory
from tests.fakes.kura import POLICY, kura

pytestmark = pytest.mark.unit

HANDBOOK = SourceRef("handbook/expenses.md", "経費精算", ("group:all-staff",), 1)
PAY = SourceRef("hr/pay.md", "給与規程", ("group:hr",), 2)
OVERVIEW = SourceRef("public/overview.md", "会社概要", ("public",), 0)
GENERAL = Destination("memory", "C-GENERAL")
BOB = "bob@example.co.jp"
NO_WORKSPACE_AUDIENCE = POLICY.read_text(encoding="utf-8").replace("  workspace_audience: group:all-staff\n", "")

DIRECTORY = """\
users:
  - {email: carol@example.co.jp, groups: [all-staff, hr]}
  - {email: hana@example.co.jp, groups: [all-staff, hr]}
channels:
  C-HR-OPEN: {members: [carol@example.co.jp, hana@example.co.jp]}
  C-HR: {kind: private, members: [carol@example.co.jp, hana@example.co.jp]}
  C-HR-PARTNER: {kind: private, shared: true, members: [carol@example.co.jp, hana@example.co.jp]}
"""


@pytest.fixture
def hr_directory(tmp_path: Path) -> FileDirectory:
    """Two HR people, in an unmarked channel, a private one and a private one shared with a partner."""
    path = tmp_path / "directory.yaml"
    path.write_text(DIRECTORY, encoding="utf-8")
    return FileDirectory.load(path)


async def test_a_post_to_a_public_channel_needs_the_workspace_audience() -> None:
    """No workspace_audience: the whole workspace reads #general, so a handbook post is refused
    even though every current member may read the handbook; a public document is posted."""
    assert "  workspace_audience:" not in NO_WORKSPACE_AUDIENCE
    async with kura(policy_text=NO_WORKSPACE_AUDIENCE) as k:
        handbook = await k.outbox.post(GENERAL, "締め日は25日", owner=BOB, actor="j", sources=[HANDBOOK])
        overview = await k.outbox.post(GENERAL, "設立は2001年", owner=BOB, actor="j", sources=[OVERVIEW])
    assert (False, "audience_not_cleared") == (handbook.posted, handbook.reason_code)
    assert (True, "posted") == (overview.posted, overview.reason_code)
    assert ["設立は2001年"] == [m.text for m in k.transport.visible("C-GENERAL")]
    refused = k.audit.entries[0]
    assert any("not readable by the workspace" in rule for rule in refused.rules)
    assert any(rule.startswith("public channel C-GENERAL: workspace audience public") for rule in refused.rules)


async def test_a_handbook_post_to_a_public_channel_passes_when_the_workspace_is_all_staff() -> None:
    """The shipped policy says every workspace member is in all-staff: the handbook may go out."""
    async with kura() as k:
        result = await k.outbox.post(GENERAL, "締め日は25日", owner="bob@example.co.jp", actor="j", sources=[HANDBOOK])
    assert result.posted


async def test_hr_only_members_do_not_make_an_unmarked_channel_private(hr_directory: FileDirectory) -> None:
    """A channel the directory does not mark counts as public: HR's pay data is not posted there
    although both members are HR; in the private channel it is."""
    async with kura(directory=hr_directory) as k:
        unmarked = await k.outbox.post(
            Destination("memory", "C-HR-OPEN"), "G3", owner="carol@example.co.jp", actor="j", sources=[PAY]
        )
        private = await k.outbox.post(
            Destination("memory", "C-HR"), "G3", owner="carol@example.co.jp", actor="j", sources=[PAY]
        )
    assert (False, True) == (unmarked.posted, private.posted)
    assert ["C-HR"] == [m.conversation for m in k.transport.messages]


async def test_a_post_to_a_shared_channel_is_public_only(hr_directory: FileDirectory) -> None:
    """Shared with another organisation, none of whose people is a member yet: still public only."""
    shared = Destination("memory", "C-HR-PARTNER")
    async with kura(directory=hr_directory) as k:
        pay = await k.outbox.post(shared, "G3", owner="carol@example.co.jp", actor="j", sources=[PAY])
        handbook = await k.outbox.post(shared, "締め日", owner="carol@example.co.jp", actor="j", sources=[HANDBOOK])
        overview = await k.outbox.post(shared, "設立", owner="carol@example.co.jp", actor="j", sources=[OVERVIEW])
    assert [False, False, True] == [r.posted for r in (pay, handbook, overview)]
    assert any("another organisation" in rule for rule in k.audit.entries[0].rules)


async def test_private_visibility_for_answers_does_not_make_posts_private() -> None:
    """`visibility: direct` keeps answers to the asker; a post is still read by the whole channel
    and, in a public channel, by the workspace."""
    text = NO_WORKSPACE_AUDIENCE.replace("  visibility: channel\n", "  visibility: direct\n")
    async with kura(policy_text=text) as k:
        result = await k.outbox.post(GENERAL, "締め日は25日", owner="bob@example.co.jp", actor="j", sources=[HANDBOOK])
    assert (False, "audience_not_cleared") == (result.posted, result.reason_code)
    assert [] == k.transport.messages


async def test_a_post_to_a_channel_nobody_knows_is_refused_even_with_private_answers() -> None:
    """Its readers cannot be told, so nothing is posted there (policy's private answers or not)."""
    text = POLICY.read_text(encoding="utf-8").replace("  visibility: channel\n", "  visibility: direct\n")
    async with kura(policy_text=text) as k:
        result = await k.outbox.post(
            Destination("memory", "C-NOWHERE"), "設立", owner="bob@example.co.jp", actor="j", sources=[OVERVIEW]
        )
    assert (False, "unknown_channel") == (result.posted, result.reason_code)
    assert [] == k.transport.messages
    assert ["refused"] == [e.status for e in k.audit.entries]
