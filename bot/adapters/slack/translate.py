"""Pure translation between Slack's payloads and Kura's values. No I/O here."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from bot.core.types import Author, FileRef, HistoryMessage, InboundMessage
from bot.errors import Language

__all__ = [
    "admin_args",
    "event_id_of",
    "files_of",
    "history_message",
    "is_direct",
    "language_of",
    "mentions",
    "should_answer",
    "strip_mention",
    "thread_of",
    "to_inbound",
    "unwrap_edit",
]

_USER = re.compile(r"<@([UW][A-Z0-9_]+)(?:\|[^>]*)?>")
_CHANNEL = re.compile(r"<#([CGD][A-Z0-9_]+)(?:\|[^>]*)?>")
_MAILTO = re.compile(r"<mailto:([^|>]+)(?:\|[^>]*)?>")


def is_direct(event: Mapping[str, Any]) -> bool:
    """A DM with Kura (its reply is seen by the asker alone)."""
    return event.get("channel_type") == "im" or str(event.get("channel", "")).startswith("D")


def thread_of(event: Mapping[str, Any]) -> str:
    """The thread Kura answers in: the event's thread, or a new one under the message."""
    return str(event.get("thread_ts") or event["ts"])


def mentions(event: Mapping[str, Any], bot_user_id: str) -> bool:
    """Whether the message mentions Kura."""
    return f"<@{bot_user_id}" in str(event.get("text", ""))


def should_answer(
    event: Mapping[str, Any], bot_user_id: str, bot_id: str | None, *, answer_bots: bool, answer_edits: bool
) -> bool:
    """Kura's own messages never; other bots and edits only when configured; hidden subtypes never.

    An edit is answered only when its text changed (not when Slack added a link preview) and it is
    not Kura's own (Kura edits its answers as they stream: answering those would loop)."""
    if event.get("user") == bot_user_id or (bot_id is not None and event.get("bot_id") == bot_id):
        return False
    subtype = event.get("subtype")
    if subtype == "message_changed":
        edited, before = event.get("message"), event.get("previous_message")
        if not answer_edits or not isinstance(edited, Mapping):
            return False
        if isinstance(before, Mapping) and before.get("text") == edited.get("text"):
            return False
        return should_answer(edited, bot_user_id, bot_id, answer_bots=answer_bots, answer_edits=False)
    if subtype == "bot_message" or event.get("bot_id"):
        return answer_bots
    if subtype not in (None, "file_share", "thread_broadcast"):
        return False
    return bool(event.get("user")) and bool(str(event.get("text", "")).strip())


def unwrap_edit(event: Mapping[str, Any]) -> Mapping[str, Any]:
    """An edit (``message_changed``) as the edited message in its channel; other events as they are."""
    if event.get("subtype") == "message_changed" and isinstance(event.get("message"), Mapping):
        return {**event["message"], "channel": event.get("channel"), "channel_type": event.get("channel_type")}
    return event


def strip_mention(text: str, bot_user_id: str) -> str:
    """The question without Kura's own mention."""
    return re.sub(rf"<@{bot_user_id}(?:\|[^>]*)?>", "", text).strip()


def language_of(locale: str | None) -> Language | None:
    """ja or en from a Slack locale such as ``ja-JP``; None when unknown."""
    if not locale:
        return None
    return "ja" if locale.lower().startswith("ja") else "en"


def history_message(message: Mapping[str, Any], bot_user_id: str, bot_id: str | None) -> HistoryMessage:
    """A message of a thread or channel as history: Kura's own, a person's, or another bot's, with its
    author's user id (the speaker's name needs a lookup: :class:`SlackHistory` fills it in)."""
    author: Author = "person"
    if message.get("user") == bot_user_id or (bot_id is not None and message.get("bot_id") == bot_id):
        author = "kura"
    elif message.get("bot_id") or message.get("subtype") == "bot_message":
        author = "bot"
    text = strip_mention(str(message.get("text", "")), bot_user_id)
    return HistoryMessage(str(message.get("ts", "")), author, text, user=str(message.get("user") or ""))


def event_id_of(event: Mapping[str, Any], body: Mapping[str, Any]) -> str:
    """The delivery's id (the same on Slack's retries); the message's own id when there is none."""
    return str(body.get("event_id") or f"{event.get('channel')}:{event.get('ts')}")


def to_inbound(event: Mapping[str, Any], bot_user_id: str, *, event_id: str | None) -> InboundMessage:
    """A Slack message event as an InboundMessage (the user is the Slack user id; the core looks up
    their language and the thread's history)."""
    return InboundMessage(
        platform="slack",
        user=str(event["user"]),
        text=strip_mention(str(event.get("text", "")), bot_user_id),
        channel_id=None if is_direct(event) else str(event["channel"]),
        thread_id=thread_of(event),
        event_id=event_id,
        conversation_id=str(event["channel"]),
        message_id=str(event["ts"]),
        files=files_of(event),
    )


def files_of(event: Mapping[str, Any]) -> tuple[FileRef, ...]:
    """The files attached to a message that can be downloaded (not external links, not files Slack
    only names with ``file_access: check_file_info``)."""
    found = event.get("files")
    if not isinstance(found, list):
        return ()
    return tuple(
        FileRef(str(f.get("id", "")), str(f.get("name") or f.get("title") or ""), int(f.get("size") or 0), url)
        for f in found
        if isinstance(f, Mapping) and (url := str(f.get("url_private_download") or ""))
    )


def admin_args(text: str) -> tuple[str, ...]:
    """``/kura`` text split into words, with <@U…>, <#C…|name> and <mailto:…> reduced to ids/emails."""
    text = _USER.sub(r" \1 ", text)
    text = _CHANNEL.sub(r" \1 ", text)
    text = _MAILTO.sub(r" \1 ", text)
    return tuple(text.split())
