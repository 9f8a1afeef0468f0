"""Teams activities as the core's values. Pure: no I/O, no SDK objects, plain JSON in.

A channel's conversation id carries the thread's root (``19:…@thread.tacv2;messageid=<root>``):
the part before ``;messageid=`` is the channel, the root is the thread. Personal chats are direct
(no channel: the asker's own rights); group chats are channels whose members read the answer.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from bot.core.types import InboundMessage
from bot.errors import Language
from policies import ChannelKind

__all__ = [
    "FaqClick",
    "admin_args",
    "channel_kind_of",
    "conversation_kind",
    "event_id_of",
    "faq_click_of",
    "feedback_of",
    "installed",
    "is_addressed",
    "is_faq_click",
    "language_of",
    "meeting_of",
    "strip_mention",
    "to_inbound",
]

ConversationKind = Literal["personal", "groupChat", "channel"]

_THREAD = ";messageid="
_AT_TAG = re.compile(r"<at>[^<]{0,200}</at>", re.IGNORECASE)


def conversation_kind(activity: Mapping[str, Any]) -> ConversationKind | None:
    """personal, groupChat or channel; None for anything else (then Kura does not answer)."""
    conversation = activity.get("conversation")  # plain JSON: any shape may arrive
    kind = conversation.get("conversationType") if isinstance(conversation, Mapping) else None
    return kind if kind in ("personal", "groupChat", "channel") else None


def _mentions_of(activity: Mapping[str, Any], bot_id: str) -> list[str]:
    """The ``<at>…</at>`` texts of the mention entities that name the bot."""
    found: list[str] = []
    for entity in activity.get("entities") or ():
        if isinstance(entity, Mapping) and entity.get("type") == "mention":
            mentioned = entity.get("mentioned") or {}
            if isinstance(mentioned, Mapping) and mentioned.get("id") == bot_id and entity.get("text"):
                found.append(str(entity["text"]))
    return found


def is_addressed(activity: Mapping[str, Any], bot_id: str) -> bool:
    """Whether Kura should answer: a message with text from someone else, in a personal chat, or
    mentioning Kura in a group chat or channel."""
    if activity.get("type") != "message" or not str(activity.get("text") or "").strip():
        return False
    sender = activity.get("from") or {}
    if not isinstance(sender, Mapping) or not sender.get("id") or sender.get("id") == bot_id:
        return False
    kind = conversation_kind(activity)
    if kind == "personal":
        return True
    return kind is not None and bool(_mentions_of(activity, bot_id))


def strip_mention(activity: Mapping[str, Any], bot_id: str) -> str:
    """The text without Kura's @mention (the entity's own ``<at>`` text, however it is named)."""
    text = str(activity.get("text") or "")
    for tag in _mentions_of(activity, bot_id):
        text = text.replace(tag, " ")
    return " ".join(text.split())


def language_of(locale: object) -> Language | None:
    """ja or en from an activity's locale such as ``ja-JP``; None when missing."""
    if not isinstance(locale, str) or not locale.strip():
        return None
    return "ja" if locale.strip().lower().startswith("ja") else "en"


def _split(conversation_id: str) -> tuple[str, str | None]:
    base, found, root = conversation_id.partition(_THREAD)
    return base, (root or None) if found else None


def event_id_of(activity: Mapping[str, Any]) -> str:
    """The delivery's id for the ledger: the same on the connector's retries, unique across
    conversations (an activity id is only unique within its conversation)."""
    base, _ = _split(str((activity.get("conversation") or {}).get("id", "")))
    return f"{base}:{activity.get('id', '')}"


def to_inbound(activity: Mapping[str, Any], bot_id: str) -> InboundMessage:
    """A message activity Kura is addressed in, as an InboundMessage (the user is the Teams user id;
    the core looks up who they are, their language and the thread's history)."""
    conversation_id = str((activity.get("conversation") or {}).get("id", ""))
    base, root = _split(conversation_id)
    kind = conversation_kind(activity)
    message_id = str(activity.get("id", ""))
    return InboundMessage(
        platform="teams",
        user=str((activity.get("from") or {}).get("id", "")),
        text=strip_mention(activity, bot_id),
        channel_id=None if kind == "personal" else base,
        thread_id=(root or message_id) if kind == "channel" else None,
        event_id=event_id_of(activity),
        locale=language_of(activity.get("locale")),
        conversation_id=conversation_id,
        message_id=message_id,
    )


def meeting_of(activity: Mapping[str, Any]) -> str | None:
    """Teams' id of the online meeting whose chat the message is in (``channelData.meeting.id``);
    None outside a meeting chat. Graph does not take this id: the Bot Connector resolves it."""
    data = activity.get("channelData")
    meeting = data.get("meeting") if isinstance(data, Mapping) else None
    found = meeting.get("id") if isinstance(meeting, Mapping) else None
    return found.strip() if isinstance(found, str) and found.strip() else None


