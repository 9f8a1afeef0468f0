"""Inbound activities as Teams posts them to a bot's messaging endpoint, for tests.

Shapes follow the Teams docs ("Conversation basics", "Channel and group chat conversations",
"Conversation events", "Feedback buttons" for ``message/submitAction``) and the Bot Framework
Activity schema: ``conversation.conversationType`` is personal / groupChat / channel, a channel's
``conversation.id`` carries ``;messageid=<root>``, ``channelData`` holds ``tenant`` (always) and
``team`` / ``channel`` (in channels), and the bot's @mention is an ``<at>`` tag in ``text`` plus a
``mention`` entity naming the bot.
"""

from __future__ import annotations

import html
import itertools
import json
from datetime import UTC, datetime
from typing import Any

from tests.fakes.bot_connector_wire import BOT_ID, BOT_NAME, JSON, Conversation, TeamsUser

__all__ = ["conversation_update", "feedback_invoke", "message"]

_ids = itertools.count(1_800_000_000_000)


def _account(user: TeamsUser) -> JSON:
    """The ``from`` of an inbound activity: id, name and AAD object id (no email, as Teams sends it)."""
    account: JSON = {"id": user.id, "name": user.name}
    if user.aad_object_id is not None:
        account["aadObjectId"] = user.aad_object_id
    return account


def _conversation(conversation: Conversation, root_id: str | None) -> JSON:
    conversation_id = conversation.id
    if conversation.kind == "channel":
        conversation_id = f"{conversation.id};messageid={root_id or next(_ids)}"
    result: JSON = {
        "conversationType": conversation.kind,
        "tenantId": conversation.tenant_id,
        "id": conversation_id,
    }
    if conversation.kind != "personal":
        result["isGroup"] = True
    return result


def _channel_data(conversation: Conversation) -> JSON:
    data: JSON = {"tenant": {"id": conversation.tenant_id}}
    if conversation.kind == "channel":
        team_id = conversation.team_id or conversation.id
        data.update(
            {
                "teamsChannelId": conversation.id,
                "teamsTeamId": team_id,
                "channel": {"id": conversation.id},
                "team": {"id": team_id},
            }
        )
    return data


def _base(
    activity_type: str,
    conversation: Conversation,
    user: TeamsUser,
    service_url: str,
    *,
    root_id: str | None = None,
    locale: str = "ja-JP",
) -> JSON:
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    return {
        "type": activity_type,
        "id": str(next(_ids)),
        "timestamp": now,
        "localTimestamp": now,
        "serviceUrl": service_url,
        "channelId": "msteams",
        "from": _account(user),
        "conversation": _conversation(conversation, root_id),
        "recipient": {"id": BOT_ID, "name": BOT_NAME},
        "locale": locale,
        "channelData": _channel_data(conversation),
    }


def message(
    conversation: Conversation,
    user: TeamsUser,
    text: str,
    service_url: str,
    *,
    mention_bot: bool | None = None,
    root_id: str | None = None,
    locale: str = "ja-JP",
    meeting: str | None = None,
) -> JSON:
    """A message from ``user``. In channels and group chats the bot only hears @mentions, so they
    carry ``<at>Kura</at>`` by default; pass ``mention_bot=False`` for an unaddressed message.

    ``root_id`` is the thread's root message id in a channel (a new thread when None); ``meeting``
    makes it a message in that online meeting's chat (Teams' meeting id in ``channelData.meeting``).
    """
    activity = _base("message", conversation, user, service_url, root_id=root_id, locale=locale)
    if meeting is not None:
        activity["channelData"]["meeting"] = {"id": meeting}
    mention = conversation.kind != "personal" if mention_bot is None else mention_bot
    at_tag = f"<at>{BOT_NAME}</at>"
    full_text = f"{at_tag} {text}" if mention else text
    entities: list[JSON] = [
        {"type": "clientInfo", "locale": locale, "country": "JP", "platform": "Web", "timezone": "Asia/Tokyo"}
    ]
    if mention:
        entities.insert(0, {"type": "mention", "mentioned": {"id": BOT_ID, "name": BOT_NAME}, "text": at_tag})
    activity.update(
        {
            "text": full_text,
            "textFormat": "plain",
            "entities": entities,
            "attachments": [
                {"contentType": "text/html", "content": f"<p>{at_tag + ' ' if mention else ''}{html.escape(text)}</p>"}
            ],
        }
    )
    return activity


def conversation_update(conversation: Conversation, installer: TeamsUser, service_url: str) -> JSON:
    """The bot being installed: ``conversationUpdate`` with the bot in ``membersAdded``.

    In a team Teams adds ``channelData.eventType = "teamMemberAdded"``; in a personal or group chat
    only the tenant is given.
    """
    activity = _base("conversationUpdate", conversation, installer, service_url)
    activity["membersAdded"] = [{"id": BOT_ID}]
    if conversation.kind == "channel":
        activity["channelData"]["eventType"] = "teamMemberAdded"
        # The install event arrives on the team's General channel, without a thread.
        activity["conversation"]["id"] = conversation.id
    return activity


def feedback_invoke(
    conversation: Conversation,
    user: TeamsUser,
    reply_to_id: str,
    service_url: str,
    *,
    reaction: str = "like",
    feedback_text: str = "",
) -> JSON:
    """A thumbs up/down on the bot's message ``reply_to_id``: ``invoke`` ``message/submitAction``.

    ``actionValue.feedback`` is a JSON *string* (the default form's ``{"feedbackText": ...}``).
    """
    activity = _base("invoke", conversation, user, service_url)
    value: dict[str, Any] = {
        "actionName": "feedback",
        "actionValue": {"reaction": reaction, "feedback": json.dumps({"feedbackText": feedback_text})},
    }
    activity.update({"name": "message/submitAction", "replyToId": reply_to_id, "value": value})
    return activity
