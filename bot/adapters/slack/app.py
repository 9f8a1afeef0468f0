"""The Bolt app: listeners that translate Slack events and hand them to the core's conversation.

Bolt acks Events API deliveries before these listeners run; slash commands, button clicks and
dialog submissions are acked first thing. Everything else (dedupe, history, language, visibility,
failures, feedback, admin commands, FAQ reviews) is the core's: :class:`bot.core.conversation.Conversation`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext, AsyncRespond
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters.slack.render import (
    EDIT_VIEW,
    FAQ_APPROVE,
    FAQ_EDIT,
    FEEDBACK_UP,
    edit_answer,
    edit_view,
    plain,
    result_section,
    reviewed_blocks,
)
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
from bot.core.messages import error_message
from bot.settings import SlackSettings

__all__ = ["build_app"]

_log = logging.getLogger(__name__)
_ENTRY_ID = re.compile(r"^[0-9]{1,18}$")


def entry_id_of(value: object) -> int | None:
    """An FAQ entry id from a button's value or a dialog's metadata; None for anything else."""
    return int(value) if isinstance(value, str) and _ENTRY_ID.match(value) else None


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

    @app.action(re.compile(r"^kura_faq_(approve|reject)$"))
    async def on_faq_verdict(
        ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        await ack()
        entry_id = entry_id_of(action.get("value"))
        if entry_id is None:
            _log.info("slack faq click without an entry id")
            return
        verdict = "approve" if action["action_id"] == FAQ_APPROVE else "reject"
        line = await conversation.faq_review(str(body["user"]["id"]), entry_id, verdict)
        # The buttons give way to the outcome, so that a second click cannot happen by mistake.
        container = body.get("container") or {}
        message = body.get("message") or {}
        try:
            await client.chat_update(
                channel=str(container.get("channel_id") or (body.get("channel") or {}).get("id") or ""),
                ts=str(container.get("message_ts") or message.get("ts") or ""),
                text=str(message.get("text") or plain(line)),
                blocks=reviewed_blocks(message.get("blocks") or [], line),
            )
        except (SlackApiError, SlackClientError) as exc:
            _log.warning("slack faq message not updated error=%s", type(exc).__name__)
            await respond(text=plain(line), response_type="ephemeral", replace_original=False)

    @app.action(FAQ_EDIT)
    async def on_faq_edit(
        ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        await ack()
        entry_id = entry_id_of(action.get("value"))
        if entry_id is None:
            _log.info("slack faq click without an entry id")
            return
        user = str(body["user"]["id"])
        answer = await conversation.faq_answer(user, entry_id)
        if answer is None:
            # Not theirs to edit: the review says why, and the refused attempt is audited.
            line = await conversation.faq_review(user, entry_id, "edit")
            await respond(text=plain(line), response_type="ephemeral", replace_original=False)
            return
        language = await conversation.language_of(user)
        try:
            view = edit_view(entry_id, answer, language)
            await client.views_open(trigger_id=str(body.get("trigger_id") or ""), view=view)
        except (SlackApiError, SlackClientError) as exc:
            _log.warning("slack faq edit dialog not opened error=%s", type(exc).__name__)
            await respond(text=error_message("upstream", language), response_type="ephemeral", replace_original=False)

    @app.view(EDIT_VIEW)
    async def on_faq_edited(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        entry_id = entry_id_of(view.get("private_metadata"))
        if entry_id is None:
            _log.info("slack faq dialog without an entry id")
            return
        user = str(body["user"]["id"])
        line = await conversation.faq_review(user, entry_id, "edit", answer=edit_answer(view))
        # A dialog has no channel to answer in: the outcome goes to the reviewer's DM with Kura.
        try:
            opened = await client.conversations_open(users=user)
            await client.chat_postMessage(
                channel=str(opened["channel"]["id"]), text=plain(line), blocks=[result_section(line)]
            )
        except (SlackApiError, SlackClientError) as exc:
            _log.warning("slack faq edit outcome not delivered error=%s", type(exc).__name__)

    return app
