"""Kura in Teams end to end: the real Agents SDK (CloudAdapter, TurnContext, ConnectorClient, the
activity models) and msal, against a fake Bot Connector and fake identity providers speaking the
real protocols, with the real retrieval SQL and the tiny real model."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from bot.audit.models import Feedback
from bot.wiring import Runtime
from tests.adapters.conftest import public_only
from tests.adapters.teams_harness import (
    ALICE,
    CAROL,
    CHATS,
    DAVE,
    GENERAL,
    GROUP,
    GUESTS,
    HR_PRIVATE,
    SHARED,
    Tenant,
    tenant,
)
from tests.fakes import teams_activities as activities
from tests.fakes.bot_connector_wire import JSON, Conversation, TeamsUser
from tests.fakes.entra import SigningKey
from tests.fakes.graph import FakeGraph, GraphGroup

pytestmark = pytest.mark.adapters

HR_QUESTION = "G3の基本給のレンジは？"


def _ai_entity(activity: JSON) -> JSON:
    found = [e for e in activity.get("entities") or [] if e.get("type") == "https://schema.org/Message"]
    assert len(found) == 1, activity.get("entities")
    return found[0]


def _cited(activity: JSON) -> list[str]:
    """The abstracts of the activity's citations (each starts with the document's path)."""
    return [c["appearance"]["abstract"] for c in _ai_entity(activity).get("citation") or []]


def _kura_messages(t: Tenant, conversation: Conversation) -> list[JSON]:
    return [a for a in t.connector.sent(conversation.id) if not a.get("_deleted") and a.get("type") == "message"]


async def _ask_in_channel(t: Tenant, conversation: Conversation, user: TeamsUser, text: str) -> JSON:
    """A mention in a channel or group chat, answered: the final version of Kura's reply."""
    before = len(t.connector.calls_to("update"))
    response = await t.post(activities.message(conversation, user, text, t.connector.service_url))
    assert response.status == 202
    await t.answered("update", before + 1)
    replies = _kura_messages(t, conversation)
    assert replies
    return replies[-1]


async def test_a_channel_mention_is_answered_once_in_its_thread_with_citations(runtime: Runtime) -> None:
    """A placeholder in the thread at once, updated once with the answer, its citations (title,
    path and passage), the AI label and the feedback loop."""
    async with tenant(runtime) as t:
        question = activities.message(GENERAL, ALICE, "経費精算の締め日はいつですか？", t.connector.service_url)
        assert (await t.post(question)).status == 202
        await t.answered("update")
        posted = t.connector.calls_to("reply")
        assert len(posted) == 1  # the placeholder: one message in the thread
        assert posted[0].conversation_id == question["conversation"]["id"]  # ;messageid= root: the thread
        assert posted[0].activity_id == question["id"]
        assert "考えています" in posted[0].body["text"]
        answer = _kura_messages(t, GENERAL)[-1]
        assert answer["_updated"]
        assert "AIGeneratedContent" in _ai_entity(answer)["additionalType"]
        assert any(abstract.startswith("handbook/") for abstract in _cited(answer))
        names = [c["appearance"]["name"] for c in _ai_entity(answer)["citation"]]
        assert all(names)
        assert answer["channelData"]["feedbackLoop"] == {"type": "default"}
        assert not t.connector.streams  # no streaming outside 1:1 chats
        # Every call carried a token Kura got from Entra (msal, client credentials).
        assert all(t.entra.issued_token_check(c.headers["Authorization"][7:]) for c in t.connector.calls)


async def test_a_personal_chat_streams_the_answer(runtime: Runtime) -> None:
    """1:1: an informative update at once, the text as it comes, then the final message with
    citations, in sequence."""
    async with tenant(runtime) as t:
        chat = CHATS[CAROL.id]
        question = activities.message(chat, CAROL, HR_QUESTION, t.connector.service_url)
        assert (await t.post(question)).status == 202
        await t.connector.wait_for("reply", 2, timeout=180)
        await t.idle()
        assert len(t.connector.streams) == 1
        stream = next(iter(t.connector.streams.values()))
        assert stream.types[0] == "informative"
        assert "考えています" in stream.texts[0]
        assert stream.types[-1] == "final"
        updates = stream.sequences[:-1]  # the final message carries no sequence number (Teams' docs)
        assert updates == sorted(set(updates))
        assert len(updates) >= 2  # the informative update and at least one chunk of text
        assert stream.final_activity is not None
        assert stream.final_text
        assert any(a.startswith("hr/") for a in _cited(stream.final_activity))  # her own rights: HR may read hr/


