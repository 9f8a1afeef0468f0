"""Teams activities as the core's values, on activities shaped as Teams sends them
(tests/fakes/teams_activities.py)."""

from __future__ import annotations

import pytest

from bot.adapters.teams.translate import (
    admin_args,
    channel_kind_of,
    conversation_kind,
    event_id_of,
    feedback_of,
    installed,
    is_addressed,
    language_of,
    strip_mention,
    to_inbound,
)
from policies import ChannelKind
from tests.fakes.bot_connector_wire import BOT_ID, Conversation, TeamsUser
from tests.fakes.teams_activities import conversation_update, feedback_invoke, message

pytestmark = pytest.mark.unit

SERVICE = "https://smba.trafficmanager.net/teams/"
ALICE = TeamsUser("29:alice", "aad-alice", "Alice", "alice@example.co.jp")
CHANNEL = Conversation("19:general@thread.tacv2", "channel", None, team_id="19:team@thread.tacv2")
CHAT = Conversation("19:chat@thread.v2", "groupChat", ("29:alice", "29:bob"))
PERSONAL = Conversation("a:personal-alice", "personal", ("29:alice",))


def test_a_channel_mention_is_a_question_in_its_thread_without_the_mention() -> None:
    activity = message(CHANNEL, ALICE, "VPNの接続方法は？", SERVICE)
    assert is_addressed(activity, BOT_ID)
    inbound = to_inbound(activity, BOT_ID)
    assert inbound.platform == "teams"
    assert inbound.user == "29:alice"
    assert inbound.text == "VPNの接続方法は？"
    assert inbound.channel_id == CHANNEL.id
    assert inbound.conversation_id == activity["conversation"]["id"]
    assert str(inbound.conversation_id).startswith(CHANNEL.id + ";messageid=")
    assert inbound.locale == "ja"


def test_a_new_thread_is_not_a_follow_up_and_a_reply_in_an_old_one_is() -> None:
    """The core reads the thread's history when ``thread_id`` differs from ``message_id``."""
    first = to_inbound(message(CHANNEL, ALICE, "質問", SERVICE, root_id=None), BOT_ID)
    root = first.thread_id
    assert root is not None
    started = message(CHANNEL, ALICE, "質問", SERVICE, root_id="1700000000001")
    started["id"] = "1700000000001"
    assert to_inbound(started, BOT_ID).thread_id == to_inbound(started, BOT_ID).message_id
    follow_up = to_inbound(message(CHANNEL, ALICE, "続き", SERVICE, root_id="1700000000001"), BOT_ID)
    assert follow_up.thread_id == "1700000000001"
    assert follow_up.thread_id != follow_up.message_id


def test_a_personal_chat_is_direct_and_needs_no_mention() -> None:
    activity = message(PERSONAL, ALICE, "What is G3?", SERVICE, locale="en-US")
    assert is_addressed(activity, BOT_ID)
    inbound = to_inbound(activity, BOT_ID)
    assert inbound.channel_id is None
    assert inbound.thread_id is None
    assert inbound.conversation_id == PERSONAL.id
    assert inbound.locale == "en"


def test_a_group_chat_answers_for_its_members() -> None:
    inbound = to_inbound(message(CHAT, ALICE, "経費精算の締め日は？", SERVICE), BOT_ID)
    assert inbound.channel_id == CHAT.id
    assert inbound.thread_id is None


@pytest.mark.parametrize(
    "activity",
    [
        message(CHANNEL, ALICE, "no mention", SERVICE, mention_bot=False),
        message(CHAT, ALICE, "no mention", SERVICE, mention_bot=False),
        message(PERSONAL, ALICE, "   ", SERVICE),
        conversation_update(CHANNEL, ALICE, SERVICE),
        feedback_invoke(PERSONAL, ALICE, "1", SERVICE),
    ],
    ids=["channel-unaddressed", "chat-unaddressed", "blank", "install", "invoke"],
)
def test_what_kura_does_not_answer(activity: dict[str, object]) -> None:
    assert not is_addressed(activity, BOT_ID)


