"""Minutes asked for in a Teams meeting's chat, end to end: the real Agents SDK against the fake Bot
Connector (which answers the meeting-info API from a table), the meeting's transcript from a fake
Graph, a fake model answering fixed structured JSON (so the test knows what the model said), and the
real database. The minutes come in the chat when every member attended, else to the asker alone."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import pytest

from bot.adapters.teams.runner import TeamsRunner
from bot.core.messages import refusal_message
from bot.core.minutes_words import minutes_text
from bot.core.types import Destination
from bot.http import HttpHost
from bot.jobs.service import ScheduleService, make_spec
from bot.settings import GraphSettings, HttpSettings
from bot.wiring import Runtime
from tests.adapters.teams_harness import (
    ALICE,
    BOB,
    CAROL,
    CHATS,
    DAVE,
    SECRET,
    TEAMS,
    USERS,
    Tenant,
    teams_settings,
    trusting_session,
)
from tests.fakes import teams_activities as activities
from tests.fakes.bot_connector import FakeBotConnector
from tests.fakes.bot_connector_wire import JSON, Conversation, TeamsUser, meeting_info
from tests.fakes.entra import APP_ID, FakeEntra
from tests.fakes.graph import FakeGraph, GraphMeeting, GraphTranscript
from tests.fakes.openai_server import FakeOpenAI

pytestmark = pytest.mark.adapters

#: A meeting's chat whose members all attended (Bob organised it).
ATTENDED = Conversation("19:meeting_YXR0ZW5kZWQ@thread.v2", "groupChat", (ALICE.id, BOB.id, CAROL.id))
#: A meeting's chat with a member who did not attend (Dave).
JOINED_LATER = Conversation("19:meeting_am9pbmVk@thread.v2", "groupChat", (BOB.id, CAROL.id, DAVE.id))
#: Teams' own meeting ids, with the base64 characters a URL path must quote ("/", "+", "=").
TEAMS_IDS = {ATTENDED.id: "MCMxOTpt/ZWV0aW5n+YXR0ZW5kZWQ=", JOINED_LATER.id: "MCMxOTpt/ZWV0aW5n+am9pbmVk=="}
TRANSCRIPT = GraphTranscript(
    "MSMjMCMjdHJhbnNjcmlwdA",
    "2026-11-27T02:00:00.1234567Z",
    (
        "WEBVTT\n\n00:00:01.000 --> 00:00:04.000\n<v 田中ボブ>予算案はこのままで承認します\n\n"
        "00:00:06.000 --> 00:00:09.000\n<v 佐藤アリス>見積書は私が金曜までに送ります\n"
    ).encode(),
)
MINUTES = "議事録をまとめて"


def _lines(body: JSON) -> dict[str, str]:
    """The transcript lines of an extraction prompt: ``{text: ref}``."""
    user = str(body["messages"][-1]["content"])
    return {m.group(2): m.group(1) for m in re.finditer(r"^\[([^\]]+)\] [^:\n]*: (.*)$", user, re.M)}


def _asked_for(body: JSON) -> set[str]:
    """The properties of the JSON schema a request asks for (none: a plain answer)."""
    found = body.get("response_format")
    spec = found.get("json_schema") if isinstance(found, dict) else None
    schema = spec.get("schema") if isinstance(spec, dict) else None
    properties = schema.get("properties") if isinstance(schema, dict) else None
    return set(properties) if isinstance(properties, dict) else set()


def model_answer(body: JSON) -> str:
    """The fake model: an extraction from the lines it was given (each item referring to its line),
    a title and summary, or a plain answer to a question (told apart by the schema asked for, not
    by prompt wording, which changes with the language and the prompt version)."""
    asked = _asked_for(body)
    if "decisions" in asked:
        lines = _lines(body)
        decisions = [{"text": "予算案を承認する", "refs": [ref]} for text, ref in lines.items() if "予算案" in text]
        actions = [
            {"task": "見積書を送る", "owner": "佐藤アリス", "due": "金曜", "refs": [ref]}
            for text, ref in lines.items()
            if "見積書" in text
        ]
        extract = {"decisions": decisions, "action_items": actions, "open_questions": [], "topics": ["予算"]}
        return json.dumps(extract, ensure_ascii=False)
    if "title" in asked:
        return json.dumps({"title": "週次定例", "summary": ["予算の確認"]}, ensure_ascii=False)
    return "締め日は毎月25日です。"


@pytest.fixture
def model(fake_model: FakeOpenAI) -> FakeOpenAI:
    """The module's fake model (``model_answer``)."""
    return fake_model


@pytest.fixture
def rt(fake_model_runtime: Runtime) -> Runtime:
    """Kura's parts with the module's fake model."""
    return fake_model_runtime