def channel_kind_of(activity: Mapping[str, Any]) -> ChannelKind | None:
    """Who reads the conversation besides its roster: a group chat is direct; a channel is private
    to its roster (a standard channel's roster is the whole team), shared with other organisations
    when Teams says so (``channelData.channel.type`` or ``membershipType``); None for a personal chat."""
    kind = conversation_kind(activity)
    if kind == "groupChat":
        return ChannelKind("direct")
    if kind != "channel":
        return None
    data = activity.get("channelData")  # free-form JSON: the SDK's model takes anything here
    channel = data.get("channel") if isinstance(data, Mapping) else None
    membership = (
        str(channel.get("type") or channel.get("membershipType") or "").lower() if isinstance(channel, Mapping) else ""
    )
    return ChannelKind("private", shared=membership == "shared")


#: Words that start an admin command in a message to Kura (``@Kura admin status``).
ADMIN_PREFIXES = frozenset({"admin", "/kura"})


def admin_args(text: str, menu: frozenset[str] = frozenset()) -> tuple[str, ...] | None:
    """The admin command a message gives (``admin status`` → ``("status",)``), or None for a question.

    A message that is exactly one of the app's command-menu titles (``menu``, e.g. ``status`` picked
    from the menu) is a command too; anything else needs the ``admin`` prefix, so a question that
    happens to begin with ``policy`` or ``sources`` stays a question.
    """
    words = text.split()
    if not words:
        return None
    if words[0].lower() in ADMIN_PREFIXES:
        return tuple(words[1:]) or ("help",)
    if " ".join(words).lower() in menu:
        return tuple(words)
    return None


def feedback_of(activity: Mapping[str, Any]) -> tuple[str, int] | None:
    """A 👍/👎 from Teams' feedback loop (``invoke`` ``message/submitAction``): the id of the message
    it is about and +1/-1; None for any other activity."""
    if activity.get("type") != "invoke" or activity.get("name") != "message/submitAction":
        return None
    value = activity.get("value")
    if not isinstance(value, Mapping) or value.get("actionName") != "feedback":
        return None
    action = value.get("actionValue")
    reaction = action.get("reaction") if isinstance(action, Mapping) else None
    message_id = activity.get("replyToId")
    if reaction not in ("like", "dislike") or not isinstance(message_id, str) or not message_id:
        return None
    return message_id, 1 if reaction == "like" else -1


def installed(activity: Mapping[str, Any], bot_id: str) -> bool:
    """Whether the activity says Kura was just added to a team or chat (``conversationUpdate`` with
    Kura among ``membersAdded``, or ``installationUpdate`` ``add``)."""
    kind = activity.get("type")
    if kind == "installationUpdate":
        return activity.get("action") == "add"
    if kind != "conversationUpdate":
        return False
    added = activity.get("membersAdded") or ()
    return any(isinstance(m, Mapping) and m.get("id") == bot_id for m in added)


@dataclass(frozen=True)
class FaqClick:
    """A reviewer's button on an FAQ review card: who (the Teams user id), which entry, the verdict,
    and for ``edit`` the answer from the card's edit box."""

    user: str
    entry_id: int
    verdict: str
    answer: str | None


_VERDICTS = ("approve", "edit", "reject")
#: As long as a reviewer may write (the card's edit box says so too).
_ANSWER_LIMIT = 4000
_ENTRY_ID = re.compile(r"^[0-9]{1,18}$")


def is_faq_click(activity: Mapping[str, Any]) -> bool:
    """Whether the activity is an ``Action.Submit`` from an FAQ review card (a ``message`` whose
    ``value`` says ``"kura": "faq"``), well formed or not."""
    value = activity.get("value")
    return activity.get("type") == "message" and isinstance(value, Mapping) and value.get("kura") == "faq"


def faq_click_of(activity: Mapping[str, Any]) -> FaqClick | None:
    """The click an FAQ review card sent; None unless the id is a number, the verdict one of
    approve / edit / reject and an edit's answer text within the limit."""
    if not is_faq_click(activity):
        return None
    value = activity["value"]
    entry, verdict, answer = value.get("id"), value.get("verdict"), value.get("answer")
    user = (activity.get("from") or {}).get("id")
    if isinstance(entry, int) and not isinstance(entry, bool):
        entry = str(entry)
    if not isinstance(entry, str) or not _ENTRY_ID.match(entry) or verdict not in _VERDICTS:
        return None
    if not isinstance(user, str) or not user:
        return None
    if verdict != "edit":
        return FaqClick(user, int(entry), str(verdict), None)
    if answer is None:
        answer = ""
    if not isinstance(answer, str) or len(answer) > _ANSWER_LIMIT:
        return None
    return FaqClick(user, int(entry), "edit", answer)