def test_kuras_own_messages_and_mentions_of_someone_else_are_not_questions() -> None:
    own = message(PERSONAL, ALICE, "answer", SERVICE)
    own["from"] = {"id": BOT_ID, "name": "Kura"}
    assert not is_addressed(own, BOT_ID)
    other = message(CHANNEL, ALICE, "hello", SERVICE)
    other["entities"][0]["mentioned"] = {"id": "28:another-bot", "name": "Other"}
    assert not is_addressed(other, BOT_ID)
    assert strip_mention(other, BOT_ID) == "<at>Kura</at> hello"


def test_the_mention_is_removed_whatever_the_bot_is_called_here() -> None:
    """The tag is the entity's own text (a renamed app, a display name in Japanese)."""
    activity = message(CHANNEL, ALICE, "教えて", SERVICE)
    activity["text"] = "<at>蔵 ボット</at> 教えて"
    activity["entities"][0]["text"] = "<at>蔵 ボット</at>"
    assert strip_mention(activity, BOT_ID) == "教えて"


def test_a_retry_keeps_its_event_id_and_other_conversations_differ() -> None:
    activity = message(CHANNEL, ALICE, "質問", SERVICE)
    again = dict(activity)
    assert event_id_of(activity) == event_id_of(again)
    elsewhere = dict(activity, conversation={**activity["conversation"], "id": "19:other@thread.tacv2"})
    assert event_id_of(elsewhere) != event_id_of(activity)
    assert ";messageid=" not in event_id_of(activity)


@pytest.mark.parametrize(
    ("locale", "expected"), [("ja-JP", "ja"), ("ja", "ja"), ("en-US", "en"), ("fr-FR", "en"), ("", None), (None, None)]
)
def test_language_of_the_activity_locale(locale: str | None, expected: str | None) -> None:
    assert language_of(locale) == expected


# ---------------------------------------------------------------------------------------- channel kind


def test_channel_kinds() -> None:
    assert channel_kind_of(message(PERSONAL, ALICE, "x", SERVICE)) is None
    assert channel_kind_of(message(CHAT, ALICE, "x", SERVICE)) == ChannelKind("direct")
    standard = message(CHANNEL, ALICE, "x", SERVICE)
    assert channel_kind_of(standard) == ChannelKind("private")  # its roster is the whole team
    for field in ("type", "membershipType"):
        for value in ("shared", "Shared", "SHARED"):
            shared = message(CHANNEL, ALICE, "x", SERVICE)
            shared["channelData"]["channel"][field] = value
            assert channel_kind_of(shared) == ChannelKind("private", shared=True), (field, value)
    private = message(CHANNEL, ALICE, "x", SERVICE)
    private["channelData"]["channel"]["membershipType"] = "private"
    assert channel_kind_of(private) == ChannelKind("private")


@pytest.mark.parametrize(
    "channel_data",
    [None, [], ["shared"], "shared", 7, {"channel": None}, {"channel": "shared"}, {"channel": ["shared"]}, {}],
    ids=["null", "empty-list", "list", "string", "number", "channel-null", "channel-string", "channel-list", "empty"],
)
def test_channel_kind_of_odd_channel_data_is_a_plain_channel_not_an_error(channel_data: object) -> None:
    """channelData is free-form JSON (the SDK's model takes anything): the kind never raises."""
    activity = message(CHANNEL, ALICE, "x", SERVICE)
    activity["channelData"] = channel_data
    assert channel_kind_of(activity) == ChannelKind("private")


@pytest.mark.parametrize("conversation", [None, "19:x", [], {"conversationType": 5}, {"conversationType": "meeting"}])
def test_an_unknown_conversation_shape_has_no_kind(conversation: object) -> None:
    activity = message(CHANNEL, ALICE, "x", SERVICE)
    activity["conversation"] = conversation
    assert conversation_kind(activity) is None
    assert channel_kind_of(activity) is None
    assert not is_addressed(activity, BOT_ID)


# ---------------------------------------------------------------------------------------- admin commands

