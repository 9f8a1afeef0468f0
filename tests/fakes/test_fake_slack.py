"""The fake Slack, exercised with the real slack_sdk and slack_bolt clients over 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import aiohttp
import pytest
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncSay
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse
from slack_sdk.webhook.async_client import AsyncWebhookClient

from tests.fakes.slack import Call, FakeSlack, SlackUser

pytestmark = pytest.mark.adapters

BOT_TOKEN = "xoxb-test"  # noqa: S105 - fake tokens for the fake server
APP_TOKEN = "xapp-test"  # noqa: S105
CHANNEL = "C_GENERAL"
DM = "D_ALICE"


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """slack_sdk reads HTTP(S)_PROXY (ignoring NO_PROXY) even for 127.0.0.1; keep traffic local."""
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    users = [
        SlackUser(id="U_ALICE", email="alice@example.com", name="alice"),
        SlackUser(id="U_BOB", email=None, locale="en-US", name="bob"),
    ]
    channels = {CHANNEL: ["U_ALICE", "U_BOB", "U_KURA"], DM: ["U_ALICE", "U_KURA"]}
    async with FakeSlack(users, channels) as slack:
        yield slack


def _client(fake: FakeSlack, token: str | None = BOT_TOKEN) -> AsyncWebClient:
    return AsyncWebClient(token=token, base_url=fake.api_url, timeout=5)


async def test_auth_test_answers_the_bot_identity(fake: FakeSlack) -> None:
    response = await _client(fake).auth_test()

    assert "U_KURA" == response["user_id"]
    assert "T_KURA" == response["team_id"]
    assert "B_KURA" == response["bot_id"]
    [call] = fake.calls_to("auth.test")
    assert "POST" == call.http_method
    assert "Bearer xoxb-test" == call.headers["Authorization"]


async def test_a_call_without_a_token_is_not_authed_but_recorded(fake: FakeSlack) -> None:
    with pytest.raises(SlackApiError) as raised:
        await _client(fake, token=None).auth_test()

    assert "not_authed" == raised.value.response["error"]
    assert ["auth.test"] == [call.method for call in fake.calls]


async def test_users_info_reports_profile_and_locale(fake: FakeSlack) -> None:
    client = _client(fake)

    alice = (await client.users_info(user="U_ALICE"))["user"]
    bob = (await client.users_info(user="U_BOB"))["user"]
    with pytest.raises(SlackApiError) as raised:
        await client.users_info(user="U_NOBODY")

    assert "alice@example.com" == alice["profile"]["email"]
    assert "ja-JP" == alice["locale"]
    assert "en-US" == bob["locale"]
    assert "email" not in bob["profile"]
    assert "user_not_found" == raised.value.response["error"]
    assert "GET" == fake.calls_to("users.info")[0].http_method
    assert {"user": "U_ALICE"} == fake.calls_to("users.info")[0].params


async def test_conversations_members_paginates_with_real_cursors(fake: FakeSlack) -> None:
    # AsyncSlackResponse iterates by mutating and returning itself, so read each page inside the loop.
    pages = [page["members"] async for page in await _client(fake).conversations_members(channel=CHANNEL, limit=1)]

    assert [["U_ALICE"], ["U_BOB"], ["U_KURA"]] == pages
    cursors = [call.params.get("cursor") for call in fake.calls_to("conversations.members")]
    assert None is cursors[0]
    assert all(cursors[1:])


async def test_conversations_members_and_info_of_an_unknown_channel(fake: FakeSlack) -> None:
    client = _client(fake)

    with pytest.raises(SlackApiError) as members:
        await client.conversations_members(channel="C_NOWHERE")
    with pytest.raises(SlackApiError) as info:
        await client.conversations_info(channel="C_NOWHERE")

    assert "channel_not_found" == members.value.response["error"]
    assert "channel_not_found" == info.value.response["error"]


async def test_conversations_info_tells_dms_from_channels(fake: FakeSlack) -> None:
    client = _client(fake)

    channel = (await client.conversations_info(channel=CHANNEL))["channel"]
    dm = (await client.conversations_info(channel=DM))["channel"]

    assert (False, True) == (channel["is_im"], channel["is_channel"])
    assert (True, False) == (dm["is_im"], dm["is_channel"])


async def test_post_message_in_a_thread_then_replies_returns_parent_first(fake: FakeSlack) -> None:
    fake.add_message(CHANNEL, "1700000000.000100", "U_ALICE", "<@U_KURA> 経費精算の締め日は？")
    client = _client(fake)
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "毎月25日です。"}}]

    posted = await client.chat_postMessage(
        channel=CHANNEL, thread_ts="1700000000.000100", text="毎月25日です。", blocks=blocks, unfurl_links=False
    )
    replies = await client.conversations_replies(channel=CHANNEL, ts="1700000000.000100")

    assert float(posted["ts"]) > 1700000000.0001
    assert ["U_ALICE", "U_KURA"] == [m["user"] for m in replies["messages"]]
    assert [None, "B_KURA"] == [m.get("bot_id") for m in replies["messages"]]
    assert ["1700000000.000100"] * 2 == [m["thread_ts"] for m in replies["messages"]]
    assert False is replies["has_more"]
    stored = fake.messages(CHANNEL)[-1]
    assert blocks == stored["blocks"]
    assert False is stored["unfurl_links"]
    assert None is stored["unfurl_media"]
    assert blocks == fake.calls_to("chat.postMessage")[0].params["blocks"]


async def test_post_message_timestamps_increase(fake: FakeSlack) -> None:
    client = _client(fake)

    first = await client.chat_postMessage(channel=DM, text="1")
    second = await client.chat_postMessage(channel=DM, text="2")

    assert float(first["ts"]) < float(second["ts"])
    assert ["1", "2"] == [m["text"] for m in fake.messages(DM)]


async def test_chat_update_changes_the_stored_message(fake: FakeSlack) -> None:
    client = _client(fake)
    posted = await client.chat_postMessage(channel=CHANNEL, text="考え中…")

    updated = await client.chat_update(channel=CHANNEL, ts=posted["ts"], text="答えです")
    with pytest.raises(SlackApiError) as raised:
        await client.chat_update(channel=CHANNEL, ts="1.000000", text="x")

    assert "答えです" == updated["text"]
    assert "答えです" == fake.messages(CHANNEL)[0]["text"]
    assert "message_not_found" == raised.value.response["error"]


async def test_form_encoded_and_get_requests_are_decoded(fake: FakeSlack) -> None:
    client = _client(fake)
    blocks = [{"type": "divider"}]

    await client.api_call(
        "chat.postMessage", data={"channel": CHANNEL, "text": "[not json]", "blocks": json.dumps(blocks)}
    )
    await client.api_call("conversations.members", http_verb="GET", params={"channel": CHANNEL, "limit": 2})

    [form] = fake.calls_to("chat.postMessage")
    assert {"channel": CHANNEL, "text": "[not json]", "blocks": blocks} == form.params
    [get] = fake.calls_to("conversations.members")
    assert ("GET", {"channel": CHANNEL, "limit": "2"}) == (get.http_method, get.params)


async def test_an_unknown_method_is_answered_and_recorded(fake: FakeSlack) -> None:
    with pytest.raises(SlackApiError) as raised:
        await _client(fake).api_call("reactions.add", json={"name": "eyes"})

    assert "unknown_method" == raised.value.response["error"]
    assert [Call] == [type(call) for call in fake.calls_to("reactions.add")]


async def test_a_rate_limited_call_is_retried_by_the_sdk(fake: FakeSlack) -> None:
    fake.rate_limit("chat.postMessage", retry_after=0)
    client = AsyncWebClient(
        token=BOT_TOKEN,
        base_url=fake.api_url,
        timeout=5,
        retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=1)],
    )

    response = await client.chat_postMessage(channel=CHANNEL, text="hi")

    assert True is response["ok"]
    assert 2 == len(fake.calls_to("chat.postMessage"))
    assert 1 == len(fake.messages(CHANNEL))


async def test_a_rate_limit_reaches_a_client_without_retries_as_429(fake: FakeSlack) -> None:
    fake.rate_limit("users.info", times=2, retry_after=30)
    client = _client(fake)

    for _ in range(2):
        with pytest.raises(SlackApiError) as raised:
            await client.users_info(user="U_ALICE")
        assert 429 == raised.value.response.status_code
        assert "30" == raised.value.response.headers["Retry-After"]
        assert "ratelimited" == raised.value.response["error"]
    assert "U_ALICE" == (await client.users_info(user="U_ALICE"))["user"]["id"]


async def test_fail_answers_the_error_then_recovers(fake: FakeSlack) -> None:
    fake.fail("chat.postMessage", "is_archived")
    client = _client(fake)

    with pytest.raises(SlackApiError) as raised:
        await client.chat_postMessage(channel=CHANNEL, text="hi")
    await client.chat_postMessage(channel=CHANNEL, text="hi")

    assert (200, "is_archived") == (raised.value.response.status_code, raised.value.response["error"])
    assert 1 == len(fake.messages(CHANNEL))


async def test_streaming_keeps_the_concatenated_markdown(fake: FakeSlack) -> None:
    fake.add_message(DM, "1700000000.000100", "U_ALICE", "質問")
    client = _client(fake)
    await client.assistant_threads_setStatus(channel_id=DM, thread_ts="1700000000.000100", status="考え中…")

    stream = await client.chat_stream(
        channel=DM,
        thread_ts="1700000000.000100",
        recipient_team_id="T_KURA",
        recipient_user_id="U_ALICE",
        buffer_size=4,
    )
    await stream.append(markdown_text="**毎月")
    await stream.append(markdown_text="25日**")
    await stream.stop(markdown_text="です。")

    [message] = [m for m in fake.messages(DM) if m["user"] == "U_KURA"]
    assert "**毎月25日**です。" == message["markdown_text"]
    assert "1700000000.000100" == message["thread_ts"]
    assert False is message["streaming"]
    assert ["chat.startStream", "chat.appendStream", "chat.stopStream"] == [
        call.method for call in fake.calls if call.method.startswith("chat.")
    ]
    assert "考え中…" == fake.calls_to("assistant.threads.setStatus")[0].params["status"]


async def test_append_to_a_stopped_stream_fails(fake: FakeSlack) -> None:
    client = _client(fake)
    started = await client.chat_startStream(channel=DM, thread_ts="1700000000.000100", markdown_text="a")
    await client.chat_stopStream(channel=DM, ts=started["ts"])

    with pytest.raises(SlackApiError) as raised:
        await client.chat_appendStream(channel=DM, ts=started["ts"], markdown_text="b")

    assert "message_not_in_streaming_state" == raised.value.response["error"]


async def test_post_ephemeral_answers_a_message_ts(fake: FakeSlack) -> None:
    response = await _client(fake).chat_postEphemeral(channel=CHANNEL, user="U_ALICE", text="自分だけ")

    assert response["message_ts"]
    assert [] == fake.messages(CHANNEL)


async def test_response_url_posts_are_recorded(fake: FakeSlack) -> None:
    url = fake.response_url()

    response = await AsyncWebhookClient(url).send(text="了解", response_type="ephemeral")

    assert 200 == response.status_code
    [call] = fake.calls_to("response_url")
    assert {"text": "了解", "response_type": "ephemeral"} == call.params


async def test_an_unissued_response_url_is_not_found(fake: FakeSlack) -> None:
    response = await AsyncWebhookClient(f"http://127.0.0.1:{fake.port}/response/nope").send(text="x")

    assert 404 == response.status_code
    assert 1 == len(fake.calls_to("response_url"))


async def test_conversations_history_pages_a_window_newest_first(fake: FakeSlack) -> None:
    """oldest/latest are left out unless ``inclusive``; replies stay out, their parent says it has them;
    ``history_page_cap`` caps ``limit`` as Slack does for new non-Marketplace apps."""
    for n in range(1, 6):
        fake.add_message(CHANNEL, f"1800000000.00000{n}", "U_ALICE", f"m{n}")
    fake.add_message(CHANNEL, "1800000000.000009", "U_BOB", "reply", thread_ts="1800000000.000002")
    fake.add_message(CHANNEL, "1800000000.000006", "U_BOB", "joined", subtype="channel_join")
    fake.history_page_cap = 2
    client = _client(fake)

    async def window(*, inclusive: bool, cursor: str | None = None) -> AsyncSlackResponse:
        return await client.conversations_history(
            channel=CHANNEL,
            oldest="1800000000.000002",
            latest="1800000000.000006",
            inclusive=inclusive,
            limit=10,
            cursor=cursor,
        )

    exclusive = await window(inclusive=False)
    pages = [await window(inclusive=True)]
    while cursor := pages[-1]["response_metadata"]["next_cursor"]:
        pages.append(await window(inclusive=True, cursor=cursor))

    assert ["m5", "m4"] == [m["text"] for m in exclusive["messages"]]
    assert True is exclusive["has_more"]
    inclusive = [m for page in pages for m in page["messages"]]
    assert ["joined", "m5", "m4", "m3", "m2"] == [m["text"] for m in inclusive]
    assert "channel_join" == inclusive[0]["subtype"]
    parent = inclusive[-1]
    assert (1, "1800000000.000002", ["U_BOB"]) == (parent["reply_count"], parent["thread_ts"], parent["reply_users"])
    assert "reply_count" not in inclusive[1]


async def test_conversations_history_of_a_channel_kura_is_not_in(fake: FakeSlack) -> None:
    fake.channels["C_OTHER"] = ["U_ALICE"]

    with pytest.raises(SlackApiError) as raised:
        await _client(fake).conversations_history(channel="C_OTHER")

    assert "not_in_channel" == raised.value.response["error"]


async def test_an_uploaded_file_is_served_to_the_bot_token_only(fake: FakeSlack) -> None:
    """Like Slack: the bytes for the bot token; a sign-in page (200, HTML) for any other; 404 for no file."""
    shared = fake.upload(CHANNEL, "U_ALICE", "notes.txt", b"hello")
    url = shared["url_private_download"]
    event = fake.app_mention(CHANNEL, "U_ALICE", "まとめて", files=[shared])

    async with aiohttp.ClientSession() as session:

        async def get(address: str, token: str | None) -> tuple[int, str, bytes]:
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            async with session.get(address, headers=headers) as response:
                return response.status, response.content_type, await response.read()

        assert (200, "application/octet-stream", b"hello") == await get(url, BOT_TOKEN)
        status, kind, _ = await get(url, "xoxb-wrong")
        assert (200, "text/html") == (status, kind)
        assert "text/html" == (await get(url, None))[1]
        assert 404 == (await get(url.replace(shared["id"], "FNONE"), BOT_TOKEN))[0]
    assert 4 == len(fake.calls_to("files.download"))
    assert (5, "text/plain") == (shared["size"], shared["mimetype"])
    assert [shared] == event["files"]
    assert "<@U_KURA> まとめて" == event["text"]
    [stored] = fake.messages(CHANNEL)
    assert ("file_share", [shared]) == (stored["subtype"], stored["files"])


async def test_wait_for_times_out_naming_the_calls_seen(fake: FakeSlack) -> None:
    await _client(fake).auth_test()

    with pytest.raises(TimeoutError, match=r"chat\.postMessage.*auth\.test"):
        await fake.wait_for("chat.postMessage", timeout=0.1)


async def test_wait_for_returns_once_enough_calls_arrived(fake: FakeSlack) -> None:
    client = _client(fake)
    waiting = asyncio.create_task(fake.wait_for("auth.test", count=2, timeout=5))

    await client.auth_test()
    await client.auth_test()

    assert 2 == len(await waiting)


def test_signed_headers_pass_the_sdk_signature_check() -> None:
    body = json.dumps({"type": "url_verification", "challenge": "abc"})

    headers = FakeSlack.signed_headers(body, "shh")

    assert True is SignatureVerifier("shh").is_valid_request(body, headers)
    assert False is SignatureVerifier("other").is_valid_request(body, headers)
    assert "application/json" == headers["Content-Type"]


def test_event_callback_has_the_real_shape(fake: FakeSlack) -> None:
    payload = fake.event_callback({"type": "app_mention"}, event_id="Ev1")

    assert ("event_callback", "Ev1", "A_KURA") == (payload["type"], payload["event_id"], payload["api_app_id"])
    assert [{"U_KURA", True}] == [{a["user_id"], a["is_bot"]} for a in payload["authorizations"]]
    assert fake.event_callback({})["event_id"].startswith("Ev")


async def test_socket_mode_hello_and_an_unacknowledged_envelope(fake: FakeSlack) -> None:
    url = (await _client(fake, APP_TOKEN).apps_connections_open(app_token=APP_TOKEN))["url"]
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as socket:
        hello = json.loads(await socket.receive_str(timeout=5))
        await fake.wait_connected()

        with pytest.raises(TimeoutError):
            await fake.send_envelope("events_api", fake.event_callback({"type": "app_mention"}), timeout=0.2)
        envelope = json.loads(await socket.receive_str(timeout=5))

    assert "Bearer xapp-test" == fake.calls_to("apps.connections.open")[0].headers["Authorization"]
    assert ("hello", {"app_id": "A_KURA"}) == (hello["type"], hello["connection_info"])
    assert {"envelope_id", "type", "payload", "accepts_response_payload", "retry_attempt", "retry_reason"} == set(
        envelope
    )
    assert [] == fake.acks


async def test_stop_closes_connected_sockets() -> None:
    async with FakeSlack([], {}) as fake:
        url = (await _client(fake, APP_TOKEN).apps_connections_open(app_token=APP_TOKEN))["url"]
        async with aiohttp.ClientSession() as session, session.ws_connect(url) as socket:
            await socket.receive_str(timeout=5)
            await fake.wait_connected()
            closing = asyncio.create_task(socket.receive(timeout=5))
            await fake.stop()
            message = await closing

    assert aiohttp.WSMsgType.CLOSE == message.type
    assert aiohttp.WSCloseCode.GOING_AWAY == message.data


async def test_a_websocket_without_a_ticket_is_refused(fake: FakeSlack) -> None:
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.WSServerHandshakeError) as raised:
            await session.ws_connect(f"ws://127.0.0.1:{fake.port}/link/?ticket=forged")

    assert 401 == raised.value.status


async def test_a_bolt_app_in_socket_mode_gets_events_and_acks_them(fake: FakeSlack) -> None:
    app = AsyncApp(token=BOT_TOKEN, client=_client(fake))
    mentions: list[str] = []

    @app.event("app_mention")
    async def on_mention(event: dict[str, str], say: AsyncSay) -> None:
        mentions.append(event["text"])
        await say(text="はい", thread_ts=event["ts"])

    @app.command("/kura")
    async def on_command(ack: AsyncAck) -> None:
        await ack(text="受け付けました")

    handler = AsyncSocketModeHandler(app, APP_TOKEN, web_client=_client(fake, APP_TOKEN))
    await handler.connect_async()  # type: ignore[no-untyped-call]  # bolt leaves it unannotated
    try:
        await fake.wait_connected()
        event = {
            "type": "app_mention",
            "user": "U_ALICE",
            "text": "<@U_KURA> 締め日は？",
            "ts": "1700000000.000100",
            "channel": CHANNEL,
            "event_ts": "1700000000.000100",
        }
        ack = await fake.send_envelope(
            "events_api", fake.event_callback(event), retry_attempt=1, retry_reason="timeout"
        )
        [posted] = await fake.wait_for("chat.postMessage", timeout=10)
        command = {"command": "/kura", "text": "", "team_id": "T_KURA", "user_id": "U_ALICE", "channel_id": CHANNEL}
        command_ack = await fake.send_envelope("slash_commands", command, accepts_response_payload=True)
    finally:
        await handler.close_async()  # type: ignore[no-untyped-call]

    assert {"envelope_id"} == set(ack)
    assert ["<@U_KURA> 締め日は？"] == mentions
    # Bolt's say() adds the team_id of the event.
    assert {"channel": CHANNEL, "text": "はい", "thread_ts": "1700000000.000100", "team_id": "T_KURA"} == posted.params
    assert "Bearer xoxb-test" == posted.headers["Authorization"]
    assert {"text": "受け付けました"} == command_ack["payload"]
    assert [ack, command_ack] == fake.acks
    # Bolt checks the bot token with auth.test (for the event's team) before it acks the first event.
    assert ["apps.connections.open", "auth.test", "chat.postMessage"] == [call.method for call in fake.calls]
    assert {"team_id": "T_KURA"} == fake.calls_to("auth.test")[0].params
