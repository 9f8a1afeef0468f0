"""Kura in Teams when things go wrong: a throttled or failing Bot Connector, malformed or hostile
activities, a service URL that is not allowed, Entra refusing Kura's secret, a refusal in a channel,
and messages Kura must not answer. The real Agents SDK and msal against the local fakes
(tests/adapters/teams_harness.py); model calls are kept few (each answer takes seconds)."""

from __future__ import annotations

import asyncio
import gc
import logging
from typing import Any

import aiohttp
import pytest
from microsoft_agents.hosting.core.authorization import AuthenticationConstants

from bot.core.messages import refusal_message
from bot.wiring import Runtime
from tests.adapters.teams_harness import ALICE, CHATS, GENERAL, HR_PRIVATE, SECRET, USERS, Tenant, tenant
from tests.fakes import teams_activities as activities
from tests.fakes.bot_connector import FakeBotConnector
from tests.fakes.bot_connector_wire import BOT_ID, JSON, Conversation, TeamsUser
from tests.fakes.entra import APP_ID

pytestmark = pytest.mark.adapters

#: In the team, unknown to Kura's directory.
EVE = TeamsUser("29:eve", "00000000-0000-0000-0000-000000000007", "Eve Ito", "eve@elsewhere.example")


def _kura_messages(t: Tenant, conversation: Conversation) -> list[JSON]:
    return [a for a in t.connector.sent(conversation.id) if not a.get("_deleted") and a.get("type") == "message"]


async def _post_raw(t: Tenant, body: bytes, service_url: str) -> int:
    """A request with a valid token for ``service_url`` and ``body`` as it is."""
    token = t.bot_framework.token(service_url=service_url)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    async with aiohttp.ClientSession() as session, session.post(t.url, data=body, headers=headers) as response:
        await response.read()
        return response.status


SDK_OAUTH_URL = AuthenticationConstants.AGENTS_SDK_OAUTH_URL.rstrip("/")


def _open_sessions() -> list[aiohttp.ClientSession]:
    """aiohttp sessions still alive and open in this process (a leak shows up here)."""
    return [o for o in gc.get_objects() if isinstance(o, aiohttp.ClientSession) and not o.closed]


async def _settle(t: Tenant) -> None:
    """Let anything queued in the background run (an answer that should not come would start now)."""
    await asyncio.sleep(0.5)
    await t.idle()


# ------------------------------------------------------------------ a throttled or failing connector


async def test_a_429_on_the_placeholder_is_waited_out_and_the_answer_arrives_once(runtime: Runtime) -> None:
    async with tenant(runtime) as t:
        t.connector.rate_limit("reply", times=1, retry_after=1)
        question = activities.message(GENERAL, ALICE, "経費精算の締め日はいつですか？", t.connector.service_url)
        assert (await t.post(question)).status == 202
        await t.answered("update")
        tries = t.connector.calls_to("reply")
        assert len(tries) == 2  # the 429, then the placeholder
        assert tries[0].body == tries[1].body
        [answer] = _kura_messages(t, GENERAL)
        assert answer["_updated"]
        assert len(t.connector.calls_to("update")) == 1
        assert not t.connector.calls_to("send")  # no second copy anywhere


async def test_a_connector_failing_every_reply_crashes_nothing(runtime: Runtime) -> None:
    """Every reply 500s: the request was acknowledged, the background answer gives up and ends, and
    the next question is answered as usual."""
    async with tenant(runtime) as t:
        t.connector.fail("reply", 500, times=10)
        first = activities.message(GENERAL, ALICE, "リモートワークは週何日まで？", t.connector.service_url)
        assert (await t.post(first)).status == 202
        await t.connector.wait_for("reply", 2, timeout=180)
        await t.idle()
        assert not t.runner._tasks  # the background answer ended
        assert not _kura_messages(t, GENERAL)
        t.connector._injected.clear()  # the connector recovers
        await _post_question_and_get_an_answer(t)


async def _post_question_and_get_an_answer(t: Tenant) -> None:
    before = len(t.connector.calls_to("update"))
    again = activities.message(GENERAL, ALICE, "経費精算の締め日はいつですか？", t.connector.service_url)
    assert (await t.post(again)).status == 202
    await t.answered("update", before + 1)
    answers = [a for a in _kura_messages(t, GENERAL) if a.get("_updated")]
    assert len(answers) == 1
    assert answers[0]["text"]


# ------------------------------------------------------------------ malformed and hostile activities


def _message(t: Tenant) -> JSON:
    return activities.message(GENERAL, ALICE, "経費精算の締め日は？", t.connector.service_url)