@pytest.fixture
async def graph(model: FakeOpenAI) -> AsyncIterator[FakeGraph]:
    """A fresh fake Graph with one meeting per chat above, Bob organising (plain HTTP: the runner's
    session trusts the system's CAs only; ``test_teams_meetings`` covers Graph over TLS)."""
    model.requests.clear()
    fake = FakeGraph(tls=False)
    for chat in (ATTENDED, JOINED_LATER):
        attendees = ("alice@example.co.jp", "carol@example.co.jp")
        fake.add_meeting(GraphMeeting(BOB.aad_object_id or "", "bob@example.co.jp", "週次定例", attendees, chat.id))
        fake.meetings[(BOB.aad_object_id or "", _graph_id(fake, chat))].transcripts.append(TRANSCRIPT)
    async with fake:
        yield fake


def _graph_id(graph: FakeGraph, chat: Conversation) -> str:
    return next(meeting.id for meeting in graph.meetings.values() if meeting.thread == chat.id)


@asynccontextmanager
async def _tenant(runtime: Runtime, graph: FakeGraph, *, meetings: bool = True) -> AsyncIterator[Tenant]:
    """Kura serving Teams (as ``teams_harness.tenant``) with meeting transcripts from ``graph``, and
    the connector's meeting-info table filled for both meeting chats."""
    fake = FakeBotConnector(USERS, [ATTENDED, JOINED_LATER, *CHATS.values()], teams=TEAMS)
    for chat in (ATTENDED, JOINED_LATER):
        fake.meetings[TEAMS_IDS[chat.id]] = meeting_info(TEAMS_IDS[chat.id], _graph_id(graph, chat), BOB, chat)
    async with FakeEntra() as bot_framework, FakeEntra(clients={APP_ID: SECRET}, tls=True) as entra, fake:
        fake.token_check = graph.token_check = entra.issued_token_check
        host = HttpHost(HttpSettings(port=0), runtime.metrics)
        http = trusting_session()
        graph_settings = GraphSettings(base_url=graph.base_url, meetings=meetings)
        runner = TeamsRunner(teams_settings(bot_framework, entra), graph_settings, runtime, host, http_client=http)
        await runner.start()
        await host.start()
        try:
            yield Tenant(fake, bot_framework, entra, runner, f"http://127.0.0.1:{host.port}/api/messages")
        finally:
            await host.stop()
            await runner.stop()
            http.close()


async def _ask(t: Tenant, chat: Conversation, user: TeamsUser, text: str, wait_for: str) -> JSON:
    """``user`` mentions Kura in the meeting's chat; the message as sent, once Kura has ``wait_for``."""
    message = activities.message(chat, user, text, t.connector.service_url, meeting=TEAMS_IDS[chat.id])
    assert (await t.post(message)).status == 202
    await t.answered(wait_for)
    return message


def _shown(t: Tenant, conversation_id: str) -> list[str]:
    """The texts of Kura's messages still in a conversation."""
    return [str(a.get("text")) for a in t.connector.sent(conversation_id) if not a.get("_deleted")]


async def test_minutes_are_posted_in_a_chat_of_attendees(rt: Runtime, graph: FakeGraph, model: FakeOpenAI) -> None:
    """Bob asks in the chat of a meeting everyone there attended: the Teams meeting id is resolved
    once (quoted in the path, Kura's token), the transcript is read from Graph, and the minutes
    replace the placeholder in the chat."""
    async with _tenant(rt, graph) as t:
        await _ask(t, ATTENDED, BOB, MINUTES, "update")
        [lookup] = t.connector.calls_to("meeting_info")
        [shown] = _shown(t, ATTENDED.id)
    assert TEAMS_IDS[ATTENDED.id] == lookup.meeting_id
    assert lookup.raw_path.startswith("/teams/v1/meetings/MCMxOTpt%2FZWV0aW5n%2BYXR0ZW5kZWQ")
    assert t.entra.issued_token_check(lookup.headers["Authorization"].removeprefix("Bearer "))
    for words in ("議事録: 週次定例", "予算案を承認する", "見積書を送る", "担当: 佐藤アリス / 期限: 金曜"):
        assert words in shown, words
    # The lines as said (the prompt marks lines with decision or task words with a ◆).
    extract = str(model.requests[0]["messages"][-1]["content"]).replace("◆", "")
    assert "田中ボブ: 予算案はこのままで承認します" in extract
    assert "佐藤アリス: 見積書は私が金曜までに送ります" in extract
    content = f"/v1.0/users/{BOB.aad_object_id}/onlineMeetings/{_graph_id(graph, ATTENDED)}/transcripts/"
    read = [call.path for call in graph.meeting_calls() if call.path.endswith("/content")]
    assert [content + f"{TRANSCRIPT.id}/content"] == read


