"""Slack's side of minutes against the fake Slack with the real slack_sdk client: a channel's messages
in a period and whole threads with speakers (``SlackHistory``), attached files (``SlackFiles``), and
files on an ``app_mention`` event (``to_inbound``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from pydantic import SecretStr
from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters.slack.files import SlackFiles
from bot.adapters.slack.history import SlackHistory
from bot.adapters.slack.runner import slack_client
from bot.adapters.slack.translate import to_inbound
from bot.core.types import FileRef, HistoryMessage
from bot.errors import InputError, UpstreamError
from bot.settings import SlackSettings
from tests.adapters.conftest import CHANNELS, USERS
from tests.fakes.slack import FakeSlack

pytestmark = pytest.mark.adapters

T0 = 1_800_000_000  # the period starts here
SINCE = datetime.fromtimestamp(T0, UTC)
UNTIL = datetime.fromtimestamp(T0 + 1000, UTC)


def ts(offset: int) -> str:
    return f"{T0 + offset}.000100"


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """slack_sdk reads HTTP(S)_PROXY (ignoring NO_PROXY) even for 127.0.0.1; keep traffic local."""
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    async with FakeSlack(USERS, CHANNELS | {"C_ELSEWHERE": ["U_ALICE"]}) as slack:
        yield slack


def _client(fake: FakeSlack, token: str = "xoxb-test") -> AsyncWebClient:  # noqa: S107 - fake token
    """Kura's own client (with its 429 and connection retry handlers) pointed at the fake."""
    return slack_client(SlackSettings(bot_token=SecretStr(token), api_url=fake.api_url))


def _history(fake: FakeSlack) -> SlackHistory:
    return SlackHistory(_client(fake), bot_user_id="U_KURA", bot_id="B_KURA")


def _said(messages: list[HistoryMessage]) -> list[tuple[str, str, str, str]]:
    return [(m.message_id, m.author, m.speaker, m.text) for m in messages]


def _meeting(fake: FakeSlack) -> None:
    """A channel's day: a message before the period, a join, a discussion with a thread whose last
    reply comes after the period, Kura's and another bot's messages, and a message after it."""
    c = "C_GENERAL"
    fake.add_message(c, ts(-5), "U_ALICE", "昨日の話")
    fake.add_message(c, ts(0), "U_DAVE", "<@U_DAVE> has joined the channel", subtype="channel_join")
    fake.add_message(c, ts(10), "U_ALICE", "議題: 予算")
    fake.add_message(c, ts(20), "U_BOB", "賛成です", thread_ts=ts(10))
    fake.add_message(c, ts(30), "U_CAROL", "<@U_KURA> まとめて")
    fake.add_message(c, ts(40), "U_KURA", "まとめました", bot_id="B_KURA")
    fake.add_message(c, ts(50), "", "CI passed", bot_id="B_OTHER", subtype="bot_message")
    fake.add_message(c, ts(60), "U_CAROL", "了解", thread_ts=ts(10))
    fake.add_message(c, ts(999), "U_BOB", "最後")
    fake.add_message(c, ts(1000), "U_ALICE", "期間の外（until ちょうど）")
    fake.add_message(c, ts(1010), "U_BOB", "翌日の返信", thread_ts=ts(10))


async def test_a_channel_period_is_its_messages_and_replies_in_order_with_speakers(fake: FakeSlack) -> None:
    _meeting(fake)
    fake.history_page_cap = 2  # Slack's small pages for new non-Marketplace apps, made smaller

    found = await _history(fake).channel("C_GENERAL", SINCE, UNTIL)

    assert [
        (ts(10), "person", "alice", "議題: 予算"),
        (ts(20), "person", "bob", "賛成です"),
        (ts(30), "person", "carol", "まとめて"),
        (ts(40), "kura", "kura", "まとめました"),
        (ts(50), "bot", "B_OTHER", "CI passed"),
        (ts(60), "person", "carol", "了解"),
        (ts(999), "person", "bob", "最後"),
    ] == _said(list(found))
    assert "U_ALICE" == found[0].user
    assert 3 == len(fake.calls_to("conversations.history"))  # 6 top-level messages (the join too), 2 a page
    assert ["200"] == sorted({str(c.params["limit"]) for c in fake.calls_to("conversations.history")})
    assert [ts(10)] == [c.params["ts"] for c in fake.calls_to("conversations.replies")]
    looked_up = [c.params["user"] for c in fake.calls_to("users.info")]
    assert sorted(looked_up) == sorted(set(looked_up)) == ["U_ALICE", "U_BOB", "U_CAROL", "U_KURA"]