MALFORMED: dict[str, Any] = {
    "no-conversation": lambda a: {k: v for k, v in a.items() if k != "conversation"},
    "conversation-null": lambda a: a | {"conversation": None},
    "conversation-without-id": lambda a: a | {"conversation": {"conversationType": "channel"}},
    "conversation-id-empty": lambda a: a | {"conversation": {**a["conversation"], "id": ""}},
    "conversation-a-string": lambda a: a | {"conversation": "19:general@thread.tacv2"},
    "no-type": lambda a: {k: v for k, v in a.items() if k != "type"},
    "type-a-number": lambda a: a | {"type": 7},
    "from-a-list": lambda a: a | {"from": ["29:alice"]},
    "entities-a-string": lambda a: a | {"entities": "mention"},
    "no-service-url": lambda a: {k: v for k, v in a.items() if k != "serviceUrl"},
    "service-url-a-number": lambda a: a | {"serviceUrl": 5},
}


@pytest.mark.parametrize("name", list(MALFORMED))
async def test_a_malformed_activity_is_refused_and_nothing_is_sent(runtime: Runtime, name: str) -> None:
    async with tenant(runtime) as t:
        good = _message(t)
        activity = MALFORMED[name](good)
        token = t.bot_framework.token(service_url=t.connector.service_url)
        response = await t.post(activity, token=token)
        assert response.status in (400, 401), response.status
        await _settle(t)
        assert t.connector.calls == []


async def test_odd_channel_data_does_not_stop_an_answer(runtime: Runtime) -> None:
    """channelData is free-form (the SDK's model takes any JSON there): a list instead of an object
    must not break the turn; the channel is read by its roster as usual."""
    async with tenant(runtime) as t:
        question = _message(t) | {"channelData": ["tenant"]}
        assert (await t.post(question)).status == 202
        await t.answered("update")
        [answer] = _kura_messages(t, GENERAL)
        assert answer["_updated"]
        assert t.connector.calls_to("paged_members")


@pytest.mark.parametrize(
    "body",
    [b"", b"not json", b"[1, 2]", b'"a string"', b"null", b"{", b"\xff\xfe", b'{"type": "message"' + b" " * 10],
    ids=["empty", "text", "array", "string", "null", "truncated", "not-utf8", "unclosed"],
)
async def test_a_body_that_is_not_an_activity_is_refused(runtime: Runtime, body: bytes) -> None:
    async with tenant(runtime) as t:
        status = await _post_raw(t, body, t.connector.service_url)
        assert status in (400, 401), status
        await _settle(t)
        assert t.connector.calls == []


@pytest.mark.parametrize(
    "change",
    [
        {"value": "feedback"},
        {"value": {"actionName": "feedback", "actionValue": ["like"]}},
        {"value": {"actionName": "feedback", "actionValue": {"reaction": "love"}}},
        {"replyToId": ""},
        {"replyToId": "no-such-message"},
        {"name": "composeExtension/query"},
        {"name": None},
        {"from": None},
    ],
    ids=[
        "value-string",
        "action-list",
        "reaction-unknown",
        "reply-to-empty",
        "reply-to-unknown",
        "other",
        "no-name",
        "no-from",
    ],
)
async def test_an_odd_invoke_never_gets_a_server_error(runtime: Runtime, change: JSON) -> None:
    """Invokes are answered in the request: whatever they hold, the answer is not a 5xx, and no
    feedback is stored for a message that carries no answer."""
    async with tenant(runtime) as t:
        invoke = activities.feedback_invoke(GENERAL, ALICE, "1", t.connector.service_url) | change
        response = await t.post(invoke)
        # Acknowledged (Teams shows the person no error), or 400 for what is not an activity.
        assert response.status in (200, 400), response.status
        await _settle(t)
        assert not t.connector.calls_to("reply")
        assert not t.connector.calls_to("send")


@pytest.mark.parametrize(
    "evil",
    [
        "https://evil.example/teams/",
        "https://EVIL.example/",
        "http://127.0.0.1@evil.example/teams/",
        "https://127.0.0.1.evil.example/teams/",
        "https://evil.example/127.0.0.1/",
        "http://localhost:{port}/teams/",  # loopback, but not on the allowlist: a fake is listening there
        "http://user:pw@127.0.0.1:{port}/teams/",
        "ftp://127.0.0.1:{port}/teams/",
        "//127.0.0.1:{port}/teams/",
    ],
)
async def test_a_service_url_not_on_the_allowlist_gets_401_and_no_call_anywhere(runtime: Runtime, evil: str) -> None:
    """The token's ``serviceurl`` claim names the same URL (a forger with a real Bot Framework token
    for another endpoint): the host is still not Kura's to talk to."""
    async with tenant(runtime) as t, FakeBotConnector(USERS, [GENERAL, *CHATS.values()]) as elsewhere:
        url = evil.format(port=elsewhere.port)
        activity = _message(t) | {"serviceUrl": url}
        response = await t.post(activity, token=t.bot_framework.token(service_url=url))
        assert response.status == 401
        await _settle(t)
        assert t.connector.calls == []
        assert elsewhere.calls == []