MENU = frozenset({"help", "status", "sources"})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("admin status", ("status",)),
        ("ADMIN status", ("status",)),
        ("/kura sync handbook", ("sync", "handbook")),
        ("admin", ("help",)),
        ("  admin   policy   show ", ("policy", "show")),
        ("status", ("status",)),  # picked from the command menu
        ("Status", ("Status",)),
        ("help", ("help",)),
        ("status of my expense claim?", None),  # a question that begins with a menu word
        ("sources for G3 salary", None),
        ("administrator status", None),
        ("ａｄｍｉｎ status", None),  # full-width: not the prefix, so a question (commands fail closed)
        ("admin\u200b status", None),
        ("what does admin status show?", None),
        ("", None),
        ("   ", None),
    ],
)
def test_admin_args(text: str, expected: tuple[str, ...] | None) -> None:
    assert admin_args(text, MENU) == expected


def test_menu_titles_are_commands_only_with_a_menu() -> None:
    assert admin_args("status") is None
    assert admin_args("status", MENU) == ("status",)


# ---------------------------------------------------------------------------------------- feedback


@pytest.mark.parametrize(("reaction", "value"), [("like", 1), ("dislike", -1)])
def test_feedback_of_a_thumb(reaction: str, value: int) -> None:
    invoke = feedback_invoke(CHANNEL, ALICE, "1700000000009", SERVICE, reaction=reaction, feedback_text="良い")
    assert feedback_of(invoke) == ("1700000000009", value)


@pytest.mark.parametrize(
    "change",
    [
        {"type": "message"},
        {"name": "composeExtension/submitAction"},
        {"name": None},
        {"value": None},
        {"value": "feedback"},
        {"value": ["feedback"]},
        {"value": {"actionName": "other", "actionValue": {"reaction": "like"}}},
        {"value": {"actionName": "feedback", "actionValue": "like"}},
        {"value": {"actionName": "feedback", "actionValue": {"reaction": "Like"}}},
        {"value": {"actionName": "feedback", "actionValue": {"reaction": "love"}}},
        {"value": {"actionName": "feedback", "actionValue": {"reaction": ["like"]}}},
        {"value": {"actionName": "feedback", "actionValue": {}}},
        {"replyToId": None},
        {"replyToId": ""},
        {"replyToId": 17},
        {"replyToId": ["1"]},
    ],
)
def test_anything_else_is_not_feedback(change: dict[str, object]) -> None:
    invoke = feedback_invoke(CHANNEL, ALICE, "1700000000009", SERVICE) | change
    assert feedback_of(invoke) is None


def test_a_message_is_not_feedback() -> None:
    assert feedback_of(message(CHANNEL, ALICE, "like", SERVICE)) is None


# ---------------------------------------------------------------------------------------- install


def test_kura_added_to_a_team_or_chat_is_an_install() -> None:
    assert installed(conversation_update(CHANNEL, ALICE, SERVICE), BOT_ID)
    assert installed(conversation_update(CHAT, ALICE, SERVICE), BOT_ID)
    install = message(PERSONAL, ALICE, "", SERVICE) | {"type": "installationUpdate", "action": "add"}
    assert installed(install, BOT_ID)


@pytest.mark.parametrize(
    "change",
    [
        {"membersAdded": [{"id": "29:bob"}]},
        {"membersAdded": []},
        {"membersAdded": None},
        {"membersAdded": [BOT_ID]},  # not an account object
        {"membersAdded": [{"id": BOT_ID.upper()}]},
        {"membersAdded": {"id": BOT_ID}},
        {"type": "message"},
        {"type": "installationUpdate", "action": "remove"},
        {"type": "installationUpdate", "action": None},
    ],
)
def test_anything_else_is_not_an_install(change: dict[str, object]) -> None:
    activity = conversation_update(CHANNEL, ALICE, SERVICE) | change
    assert not installed(activity, BOT_ID)


def test_someone_else_joining_is_not_an_install_even_with_kura_as_sender() -> None:
    activity = conversation_update(CHANNEL, ALICE, SERVICE)
    activity["membersAdded"] = [{"id": "29:bob"}]
    activity["from"] = {"id": BOT_ID}
    assert not installed(activity, BOT_ID)
    assert not installed(conversation_update(CHANNEL, ALICE, SERVICE), "28:another-bot")