async def test_a_standard_channel_answer_uses_what_the_whole_team_may_read(runtime: Runtime) -> None:
    """Carol (HR) asks in a standard channel: the team roster (alice, bob, dave) reads it, so
    nothing from hr/; in a private channel of hers alone, hr/ is used."""
    async with tenant(runtime) as t:
        public = await _ask_in_channel(t, GENERAL, CAROL, HR_QUESTION)
        private = await _ask_in_channel(t, HR_PRIVATE, CAROL, HR_QUESTION)
    assert "hr/" not in json.dumps(public, ensure_ascii=False)
    assert any(a.startswith("hr/") for a in _cited(private))
    rosters = [c.conversation_id for c in t.connector.calls_to("paged_members")]
    assert GENERAL.id in rosters
    assert HR_PRIVATE.id in rosters


@pytest.mark.parametrize("conversation", [GUESTS, SHARED], ids=["guest", "other-tenant"])
async def test_a_guest_or_another_tenant_narrows_the_channel_to_public(
    runtime: Runtime, conversation: Conversation
) -> None:
    """A guest (even with an HR person's email) or someone from another tenant reads with no rights:
    only public documents are searched (the answer may be "not found", never drawn on HR's)."""
    async with tenant(runtime) as t:
        answer = await _ask_in_channel(t, conversation, CAROL, "会社の設立はいつ？ 給与規程は？")
    marked = any(e.get("type") == "https://schema.org/Message" for e in answer.get("entities") or [])
    cited = _cited(answer) if marked else []  # a "not found" reply carries no AI entity
    assert all(public_only(a) for a in cited), cited
    (record,) = await runtime.audit.recent(1)
    searched = {str(r["source"]) for r in record.retrieved}
    assert searched, "the public documents were searched"
    assert all(public_only(s) for s in searched), searched


async def test_a_group_chat_answer_uses_what_every_member_may_read(runtime: Runtime) -> None:
    async with tenant(runtime) as t:
        answer = await _ask_in_channel(t, GROUP, CAROL, HR_QUESTION)
    assert "hr/" not in json.dumps(answer, ensure_ascii=False)


async def test_a_duplicate_delivery_gets_no_second_answer(runtime: Runtime) -> None:
    async with tenant(runtime) as t:
        question = activities.message(GENERAL, ALICE, "リモートワークは週何日まで？", t.connector.service_url)
        for _ in range(3):
            assert (await t.post(question)).status == 202
        await t.answered("update")
        await t.idle()
        assert len(t.connector.calls_to("reply")) == 1
        assert len(t.connector.calls_to("update")) == 1


@pytest.mark.parametrize(
    "forgery",
    ["other_key", "expired", "wrong_audience", "wrong_issuer", "other_service_url", "none", "missing"],
)
async def test_a_bad_token_gets_401_and_no_connector_call(runtime: Runtime, forgery: str) -> None:
    async with tenant(runtime) as t:
        question = activities.message(GENERAL, ALICE, "経費精算の締め日は？", t.connector.service_url)
        url = t.connector.service_url
        bf = t.bot_framework
        tokens: dict[str, str] = {
            "other_key": bf.token(service_url=url, key=SigningKey.generate("fake-key-1")),
            "expired": bf.token(service_url=url, expires_in=-3600),
            "wrong_audience": bf.token(service_url=url, audience="someone-else"),
            "wrong_issuer": bf.token(service_url=url, issuer="https://login.microsoftonline.com/x/v2.0"),
            "other_service_url": bf.token(service_url="https://smba.trafficmanager.net/evil/"),
            "none": bf.token(service_url=url, alg="none"),
            "missing": "",
        }
        response = await t.post(question, token=tokens[forgery])
        assert response.status == 401
        await t.idle()
        assert t.connector.calls == []