async def test_an_open_ended_period_reads_to_now_and_names_are_remembered(fake: FakeSlack) -> None:
    _meeting(fake)
    history = _history(fake)

    first = await history.channel("C_GENERAL", SINCE, None)
    again = await history.channel("C_GENERAL", SINCE, None)

    assert [ts(999), ts(1000), ts(1010)] == [m.message_id for m in first][-3:]
    assert _said(list(first)) == _said(list(again))
    assert 4 == len(fake.calls_to("users.info"))  # the second read asked no one again


async def test_a_whole_thread_is_the_parent_and_every_reply_with_speakers(fake: FakeSlack) -> None:
    _meeting(fake)

    found = await _history(fake).whole_thread("C_GENERAL", ts(10))

    assert [
        (ts(10), "person", "alice", "議題: 予算"),
        (ts(20), "person", "bob", "賛成です"),
        (ts(60), "person", "carol", "了解"),
        (ts(1010), "person", "bob", "翌日の返信"),
    ] == _said(list(found))


async def test_a_speaker_who_cannot_be_looked_up_is_their_user_id(fake: FakeSlack) -> None:
    fake.add_message("C_GENERAL", ts(10), "U_GONE", "退職済み")
    fake.add_message("C_GENERAL", ts(20), "U_ALICE", "返信", thread_ts=ts(10))

    found = await _history(fake).whole_thread("C_GENERAL", ts(10))

    assert [("U_GONE", "U_GONE"), ("alice", "U_ALICE")] == [(m.speaker, m.user) for m in found]


@pytest.mark.parametrize(("channel", "error"), [("C_ELSEWHERE", "not_in_channel"), ("C_NOWHERE", "channel_not_found")])
async def test_a_channel_kura_cannot_read_is_an_upstream_error_naming_slacks_code(
    fake: FakeSlack, channel: str, error: str
) -> None:
    with pytest.raises(UpstreamError, match=rf"conversations\.history failed: {error}"):
        await _history(fake).channel(channel, SINCE, UNTIL)


async def test_a_missing_scope_on_a_thread_is_an_upstream_error(fake: FakeSlack) -> None:
    fake.fail("conversations.replies", "missing_scope")

    with pytest.raises(UpstreamError, match=r"conversations\.replies failed: missing_scope"):
        await _history(fake).whole_thread("C_GENERAL", ts(10))


async def test_a_rate_limited_first_page_is_waited_out(fake: FakeSlack) -> None:
    _meeting(fake)
    fake.rate_limit("conversations.history", times=1, retry_after=0)

    found = await _history(fake).channel("C_GENERAL", SINCE, UNTIL)

    assert 7 == len(found)
    assert 2 == len(fake.calls_to("conversations.history"))


async def test_slack_out_of_reach_is_an_upstream_error(fake: FakeSlack) -> None:
    client = AsyncWebClient(token="xoxb-test", base_url=fake.api_url, timeout=5)  # noqa: S106 - fake token
    await fake.stop()

    with pytest.raises(UpstreamError, match="Slack could not be reached"):
        await SlackHistory(client, bot_user_id="U_KURA", bot_id="B_KURA").channel("C_GENERAL", SINCE, UNTIL)


# ---------------------------------------------------------------------- files


