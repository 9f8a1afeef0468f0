"""The fake Bot Connector, driven with plain aiohttp requests over 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from tests.fakes.bot_connector import Conversation, FakeBotConnector, TeamsUser
from tests.fakes.bot_connector_wire import BOT_ID, TENANT_ID
from tests.fakes.teams_activities import conversation_update, feedback_invoke, message

pytestmark = pytest.mark.adapters

TOKEN = "fake-connector-token"  # noqa: S105 - a fixture value for the fake server
ALICE = TeamsUser("29:alice", "aad-alice", "Alice", email="alice@example.com")
BOB = TeamsUser("29:bob", "aad-bob", "Bob", email="bob@example.com", user_principal_name="bob@corp.example.com")
GUEST = TeamsUser("29:guest", "aad-guest", "Guest", email="guest@other.example", role="guest")
ANON = TeamsUser("29:anon", None, "Visitor", role="anonymous")
OUTSIDER = TeamsUser("29:out", "aad-out", "Outsider", tenant_id="other-tenant")
TEAM = "19:team@thread.tacv2"
GENERAL = Conversation("19:general@thread.tacv2", "channel", None, team_id=TEAM)
PRIVATE = Conversation("19:private@thread.tacv2", "channel", ("29:alice",), team_id=TEAM)
DM = Conversation("a:dm-alice", "personal", ("29:alice",))
GROUP = Conversation("19:group@thread.v2", "groupChat", ("29:alice", "29:bob", "29:anon"))
THREAD = GENERAL.id + ";messageid=1690000000000"


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotConnector]:
    users = [ALICE, BOB, GUEST, ANON, OUTSIDER]
    teams = {TEAM: ["29:alice", "29:bob", "29:guest"]}
    async with FakeBotConnector(users, [GENERAL, PRIVATE, DM, GROUP], teams=teams) as connector:
        yield connector


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def _call(
    http: aiohttp.ClientSession,
    fake: FakeBotConnector,
    method: str,
    path: str,
    body: Any = None,
    *,
    token: str | None = TOKEN,
) -> tuple[int, Any, dict[str, str]]:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    async with http.request(method, fake.service_url + path, json=body, headers=headers) as response:
        text = await response.text()
        return response.status, json.loads(text) if text else None, dict(response.headers)


def _typing(text: str, sequence: int, stream_type: str = "streaming", stream_id: str | None = None) -> dict[str, Any]:
    entity: dict[str, Any] = {"type": "streaminfo", "streamType": stream_type, "streamSequence": sequence}
    if stream_id is not None:
        entity["streamId"] = stream_id
    return {"type": "message" if stream_type == "final" else "typing", "text": text, "entities": [entity]}


async def test_send_reply_update_delete_round_trip(fake: FakeBotConnector, http: aiohttp.ClientSession) -> None:
    status, sent, _ = await _call(
        http, fake, "POST", f"v3/conversations/{DM.id}/activities", {"type": "message", "text": "hi"}
    )
    assert 201 == status
    status, reply, _ = await _call(
        http, fake, "POST", f"v3/conversations/{THREAD}/activities/1690000000000", {"type": "message", "text": "答え"}
    )
    assert 201 == status
    status, updated, _ = await _call(
        http, fake, "PUT", f"v3/conversations/{THREAD}/activities/{reply['id']}", {"type": "message", "text": "直した"}
    )
    assert (200, reply["id"]) == (status, updated["id"])
    status, _, _ = await _call(http, fake, "DELETE", f"v3/conversations/{DM.id}/activities/{sent['id']}")
    assert 200 == status

    [stored] = fake.sent(GENERAL.id)
    assert ("直した", "1690000000000", THREAD) == (stored["text"], stored["replyToId"], stored["_conversationPath"])
    assert fake.sent(DM.id)[0]["_deleted"]
    [call] = fake.calls_to("reply")
    assert (THREAD, "1690000000000", "POST") == (call.conversation_id, call.activity_id, call.http_method)
    assert f"Bearer {TOKEN}" == call.headers["Authorization"]
    assert {"type": "message", "text": "答え"} == call.body


async def test_update_or_delete_of_an_unknown_or_deleted_activity_is_404(
    fake: FakeBotConnector, http: aiohttp.ClientSession
) -> None:
    _, sent, _ = await _call(
        http, fake, "POST", f"v3/conversations/{DM.id}/activities", {"type": "message", "text": "x"}
    )
    await _call(http, fake, "DELETE", f"v3/conversations/{DM.id}/activities/{sent['id']}")

    for method, body in (("PUT", {"type": "message", "text": "y"}), ("DELETE", None)):
        status, error, _ = await _call(http, fake, method, f"v3/conversations/{DM.id}/activities/{sent['id']}", body)
        assert (404, "ActivityNotFound") == (status, error["error"]["code"])
    # An activity id from another conversation is not found either.
    status, _, _ = await _call(http, fake, "PUT", f"v3/conversations/{GROUP.id}/activities/{sent['id']}", {"text": "z"})
    assert 404 == status


async def test_unknown_conversation_and_a_dropped_service_url_path_are_404(
    fake: FakeBotConnector, http: aiohttp.ClientSession
) -> None:
    status, error, _ = await _call(http, fake, "POST", "v3/conversations/19:nope@thread.v2/activities", {"text": "x"})
    assert (404, "ConversationNotFound") == (status, error["error"]["code"])
    root = fake.service_url.removesuffix("teams/")
    async with http.post(
        f"{root}v3/conversations/{DM.id}/activities", json={}, headers={"Authorization": "Bearer t"}
    ) as r:
        assert 404 == r.status
    assert ["send", "unknown"] == [call.operation for call in fake.calls]


@pytest.mark.parametrize("authorization", [None, "", "Bearer ", "Bearer", "Basic dXNlcjpwYXNz", "bearer-token"])
async def test_requests_without_a_bearer_token_are_401_and_still_recorded(
    fake: FakeBotConnector, http: aiohttp.ClientSession, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    async with http.get(fake.service_url + f"v3/conversations/{DM.id}/members", headers=headers) as response:
        assert 401 == response.status
    assert 1 == len(fake.calls_to("members"))


async def test_a_token_check_rejects_other_tokens(fake: FakeBotConnector, http: aiohttp.ClientSession) -> None:
    fake.token_check = lambda token: token == "good"  # noqa: S105

    bad, _, _ = await _call(http, fake, "GET", f"v3/conversations/{DM.id}/members", token="stolen")  # noqa: S106
    good, _, _ = await _call(http, fake, "GET", f"v3/conversations/{DM.id}/members", token="good")  # noqa: S106

    assert (401, 200) == (bad, good)


async def test_injected_429_carries_retry_after_then_the_call_succeeds(
    fake: FakeBotConnector, http: aiohttp.ClientSession
) -> None:
    fake.rate_limit("send", times=2, retry_after=3)
    fake.fail("members", 500)
    path = f"v3/conversations/{DM.id}/activities"

    results = [await _call(http, fake, "POST", path, {"type": "message", "text": "x"}) for _ in range(3)]
    members = [(await _call(http, fake, "GET", f"v3/conversations/{DM.id}/members"))[0] for _ in range(2)]

    assert [429, 429, 201] == [status for status, _, _ in results]
    assert "3" == results[0][2]["Retry-After"]
    assert "Retry-After" not in results[2][2]
    assert [500, 200] == members
    assert 1 == len(fake.sent(DM.id)), "a rejected call must not be stored"


async def test_members_follow_the_roster_of_the_conversation(
    fake: FakeBotConnector, http: aiohttp.ClientSession
) -> None:
    _, team, _ = await _call(http, fake, "GET", f"v3/conversations/{THREAD}/members")
    _, private, _ = await _call(http, fake, "GET", f"v3/conversations/{PRIVATE.id};messageid=1/members")
    _, group, _ = await _call(http, fake, "GET", f"v3/conversations/{GROUP.id}/members")

    assert ["29:alice", "29:bob", "29:guest"] == [member["id"] for member in team]
    assert ["29:alice"] == [member["id"] for member in private]
    bob = next(member for member in team if member["id"] == "29:bob")
    assert {
        "id": "29:bob",
        "name": "Bob",
        "aadObjectId": "aad-bob",
        "email": "bob@example.com",
        "userPrincipalName": "bob@corp.example.com",
        "tenantId": TENANT_ID,
        "userRole": "user",
    } == bob
    assert "guest" == team[2]["userRole"]
    anon = next(member for member in group if member["id"] == "29:anon")
    assert {"id", "name", "tenantId", "userRole"} == set(anon), "an anonymous user has no AAD id, email or UPN"


async def test_one_member_by_id_or_aad_object_id_and_404_for_non_members(
    fake: FakeBotConnector, http: aiohttp.ClientSession
) -> None:
    by_id = await _call(http, fake, "GET", f"v3/conversations/{GENERAL.id}/members/29:bob")
    by_aad = await _call(http, fake, "GET", f"v3/conversations/{GENERAL.id}/members/aad-bob")
    outside_private = await _call(http, fake, "GET", f"v3/conversations/{PRIVATE.id}/members/29:bob")
    unknown = await _call(http, fake, "GET", f"v3/conversations/{GENERAL.id}/members/29:nobody")

    assert (200, "29:bob") == (by_id[0], by_id[1]["id"])
    assert (200, "29:bob") == (by_aad[0], by_aad[1]["id"])
    for status, error, _ in (outside_private, unknown):
        assert (404, "MemberNotFoundInConversation") == (status, error["error"]["code"])


async def test_paged_members_walk_the_roster_with_continuation_tokens(
    fake: FakeBotConnector, http: aiohttp.ClientSession
) -> None:
    seen: list[str] = []
    token = ""
    for _ in range(5):
        query = f"?pageSize=2&continuationToken={token}" if token else "?pageSize=2"
        status, page, _ = await _call(http, fake, "GET", f"v3/conversations/{THREAD}/pagedmembers{query}")
        assert 200 == status
        assert len(page["members"]) <= 2
        seen += [member["id"] for member in page["members"]]
        token = page.get("continuationToken", "")
        if not token:
            break
    assert ["29:alice", "29:bob", "29:guest"] == seen

    for query in ("?pageSize=0", "?pageSize=x", "?continuationToken=zz", "?continuationToken=ff"):
        status, error, _ = await _call(http, fake, "GET", f"v3/conversations/{THREAD}/pagedmembers{query}")
        assert (400, "BadArgument") == (status, error["error"]["code"]), query


async def test_create_conversation_opens_a_1_to_1_chat(fake: FakeBotConnector, http: aiohttp.ClientSession) -> None:
    body = {"bot": {"id": BOT_ID}, "members": [{"id": "aad-bob"}], "isGroup": False, "tenantId": TENANT_ID}
    status, created, _ = await _call(http, fake, "POST", "v3/conversations", {**body, "activity": {"text": "hello"}})
    assert 201 == status
    assert fake.service_url == created["serviceUrl"]
    again = await _call(http, fake, "POST", "v3/conversations", body)
    assert created["id"] == again[1]["id"], "the same person gets the same 1:1 chat"
    _, members, _ = await _call(http, fake, "GET", f"v3/conversations/{created['id']}/members")
    assert ["29:bob"] == [member["id"] for member in members]
    assert created["activityId"] == fake.sent(created["id"])[0]["id"]

    outsider = await _call(http, fake, "POST", "v3/conversations", {**body, "members": [{"id": "29:out"}]})
    unknown = await _call(http, fake, "POST", "v3/conversations", {**body, "members": [{"id": "29:nobody"}]})
    group = await _call(http, fake, "POST", "v3/conversations", {**body, "isGroup": True})
    assert [403, 404, 400] == [outsider[0], unknown[0], group[0]]


async def test_streaming_records_every_update_and_the_final_text(
    fake: FakeBotConnector, http: aiohttp.ClientSession
) -> None:
    path = f"v3/conversations/{DM.id}/activities"
    status, first, _ = await _call(http, fake, "POST", path, _typing("検索中…", 1, "informative"))
    assert 201 == status
    stream_id = first["id"]
    for sequence, text in ((2, "答えは"), (3, "答えは42")):
        status, update, _ = await _call(http, fake, "POST", path, _typing(text, sequence, stream_id=stream_id))
        assert (201, stream_id) == (status, update["id"])
    status, final, _ = await _call(http, fake, "POST", path, _typing("答えは42です。", 4, "final", stream_id))
    assert (201, stream_id) == (status, final["id"])

    stream = fake.streams[stream_id]
    assert [1, 2, 3, 4] == stream.sequences
    assert ["informative", "streaming", "streaming", "final"] == stream.types
    assert ("答えは42です。", True, True) == (stream.final_text, stream.finished, stream.in_order)
    [stored] = fake.sent(DM.id)
    assert (stream_id, "答えは42です。", "message") == (stored["id"], stored["text"], stored["type"])

    status, error, _ = await _call(http, fake, "POST", path, _typing("もっと", 5, stream_id=stream_id))
    assert (403, "ContentStreamNotAllowed") == (status, error["error"]["code"]), "a finished stream takes no updates"


async def test_streaming_out_of_order_is_recorded(fake: FakeBotConnector, http: aiohttp.ClientSession) -> None:
    path = f"v3/conversations/{DM.id}/activities"
    _, first, _ = await _call(http, fake, "POST", path, _typing("a", 2))
    await _call(http, fake, "POST", path, _typing("ab", 1, stream_id=first["id"]))

    stream = fake.streams[first["id"]]
    assert ([2, 1], False) == (stream.sequences, stream.in_order)


@pytest.mark.parametrize(
    ("conversation_id", "updates"),
    [
        (GROUP.id, [("a", None)]),  # streaming is for 1:1 chats only
        (THREAD, [("a", None)]),
        (DM.id, [("答えは42", None), ("答えは4", "first")]),  # must extend what was streamed
        (DM.id, [("abc", None), ("xyz", "first")]),
    ],
)
async def test_streaming_is_rejected_as_teams_rejects_it(
    fake: FakeBotConnector, http: aiohttp.ClientSession, conversation_id: str, updates: list[tuple[str, str | None]]
) -> None:
    path = f"v3/conversations/{conversation_id}/activities"
    stream_id: str | None = None
    results = []
    for sequence, (text, refers) in enumerate(updates, start=1):
        status, body, _ = await _call(
            http, fake, "POST", path, _typing(text, sequence, stream_id=stream_id if refers else None)
        )
        results.append((status, body))
        if status == 201:
            stream_id = body["id"]

    status, body = results[-1]
    assert (403, "ContentStreamNotAllowed") == (status, body["error"]["code"])


@pytest.mark.parametrize(
    "activity",
    [
        _typing("x", 1, "final"),  # a stream cannot start with its final message
        _typing("x", 1, "bogus"),
        _typing("x", 2, stream_id="999"),  # a stream id the fake never issued
    ],
)
async def test_malformed_streams_are_400(
    fake: FakeBotConnector, http: aiohttp.ClientSession, activity: dict[str, Any]
) -> None:
    status, body, _ = await _call(http, fake, "POST", f"v3/conversations/{DM.id}/activities", activity)
    assert 400 == status
    assert "error" in body


def test_a_channel_message_mentions_the_bot_with_team_channel_and_tenant() -> None:
    activity = message(GENERAL, ALICE, "経費の締め日は?", "http://connector/teams/", root_id="1690000000000")

    assert ("message", "msteams", "http://connector/teams/") == (
        activity["type"],
        activity["channelId"],
        activity["serviceUrl"],
    )
    assert f"{GENERAL.id};messageid=1690000000000" == activity["conversation"]["id"]
    assert ("channel", True, TENANT_ID) == (
        activity["conversation"]["conversationType"],
        activity["conversation"]["isGroup"],
        activity["conversation"]["tenantId"],
    )
    assert "<at>Kura</at> 経費の締め日は?" == activity["text"]
    [mention] = [entity for entity in activity["entities"] if entity["type"] == "mention"]
    assert {"id": BOT_ID, "name": "Kura"} == mention["mentioned"]
    assert "<at>Kura</at>" == mention["text"]
    channel_data = activity["channelData"]
    assert ({"id": TEAM}, {"id": GENERAL.id}, {"id": TENANT_ID}) == (
        channel_data["team"],
        channel_data["channel"],
        channel_data["tenant"],
    )
    assert {"id": "29:alice", "name": "Alice", "aadObjectId": "aad-alice"} == activity["from"]
    assert BOT_ID == activity["recipient"]["id"]


def test_personal_and_group_chat_messages() -> None:
    personal = message(DM, ALICE, "hello", "http://c/")
    group = message(GROUP, BOB, "<b>hi</b>", "http://c/")

    assert ("personal", "a:dm-alice", "hello") == (
        personal["conversation"]["conversationType"],
        personal["conversation"]["id"],
        personal["text"],
    )
    assert "isGroup" not in personal["conversation"]
    assert not [entity for entity in personal["entities"] if entity["type"] == "mention"]
    assert {"tenant": {"id": TENANT_ID}} == personal["channelData"]
    assert ("groupChat", "<at>Kura</at> <b>hi</b>") == (group["conversation"]["conversationType"], group["text"])
    assert "<p><at>Kura</at> &lt;b&gt;hi&lt;/b&gt;</p>" == group["attachments"][0]["content"]
    unaddressed = message(GROUP, BOB, "just chatting", "http://c/", mention_bot=False)
    assert "just chatting" == unaddressed["text"]


def test_conversation_update_and_feedback_invoke() -> None:
    installed = conversation_update(GENERAL, ALICE, "http://c/")
    feedback = feedback_invoke(DM, ALICE, "1700000000001", "http://c/", reaction="dislike", feedback_text="古い")

    assert ("conversationUpdate", [{"id": BOT_ID}]) == (installed["type"], installed["membersAdded"])
    assert ("teamMemberAdded", {"id": TEAM}) == (
        installed["channelData"]["eventType"],
        installed["channelData"]["team"],
    )
    assert ("invoke", "message/submitAction", "1700000000001") == (
        feedback["type"],
        feedback["name"],
        feedback["replyToId"],
    )
    assert "feedback" == feedback["value"]["actionName"]
    assert "dislike" == feedback["value"]["actionValue"]["reaction"]
    assert {"feedbackText": "古い"} == json.loads(feedback["value"]["actionValue"]["feedback"])


async def test_wait_for_returns_once_the_call_arrives_and_times_out_otherwise(
    fake: FakeBotConnector, http: aiohttp.ClientSession
) -> None:
    waiter = asyncio.create_task(fake.wait_for("send", timeout=5))
    await _call(http, fake, "POST", f"v3/conversations/{DM.id}/activities", {"type": "message", "text": "x"})

    assert 1 == len(await waiter)
    with pytest.raises(TimeoutError, match="reply called 0 times"):
        await fake.wait_for("reply", timeout=0.05)