async def test_admin_commands_work_for_dave_and_are_refused_for_alice(runtime: Runtime) -> None:
    """``@Kura admin status`` in a channel: the reply goes to the sender's 1:1 chat, never the channel."""
    async with tenant(runtime) as t:
        for user in (DAVE, ALICE):
            command = activities.message(GENERAL, user, "admin status", t.connector.service_url)
            assert (await t.post(command)).status == 202
        await t.answered("send", 2)
        replies = {c.path: c.body["text"] for c in t.connector.calls_to("send")}
        assert not t.connector.calls_to("reply")  # nothing in the channel
        created = [c.body["members"][0]["id"] for c in t.connector.calls_to("create_conversation")]
        assert sorted(created) == sorted([DAVE.id, ALICE.id])
        dave_text = next(text for path, text in replies.items() if "personal-29:dave" in path)
        alice_text = next(text for path, text in replies.items() if "personal-29:alice" in path)
    assert "model" in dave_text.lower() or "モデル" in dave_text
    assert dave_text != alice_text
    assert "model" not in alice_text.lower()


async def test_feedback_is_stored_against_the_answer(runtime: Runtime) -> None:
    async with tenant(runtime) as t:
        answer = await _ask_in_channel(t, GENERAL, ALICE, "経費精算の締め日はいつですか？")
        invoke = activities.feedback_invoke(GENERAL, ALICE, answer["id"], t.connector.service_url, reaction="dislike")
        response = await t.post(invoke)
        assert response.status == 200
    async with runtime.database.sessions() as session:
        rows = (await session.execute(select(Feedback).where(Feedback.user_ref == ALICE.id))).scalars().all()
    assert [row.value for row in rows][-1:] == [-1]


async def test_installing_kura_saves_the_conversation_reference_for_posts(runtime: Runtime) -> None:
    """After Kura is added to a team, a job can post into its channel through the outbox."""
    from bot.core.types import Destination

    async with tenant(runtime) as t:
        install = activities.conversation_update(HR_PRIVATE, CAROL, t.connector.service_url)
        assert (await t.post(install)).status == 202
        await t.idle()
        [welcome] = t.connector.calls_to("reply")  # how to ask, in the installer's language
        assert "@Kura" in welcome.body["text"]
        assert "質問" in welcome.body["text"]
        result = await runtime.outbox.post(
            Destination("teams", HR_PRIVATE.id), "お知らせです。", owner="carol@example.co.jp", actor="test"
        )
        assert result.posted, result.reason_code
        sent = [c for c in t.connector.calls_to("send") if c.conversation_id == HR_PRIVATE.id]
        assert len(sent) == 1
        assert "お知らせ" in sent[0].body["text"]


HR_GROUP_ID = "7f0e4f1a-0000-4000-8000-0000000000e1"
LOOKALIKE_ID = "7f0e4f1a-0000-4000-8000-0000000000e2"


@pytest.mark.parametrize("mapped", [True, False], ids=["mapped-entra-group", "display-name-only"])
async def test_an_entra_group_from_graph_gives_access(runtime: Runtime, mapped: bool) -> None:
    """Alice is not in hr in the directory file. In Entra she is in a group (through another
    group): named ``hr`` for Kura by its object id, it lets her read hr/ in her 1:1 chat. A group
    whose display name is merely "hr" (anyone may create one) gives nothing."""
    sales = GraphGroup("7f0e4f1a-0000-4000-8000-0000000000e3", "Sales JP")
    async with FakeGraph(tls=False) as graph:
        if mapped:
            graph.add_group(GraphGroup(HR_GROUP_ID, "Human Resources"))
            graph.add_group(sales, HR_GROUP_ID)
        else:
            graph.add_group(GraphGroup(LOOKALIKE_ID, "hr"))
            graph.add_group(sales, LOOKALIKE_ID)
        graph.add_user(ALICE.aad_object_id or "", sales.id)
        async with tenant(runtime, graph=graph, group_names={"hr": HR_GROUP_ID}) as t:
            chat = CHATS[ALICE.id]
            assert (await t.post(activities.message(chat, ALICE, HR_QUESTION, t.connector.service_url))).status == 202
            await t.connector.wait_for("reply", 2, timeout=180)
            await t.idle()
            stream = next(iter(t.connector.streams.values()))
        assert graph.calls
    assert stream.final_activity is not None
    entities = json.dumps(stream.final_activity.get("entities"), ensure_ascii=False)
    assert ('"abstract": "hr/' in entities) is mapped
