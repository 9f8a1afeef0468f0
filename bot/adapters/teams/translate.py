"""Teams activities as the core's values. Pure: no I/O, no SDK objects, plain JSON in.

A channel's conversation id carries the thread's root (``19:…@thread.tacv2;messageid=<root>``):
the part before ``;messageid=`` is the channel, the root is the thread. Personal chats are direct
(no channel: the asker's own rights); group chats are channels whose members read the answer.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

from bot.core.types import InboundMessage
from bot.errors import Language

__all__ = ["conversation_kind", "event_id_of", "is_addressed", "language_of", "strip_mention", "to_inbound"]

ConversationKind = Literal["personal", "groupChat", "channel"]

_THREAD = ";messageid="
_AT_TAG = re.compile(r"<at>[^<]{0,200}</at>", re.IGNORECASE)


def conversation_kind(activity: Mapping[str, Any]) -> ConversationKind | None:
    """personal, groupChat or channel; None for anything else (then Kura does not answer)."""
    kind = (activity.get("conversation") or {}).get("conversationType")
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