# ------------------------------------------------------------------ refusals and silence


async def test_a_refusal_in_a_channel_goes_to_the_askers_own_chat(runtime: Runtime) -> None:
    """Eve is in the team but not a Kura user (her email is not in the directory; the shipped policy
    has no topic rule to trip): the placeholder in the channel is withdrawn and the refusal reaches
    her alone, in her 1:1 chat with Kura (no model call)."""
    async with tenant(runtime) as t:
        t.connector.users[EVE.id] = EVE
        t.connector.teams["team-1"].append(EVE.id)
        question = activities.message(GENERAL, EVE, "G3の基本給のレンジは？", t.connector.service_url)
        assert (await t.post(question)).status == 202
        await t.answered("send")
        assert not _kura_messages(t, GENERAL)  # nothing left in the channel
        replies = t.connector.calls_to("reply")
        deletes = t.connector.calls_to("delete")
        assert len(deletes) == len(replies) >= 1
        assert all(d.conversation_id and d.conversation_id.startswith(GENERAL.id) for d in deletes)
        assert not t.connector.calls_to("update")
        [opened] = t.connector.calls_to("create_conversation")
        assert [m["id"] for m in opened.body["members"]] == [EVE.id]
        [sent] = t.connector.calls_to("send")
        assert sent.conversation_id == f"a:personal-{EVE.id}"
        assert sent.body["text"] == refusal_message("unknown_user", "ja")
        assert not sent.body.get("entities")  # a refusal is not AI-generated content
        assert "feedbackLoop" not in (sent.body.get("channelData") or {})


async def test_entra_refusing_kuras_secret_posts_nothing_and_says_why_once(
    runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with tenant(runtime) as t:
        t.entra.clients[APP_ID] = "other"  # before the first token: msal caches tokens
        for _ in range(2):
            question = activities.message(GENERAL, ALICE, "経費精算の締め日は？", t.connector.service_url)
            assert (await t.post(question)).status == 202
        await _settle(t)
        assert t.connector.calls == []
        assert not await t.runner.ready()  # /readyz says so too
        t.entra.clients[APP_ID] = SECRET
        assert await t.runner.ready()
    # The SDK made an HTTP session for each refused turn (its user-token client): none is left open.
    gc.collect()
    assert not [s for s in _open_sessions() if str(s._base_url or "").startswith(SDK_OAUTH_URL)]
    why = [r for r in caplog.records if "Entra refused" in r.getMessage()]
    assert why, [r.getMessage() for r in caplog.records]
    assert "invalid_client" in why[0].getMessage()
    assert "\n" not in why[0].getMessage()
    for record in caplog.records:
        assert SECRET not in record.getMessage()
        assert SECRET not in (record.exc_text or "")


async def test_an_unaddressed_channel_message_gets_no_answer(runtime: Runtime) -> None:
    async with tenant(runtime) as t:
        for conversation in (GENERAL, HR_PRIVATE):
            chatter = activities.message(
                conversation, ALICE, "経費精算の締め日は？", t.connector.service_url, mention_bot=False
            )
            assert (await t.post(chatter)).status == 202
        # A mention of someone else, written to look like Kura.
        other = activities.message(GENERAL, ALICE, "経費精算の締め日は？", t.connector.service_url)
        other["entities"][0]["mentioned"] = {"id": "28:someone-else", "name": "Kura"}
        assert (await t.post(other)).status == 202
        await _settle(t)
        assert t.connector.calls == []


@pytest.mark.parametrize("conversation", [CHATS[ALICE.id], GENERAL], ids=["personal", "channel"])
async def test_kuras_own_message_gets_no_answer(runtime: Runtime, conversation: Conversation) -> None:
    """Teams echoes nothing back today, but a loop of Kura answering itself must be impossible."""
    async with tenant(runtime) as t:
        own = activities.message(conversation, ALICE, "経費精算の締め日は？", t.connector.service_url)
        own["from"] = {"id": BOT_ID, "name": "Kura"}
        assert (await t.post(own)).status == 202
        await _settle(t)
        assert t.connector.calls == []
