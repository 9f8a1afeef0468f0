"""The Slack directory against the fake Slack: many mentions at once cost one lookup per person and
per channel, not one per mention (Slack's rate limits), and a failed lookup is not remembered."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters.slack.directory import SlackDirectory
from bot.errors import DirectoryUnavailable
from bot.identity import FileDirectory
from bot.wiring import default_directory_file
from tests.adapters.conftest import CHANNELS, USERS
from tests.fakes.slack import FakeSlack

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