def _ref(fake: FakeSlack, content: bytes, name: str = "transcript.vtt") -> FileRef:
    event = fake.app_mention(
        "C_GENERAL", "U_ALICE", "議事録をまとめて", files=[fake.upload("C_GENERAL", "U_ALICE", name, content)]
    )
    [ref] = to_inbound(event, "U_KURA", event_id="Ev1").files
    return ref


async def test_an_attached_file_is_downloaded_with_the_bot_token(fake: FakeSlack) -> None:
    content = "WEBVTT\n\n00:00.000 --> 00:05.000\n<v 佐藤>予算は承認です。\n".encode()
    ref = _ref(fake, content)

    got = await SlackFiles(_client(fake)).fetch(ref, max_bytes=1024)

    assert content == got
    [call] = fake.calls_to("files.download")
    assert "Bearer xoxb-test" == call.headers["Authorization"]


async def test_a_file_declared_too_large_is_refused_before_downloading(fake: FakeSlack) -> None:
    ref = _ref(fake, b"x" * 3000)

    with pytest.raises(InputError, match="the file is larger than 2 KB"):
        await SlackFiles(_client(fake)).fetch(ref, max_bytes=2048)
    assert [] == fake.calls_to("files.download")


async def test_a_file_larger_than_it_said_is_cut_off(fake: FakeSlack) -> None:
    ref = replace(_ref(fake, b"x" * 300_000), size=10)

    with pytest.raises(InputError, match="the file is larger than 100 KB"):
        await SlackFiles(_client(fake)).fetch(ref, max_bytes=100 * 1024)
    assert 1 == len(fake.calls_to("files.download"))


async def test_a_sign_in_page_instead_of_the_file_is_an_upstream_error(fake: FakeSlack) -> None:
    ref = _ref(fake, b"WEBVTT\n")

    with pytest.raises(UpstreamError, match="Slack did not give the file: a sign-in page came back"):
        await SlackFiles(_client(fake, token="xoxb-revoked")).fetch(ref, max_bytes=1024)  # noqa: S106 - fake token


async def test_an_unknown_file_is_an_upstream_error(fake: FakeSlack) -> None:
    ref = replace(_ref(fake, b"WEBVTT\n"), url=f"http://127.0.0.1:{fake.port}/files-pri/T_KURA-FNONE/download/x.vtt")

    with pytest.raises(UpstreamError, match="Slack did not give the file: HTTP 404"):
        await SlackFiles(_client(fake)).fetch(ref, max_bytes=1024)


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example/files-pri/T_KURA-F1/download/x.vtt",
        "https://files.slack.com.evil.example/files-pri/T_KURA-F1/download/x.vtt",
        "http://files.slack.com/files-pri/T_KURA-F1/download/x.vtt",
        "file:///etc/passwd",
    ],
)
async def test_the_token_never_goes_to_a_host_that_is_not_slacks(fake: FakeSlack, url: str) -> None:
    with pytest.raises(UpstreamError, match="host is not Slack's"):
        await SlackFiles(_client(fake)).fetch(FileRef("F1", "x.vtt", 10, url), max_bytes=1024)
    assert [] == fake.calls_to("files.download")


def test_files_on_a_mention_become_the_inbound_messages_files(fake: FakeSlack) -> None:
    vtt = fake.upload("C_GENERAL", "U_ALICE", "会議.vtt", b"WEBVTT\n")
    link = {"id": "F_LINK", "name": "資料", "mode": "external", "is_external": True, "size": 0}
    event = fake.app_mention("C_GENERAL", "U_ALICE", "議事録をまとめて", files=[vtt, link])

    inbound = to_inbound(event, "U_KURA", event_id="Ev1")

    assert (FileRef(vtt["id"], "会議.vtt", 7, vtt["url_private_download"]),) == inbound.files
    assert "議事録をまとめて" == inbound.text
    assert () == to_inbound(fake.app_mention("C_GENERAL", "U_ALICE", "こんにちは"), "U_KURA", event_id="Ev2").files
