"""The Bolt app: listeners that translate Slack events and hand them to the core's conversation.

Bolt acks Events API deliveries before these listeners run; slash commands and button clicks are
acked first thing. Everything else (dedupe, history, language, visibility, failures, feedback,
admin commands) is the core's: :class:`bot.core.conversation.Conversation`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters.slack.render import FEEDBACK_UP, plain
from bot.adapters.slack.translate import (
    admin_args,
    event_id_of,
    is_direct,
    mentions,
    should_answer,
    to_inbound,
    unwrap_edit,
)
from bot.core.conversation import Conversation
from bot.settings import SlackSettings

__all__ = ["build_app"]


def build_app(
    settings: SlackSettings, client: AsyncWebClient, conversation: Conversation, **app_kwargs: Any
) -> AsyncApp:
    """An AsyncApp wired to the core. ``app_kwargs`` go to AsyncApp (e.g. ``signing_secret``)."""
    app = AsyncApp(client=client, **app_kwargs)

    async def answer(
        event: Mapping[str, Any], body: Mapping[str, Any], context: AsyncBoltContext, *, follow_up: bool = False
    ) -> None:
        message = unwrap_edit(event)
        inbound = to_inbound(message, str(context.bot_user_id), event_id=event_id_of(message, body))
        await conversation.handle(inbound, follow_up=follow_up)

    def wanted(event: Mapping[str, Any], context: AsyncBoltContext) -> bool:
        return should_answer(
            event,
            str(context.bot_user_id),
            context.bot_id,
            answer_bots=settings.answer_bots,
            answer_edits=settings.answer_edits,
        )

    @app.event("app_mention")
    async def on_mention(event: dict[str, Any], body: dict[str, Any], context: AsyncBoltContext) -> None:
        if wanted(event, context):
            await answer(event, body, context)

    @app.event("message")
    async def on_message(event: dict[str, Any], body: dict[str, Any], context: AsyncBoltContext) -> None:
        if not wanted(event, context):
            return
        message = unwrap_edit(event)
        # Mentions arrive as app_mention events and are answered there; a plain reply in a thread
        # is answered when Kura already took part in that thread (the core checks).
        if is_direct(message):
            await answer(event, body, context)
        elif message.get("thread_ts") and not mentions(message, str(context.bot_user_id)):
            await answer(event, body, context, follow_up=True)

    @app.command("/kura")
    async def on_command(ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        args = admin_args(str(command.get("text", "")))
        reply = await conversation.command(str(command["user_id"]), args, command.get("channel_id"))
        await respond(text=plain(reply.text), response_type="ephemeral")

    @app.action(re.compile(r"^kura_feedback_(up|down)$"))
    async def on_feedback(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        value = 1 if action["action_id"] == FEEDBACK_UP else -1
        text = await conversation.feedback(str(body["user"]["id"]), str(action["value"]), value)
        await respond(text=text, response_type="ephemeral", replace_original=False)

    return app