async def test_a_member_who_did_not_attend_sends_the_minutes_to_the_asker(rt: Runtime, graph: FakeGraph) -> None:
    """Dave is in the chat but not among the attendees: the placeholder is withdrawn and the minutes
    go to Bob's 1:1 chat, saying why they were not posted."""
    async with _tenant(rt, graph) as t:
        await _ask(t, JOINED_LATER, BOB, MINUTES, "send")
        [private] = _shown(t, f"a:personal-{BOB.id}")
        placeholders = t.connector.sent(JOINED_LATER.id)
    assert [] == _shown(t, JOINED_LATER.id)
    assert [True] == [a.get("_deleted") for a in placeholders]
    target = str(Destination("teams", JOINED_LATER.id))
    note = minutes_text("sent_privately", "ja", target=target, reason=minutes_text("audience_reason", "ja"))
    assert note in private
    assert "予算案を承認する" in private


async def test_an_employee_is_refused_privately_and_graph_is_not_read(
    rt: Runtime, graph: FakeGraph, model: FakeOpenAI
) -> None:
    """Alice (an employee) may not have minutes: refused in her 1:1 chat; no transcript is read."""
    async with _tenant(rt, graph) as t:
        await _ask(t, ATTENDED, ALICE, MINUTES, "send")
        [refusal] = _shown(t, f"a:personal-{ALICE.id}")
        [record] = [r for r in await rt.audit.recent(5, user_email="alice@example.co.jp") if r.action == "minutes"][:1]
    assert refusal_message(record.reason_code, "ja") in refusal
    assert [] == _shown(t, ATTENDED.id)
    assert [] == graph.meeting_calls()
    assert [] == model.requests


async def test_a_meeting_without_transcript_is_one_line(rt: Runtime, graph: FakeGraph, model: FakeOpenAI) -> None:
    graph.meetings[(BOB.aad_object_id or "", _graph_id(graph, ATTENDED))].transcripts.clear()
    async with _tenant(rt, graph) as t:
        await _ask(t, ATTENDED, BOB, MINUTES, "update")
        [shown] = _shown(t, ATTENDED.id)
    assert minutes_text("bad_source", "ja", reason=minutes_text("no_meeting_transcript", "ja")) == shown
    assert [] == model.requests


async def test_a_question_in_a_meeting_chat_makes_no_meeting_call(rt: Runtime, graph: FakeGraph) -> None:
    async with _tenant(rt, graph) as t:
        await _ask(t, ATTENDED, BOB, "経費精算の締め日はいつですか？", "update")
        assert [] == t.connector.calls_to("meeting_info")
        assert 1 == len(_shown(t, ATTENDED.id))
    assert [] == graph.calls


@pytest.mark.parametrize("case", ["lookup-fails", "meetings-off"])
async def test_without_the_meeting_the_usage_text_is_the_answer(rt: Runtime, graph: FakeGraph, case: str) -> None:
    """A refused lookup is only logged, and with ``KURA_GRAPH_MEETINGS`` off none is made: either
    way the chat has no meeting for the core, which answers how to ask for minutes."""
    async with _tenant(rt, graph, meetings=case != "meetings-off") as t:
        if case == "lookup-fails":
            t.connector.fail("meeting_info", 403)
        await _ask(t, ATTENDED, BOB, MINUTES, "update")
        lookups = t.connector.calls_to("meeting_info")
        [shown] = _shown(t, ATTENDED.id)
    assert (1 if case == "lookup-fails" else 0) == len(lookups)
    assert minutes_text("usage", "ja") in shown
    assert [] == graph.meeting_calls()


async def test_a_minutes_schedule_posts_a_meetings_new_transcript_to_its_chat(rt: Runtime, graph: FakeGraph) -> None:
    """A ``minutes`` schedule on a Teams meeting (bob's) with no target: a transcript made within the
    period is summarised into the meeting's chat; at the next fire time there is no newer one."""
    async with _tenant(rt, graph) as t:
        await _ask(t, ATTENDED, BOB, "経費精算の締め日はいつですか？", "update")  # Kura knows the chat
        service = ScheduleService(rt)
        meeting = f"{BOB.aad_object_id}/{_graph_id(graph, ATTENDED)}"
        spec = make_spec(
            "minutes",
            "weekly-meeting",
            "0 * * * *",
            "UTC",
            params={"source": f"teams-meeting:{meeting}", "period": "2h"},
            owner="bob@example.co.jp",
        )
        schedule = await service.store.add(spec)
        try:
            fire = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)  # the transcript was made at 02:00
            first = await service.fire(schedule, fire, actor="scheduler:weekly-meeting", command="test")
            later = await service.fire(schedule, fire + timedelta(hours=2), actor="scheduler:x", command="test")
            shown = _shown(t, ATTENDED.id)
        finally:
            await service.store.remove(schedule.name)
    assert first is not None
    assert "done" == first.status, first
    assert later is not None
    assert "no new transcript" in (later.outcome or ""), later
    assert 2 == len(shown)
    assert "予算案を承認する" in shown[-1]
