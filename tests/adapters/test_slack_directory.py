"""The Slack directory against the fake Slack: many mentions at once cost one lookup per person and
per channel, not one per mention (Slack's rate limits), and a failed lookup is not remembered."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters.slack.directory import SlackDirectory, kind_of
from bot.errors import DirectoryUnavailable
from bot.identity import FileDirectory
from bot.wiring import default_directory_file, default_policy_file
from policies import ChannelKind, Request, decide, load_policy
from tests.adapters.conftest import CHANNELS, USERS
from tests.fakes.slack import FakeSlack, SlackUser

pytestmark = pytest.mark.adapters


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """slack_sdk reads HTTP(S)_PROXY (ignoring NO_PROXY) even for 127.0.0.1; keep traffic local."""
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    async with FakeSlack(USERS, CHANNELS) as slack:
        yield slack


def _directory(fake: FakeSlack) -> SlackDirectory:
    client = AsyncWebClient(token="xoxb-test", base_url=fake.api_url, timeout=5)  # noqa: S106 - fake token
    return SlackDirectory(client, FileDirectory.load(default_directory_file()), team_id=fake.team_id, ttl_s=300)


async def test_a_crowd_of_mentions_looks_up_a_channel_and_its_members_once(fake: FakeSlack) -> None:
    directory = _directory(fake)

    results = await asyncio.gather(*(directory.channel_members("C_GENERAL") for _ in range(50)))

    assert 1 == len(fake.calls_to("conversations.members"))
    asked = sorted(call.params["user"] for call in fake.calls_to("users.info"))
    assert sorted(CHANNELS["C_GENERAL"]) == asked  # each member once, Kura included
    assert all(r == results[0] for r in results)
    assert results[0] is not None
    people = ["alice@example.co.jp", "bob@example.co.jp", "carol@example.co.jp", "dave@example.co.jp"]
    assert people == [m.user_id for m in results[0]]  # in Slack's order, without Kura


async def test_a_crowd_of_mentions_by_one_person_looks_them_up_once(fake: FakeSlack) -> None:
    directory = _directory(fake)

    users = await asyncio.gather(*(directory.user("U_ALICE") for _ in range(50)))

    assert 1 == len(fake.calls_to("users.info"))
    assert {"alice@example.co.jp"} == {u.email for u in users if u is not None}
    assert 50 == sum(1 for u in users if u is not None)


async def test_a_failed_lookup_reaches_every_waiter_and_is_tried_again_later(fake: FakeSlack) -> None:
    directory = _directory(fake)
    fake.fail("users.info", "internal_error")

    results = await asyncio.gather(*(directory.profile("U_BOB") for _ in range(5)), return_exceptions=True)
    again = await directory.profile("U_BOB")

    assert all(isinstance(r, DirectoryUnavailable) for r in results)
    assert 2 == len(fake.calls_to("users.info"))
    assert again is not None
    assert "bob@example.co.jp" == again.email


async def test_a_member_lookup_failing_fails_the_channel_and_is_not_cached(fake: FakeSlack) -> None:
    directory = _directory(fake)
    fake.fail("users.info", "internal_error")

    with pytest.raises(DirectoryUnavailable):
        await directory.channel_members("C_HR")
    members = await directory.channel_members("C_HR")

    assert members is not None
    assert ["carol@example.co.jp"] == [m.user_id for m in members]
    assert 2 == len(fake.calls_to("conversations.members"))


# ---------------------------------------------------------------------------------- kinds of channel


async def test_conversations_info_tells_the_kind_of_each_channel() -> None:
    """Public, private, a group DM, Slack Connect (private or public), a DM; unknown: None."""
    channels = {name: ["U_CAROL", "U_KURA"] for name in ("C_PUB", "C_PRIV", "G_MPIM", "C_EXT", "C_EXTPUB", "D_X")}
    async with FakeSlack(
        USERS, channels, private=["C_PRIV", "C_EXT"], group_dms=["G_MPIM"], shared=["C_EXT", "C_EXTPUB"]
    ) as fake:
        directory = _directory(fake)
        kinds = {name: await directory.channel_kind(name) for name in [*channels, "C_NOWHERE"]}
    assert {
        "C_PUB": ChannelKind("public"),
        "C_PRIV": ChannelKind("private"),
        "G_MPIM": ChannelKind("direct"),
        "C_EXT": ChannelKind("private", shared=True),
        "C_EXTPUB": ChannelKind("public", shared=True),
        "D_X": ChannelKind("direct"),
        "C_NOWHERE": None,
    } == kinds


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ({}, ChannelKind("public")),
        ({"is_org_shared": True}, ChannelKind("public", shared=True)),
        ({"is_private": True, "is_pending_ext_shared": True}, ChannelKind("private", shared=True)),
        ({"is_group": True}, ChannelKind("private")),
        ({"is_mpim": True, "is_private": True}, ChannelKind("direct")),
    ],
)
def test_every_sharing_flag_makes_a_channel_shared(flags: dict[str, bool], expected: ChannelKind) -> None:
    """Other workspaces of the org, or an invitation not yet accepted, count as shared too; a
    conversation object missing its flags counts as public (the wider audience)."""
    assert expected == kind_of(flags)


async def test_a_crowd_asks_what_kind_a_channel_is_once(fake: FakeSlack) -> None:
    directory = _directory(fake)
    kinds = await asyncio.gather(*(directory.channel_kind("C_GENERAL") for _ in range(30)))
    assert {ChannelKind("public")} == set(kinds)
    assert 1 == len(fake.calls_to("conversations.info"))


async def test_a_failed_kind_lookup_is_unavailable_and_not_remembered(fake: FakeSlack) -> None:
    directory = _directory(fake)
    fake.fail("conversations.info", "internal_error")
    with pytest.raises(DirectoryUnavailable):
        await directory.channel_kind("C_SHARED")
    fake.shared.add("C_SHARED")
    assert ChannelKind("public", shared=True) == await directory.channel_kind("C_SHARED")


# ---------------------------------------------------------------------------------- huge channels

CROWD = 3000


def _crowd() -> tuple[list[SlackUser], dict[str, list[str]], str]:
    """3,000 people (U00001…) in one channel with Kura, and the directory file that knows them."""
    people = [SlackUser(f"U{i:05d}", f"p{i:05d}@example.co.jp", "ja-JP") for i in range(1, CROWD + 1)]
    kura = SlackUser("U_KURA", None, is_bot=True)
    directory = "users:\n" + "".join(f"  - {{email: {u.email}, groups: [all-staff]}}\n" for u in people)
    return [*people, kura], {"C_HUGE": [u.id for u in people] + ["U_KURA"]}, directory


def _huge_directory(fake: FakeSlack, tmp_path: Path, text: str) -> SlackDirectory:
    path = tmp_path / "directory.yaml"
    path.write_text(text, encoding="utf-8")
    client = AsyncWebClient(token="xoxb-test", base_url=fake.api_url, timeout=30)  # noqa: S106 - fake token
    return SlackDirectory(client, FileDirectory.load(path), team_id=fake.team_id, ttl_s=300)


async def test_a_huge_channel_costs_pages_not_a_call_per_member(tmp_path: Path) -> None:
    """3,000 members: the member list and the workspace's users a page (200) at a time, not 3,000
    users.info calls; every member resolved from the listing; a crowd of mentions shares it."""
    users, channels, text = _crowd()
    async with FakeSlack(users, channels) as fake:
        directory = _huge_directory(fake, tmp_path, text)
        results = await asyncio.gather(*(directory.channel_members("C_HUGE") for _ in range(20)))
        asker = await directory.user("U01234")
        counts = {m: len(fake.calls_to(m)) for m in {c.method for c in fake.calls}}
    pages = -(-(CROWD + 1) // 200)
    assert {"conversations.members": pages, "users.list": pages, "conversations.info": 1} == counts
    members = results[0]
    assert members is not None
    assert all(r == members for r in results)
    assert CROWD == len(members)
    assert all(m.known and m.groups == frozenset({"all-staff"}) for m in members)
    assert asker is not None
    assert "p01234@example.co.jp" == asker.email
    assert "ja" == asker.locale  # include_locale was asked for


async def test_a_huge_public_channel_answer_is_decided_on_the_listing(tmp_path: Path) -> None:
    """Through policy: the workspace audience and 3,000 members give all-staff at internal."""
    users, channels, text = _crowd()
    policy = load_policy(default_policy_file())
    async with FakeSlack(users, channels) as fake:
        directory = _huge_directory(fake, tmp_path, text)
        asker = await directory.user("U00007")
        kind = await directory.channel_kind("C_HUGE")
        members = await directory.channel_members("C_HUGE")
    assert asker is not None
    assert kind is not None
    decision = decide(policy, Request("ask", asker.member(), "C_HUGE", members, channel_kind=kind))
    assert decision.scope is not None
    assert (frozenset({"public", "group:all-staff", "role:employee"}),) == decision.scope.principal_sets
    assert 1 == len(fake.calls_to("users.info"))  # the asker, before the channel


async def test_a_huge_shared_channel_needs_no_profiles(tmp_path: Path) -> None:
    """Shared with another organisation: public only whoever is in it, so the members are not looked
    up at all; an asker (looked up first) is still found among them, also after the list is cached."""
    users, channels, text = _crowd()
    async with FakeSlack(users, channels, shared=["C_HUGE"]) as fake:
        directory = _huge_directory(fake, tmp_path, text)
        first = await directory.user("U00001")
        before = await directory.channel_members("C_HUGE")
        later = await directory.user("U02999")  # asks after the member list was cached
        after = await directory.channel_members("C_HUGE")
        counts = {m: len(fake.calls_to(m)) for m in {c.method for c in fake.calls}}
    assert first is not None
    assert later is not None
    assert before is not None
    assert after is not None
    assert {"conversations.members": -(-(CROWD + 1) // 200), "conversations.info": 1, "users.info": 2} == counts
    assert first.email in {m.user_id for m in before if m.known}
    assert {first.email, later.email} <= {m.user_id for m in after if m.known}
    policy = load_policy(default_policy_file())
    kind = ChannelKind("public", shared=True)
    decision = decide(policy, Request("ask", later.member(), "C_HUGE", after, channel_kind=kind))
    assert decision.allowed
    assert decision.scope is not None
    assert (frozenset({"public"}),) == decision.scope.principal_sets


async def test_a_failed_listing_fails_the_channel_and_is_tried_again(tmp_path: Path) -> None:
    users, channels, text = _crowd()
    async with FakeSlack(users, channels) as fake:
        directory = _huge_directory(fake, tmp_path, text)
        fake.fail("users.list", "internal_error")
        with pytest.raises(DirectoryUnavailable):
            await directory.channel_members("C_HUGE")
        members = await directory.channel_members("C_HUGE")
        info_calls = len(fake.calls_to("users.info"))
    assert members is not None
    assert CROWD == len(members)
    assert 0 == info_calls


async def test_channel_members_follow_the_directory_file_while_slack_answers_are_cached(
    fake: FakeSlack, tmp_path: Path
) -> None:
    """Slack's answers are cached; the groups they lead to are not: a person removed from a group in
    the directory file counts without it at the next request, with no new call to Slack."""
    path = tmp_path / "directory.yaml"
    sample = default_directory_file().read_text(encoding="utf-8")
    path.write_text(sample, encoding="utf-8")
    client = AsyncWebClient(token="xoxb-test", base_url=fake.api_url, timeout=5)  # noqa: S106 - fake token
    base = FileDirectory.load(path, watch=True, interval_s=0, settle_s=0)
    directory = SlackDirectory(client, base, team_id=fake.team_id, ttl_s=300)

    before = await directory.channel_members("C_GENERAL")
    calls = len(fake.calls)
    path.write_text(sample.replace("groups: [all-staff, hr]", "groups: [all-staff]"), encoding="utf-8")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    after = await directory.channel_members("C_GENERAL")

    assert before is not None
    assert after is not None
    carol = "carol@example.co.jp"
    assert "hr" in next(m.groups for m in before if m.user_id == carol)
    assert "hr" not in next(m.groups for m in after if m.user_id == carol)
    user = await directory.user("U_CAROL")
    assert user is not None
    assert "hr" not in user.groups
    assert calls == len(fake.calls)
