"""Posts without an inbound event (jobs): policy decides, the audience rule holds, the text is
sanitised, and every post is audited before it leaves."""

from __future__ import annotations

import pytest

from bot.core.types import Destination, SourceRef
from tests.fakes.kura import POLICY, kura

pytestmark = pytest.mark.unit

HANDBOOK = SourceRef("handbook/expenses.md", "経費精算", ("group:all-staff",), 1)
PAY = SourceRef("hr/pay.md", "給与規程", ("group:hr",), 2)
GENERAL = Destination("memory", "C-GENERAL")


async def test_a_post_everyone_in_the_channel_may_read_is_posted_sanitised_and_audited() -> None:
    """Drawn from the handbook (all staff): posted to #general with its source, links removed."""
    async with kura() as k:
        result = await k.outbox.post(
            GENERAL,
            "今週のお知らせ: 締め日は25日 https://evil.example/x",
            owner="bob@example.co.jp",
            actor="schedule:weekly",
            sources=[HANDBOOK],
            subject="weekly digest",
        )
    assert (True, "posted") == (result.posted, result.reason_code)
    [message] = k.transport.visible("C-GENERAL")
    assert "今週のお知らせ: 締め日は25日 [link removed]" == message.text
    assert ("handbook/expenses.md",) == message.citations
    [entry] = k.audit.entries
    assert ("schedule:weekly", "bob@example.co.jp", "posted", "C-GENERAL") == (
        entry.user_ref,
        entry.user_email,
        entry.status,
        entry.channel_id,
    )
    assert ["handbook/expenses.md"] == [r["source"] for r in entry.retrieved]


async def test_a_post_drawing_on_what_some_member_may_not_read_is_refused_and_audited() -> None:
    """HR pay data to #general (alice, bob and dave may not read it): nothing posted; the record says why."""
    async with kura() as k:
        result = await k.outbox.post(
            GENERAL, "G3 は 32万円", owner="carol@example.co.jp", actor="schedule:x", sources=[HANDBOOK, PAY]
        )
    assert (False, "audience_not_cleared") == (result.posted, result.reason_code)
    assert [] == k.transport.messages
    [entry] = k.audit.entries
    assert (False, "refused") == (entry.allowed, entry.status)
    assert any("hr/pay.md is not readable by" in rule for rule in entry.rules)


async def test_a_dm_may_use_what_its_one_reader_may_read() -> None:
    """The same HR text to Carol herself: posted; to Alice: refused."""
    async with kura() as k:
        to_carol = await k.outbox.post(
            Destination("memory", user="carol@example.co.jp"),
            "G3 は 32万円",
            owner="carol@example.co.jp",
            actor="schedule:x",
            sources=[PAY],
        )
        to_alice = await k.outbox.post(
            Destination("memory", user="alice@example.co.jp"),
            "G3 は 32万円",
            owner="carol@example.co.jp",
            actor="schedule:x",
            sources=[PAY],
        )
    assert (True, False) == (to_carol.posted, to_alice.posted)
    assert ["dm:carol@example.co.jp"] == [m.conversation for m in k.transport.messages]


async def test_policy_decides_whether_the_owner_may_post_there() -> None:
    """An owner outside the channel, an unknown owner, a denied channel: refused with the policy's reason."""
    denied = POLICY.read_text(encoding="utf-8").replace("  deny: []", "  deny: [C-GENERAL]")
    async with kura() as k:
        outsider = await k.outbox.post(Destination("memory", "C-SALES"), "x", owner="dave@example.co.jp", actor="j")
        unknown = await k.outbox.post(GENERAL, "x", owner="mallory@evil.example", actor="j")
    async with kura(policy_text=denied) as k2:
        closed = await k2.outbox.post(GENERAL, "x", owner="bob@example.co.jp", actor="j")
    assert ["not_a_member", "unknown_user", "channel_denied"] == [r.reason_code for r in (outsider, unknown, closed)]
    assert [] == k.transport.messages + k2.transport.messages
    assert 2 == len(k.audit.entries)


async def test_an_unconfigured_platform_is_refused_and_audited() -> None:
    """A target on a platform no adapter attached: refused, recorded."""
    async with kura() as k:
        result = await k.outbox.post(Destination("teams", "19:abc"), "x", owner="bob@example.co.jp", actor="j")
    assert (False, "unknown_platform") == (result.posted, result.reason_code)
    assert ["refused"] == [e.status for e in k.audit.entries]


async def test_a_platform_refusing_the_post_is_recorded_after_the_post_record() -> None:
    """The record is written before the post leaves; the platform's failure adds a second one."""
    async with kura() as k:
        k.transport.fail_posts = True
        result = await k.outbox.post(GENERAL, "x", owner="bob@example.co.jp", actor="j", sources=[HANDBOOK])
    assert (False, "upstream") == (result.posted, result.reason_code)
    assert ["posted", "unavailable"] == [e.status for e in k.audit.entries]


async def test_a_scheduled_question_is_answered_for_the_channels_audience_and_posted() -> None:
    """`ask` as a job: the pipeline answers with every member's rights (never hr/) and audits the
    answer; the post is audited too."""
    async with kura("G3 は [1]") as k:
        result = await k.outbox.ask("G3の基本給は？", to=GENERAL, owner="carol@example.co.jp", actor="schedule:q")
    assert result.posted
    [message] = k.transport.visible("C-GENERAL")
    assert "hr/pay.md" not in message.citations
    # #general is public: the workspace audience's set, which every member's set holds.
    assert ((frozenset({"public", "group:all-staff", "role:employee"}),)) == k.retriever.calls[0]
    assert [("ask", "answered"), ("ask", "posted")] == [(e.action, e.status) for e in k.audit.entries]


async def test_a_scheduled_question_is_not_posted_where_policy_keeps_answers_private() -> None:
    """With `visibility: direct` a channel answer would use the owner's own rights: not posted."""
    text = POLICY.read_text(encoding="utf-8").replace("  visibility: channel\n", "  visibility: direct\n")
    async with kura(policy_text=text) as k:
        result = await k.outbox.ask("締め日は？", to=GENERAL, owner="carol@example.co.jp", actor="schedule:q")
    assert (False, "audience_not_cleared") == (result.posted, result.reason_code)
    assert [] == k.transport.messages


async def test_a_scheduled_answer_by_dm_goes_only_to_its_owner() -> None:
    """A DM destination other than the owner is refused before anything is asked."""
    async with kura() as k:
        other = await k.outbox.ask(
            "締め日は？", to=Destination("memory", user="alice@example.co.jp"), owner="carol@example.co.jp", actor="q"
        )
        own = await k.outbox.ask(
            "締め日は？", to=Destination("memory", user="carol@example.co.jp"), owner="carol@example.co.jp", actor="q"
        )
    assert ("recipient_not_owner", True) == (other.reason_code, own.posted)
    assert 1 == len(k.model.requests)
