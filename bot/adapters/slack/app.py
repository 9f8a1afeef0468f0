"""The Bolt app: listeners that translate Slack events to the core and render its answers back.

Bolt acks Events API deliveries before these listeners run; slash commands and button clicks are
acked first thing. Duplicate deliveries and retries are dropped by event id in the database.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.exc import SQLAlchemyError

from bot.adapters.slack.directory import SlackDirectory
from bot.adapters.slack.render import FEEDBACK_UP
from bot.adapters.slack.stream import ThreadWriter
from bot.adapters.slack.translate import (
    admin_args,
    history_from_replies,
    is_direct,
    language_of,
    mentions,
    should_answer,
    thread_of,
    to_inbound,
    unwrap_edit,
)
from bot.audit.store import AuditStore
from bot.core.admin import AdminCommand, AdminService
from bot.core.pipeline import Pipeline
from bot.core.types import Decided, Turn
from bot.errors import Language, user_message
from bot.ledger import EventLedger
from bot.settings import SlackSettings
from llm import detect_language

__all__ = ["SlackServices", "build_app"]

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SlackServices:
    """The core parts the Slack adapter talks to."""

    pipeline: Pipeline
    admin: AdminService
    directory: SlackDirectory
    ledger: EventLedger
    audit: AuditStore


def _thanks(language: Language, ok: bool) -> str:
    if not ok:
        return "この回答の記録が見つかりませんでした。" if language == "ja" else "That answer's record was not found."
    return "フィードバックありがとうございます。" if language == "ja" else "Thanks for the feedback."


def build_app(settings: SlackSettings, client: AsyncWebClient, services: SlackServices, **app_kwargs: Any) -> AsyncApp:
    """An AsyncApp wired to the core. ``app_kwargs`` go to AsyncApp (e.g. ``signing_secret``)."""
    app = AsyncApp(client=client, **app_kwargs)

    async def answer(event: Mapping[str, Any], body: Mapping[str, Any], context: AsyncBoltContext) -> None:
        bot_user_id = str(context.bot_user_id)
        event = unwrap_edit(event)
        event_id = str(body.get("event_id") or f"{event.get('channel')}:{event.get('ts')}")
        channel, thread = str(event["channel"]), thread_of(event)
        writer = ThreadWriter(
            client,
            channel,
            thread,
            native=settings.streaming == "native",
            interval_s=settings.update_interval_s,
            recipient=(str(event["user"]), context.team_id),
        )
        language: Language = detect_language(str(event.get("text", "")))
        try:
            if not await services.ledger.claim("slack", event_id):
                _log.info("duplicate delivery dropped event_id=%s", event_id)
                return
            history: tuple[Turn, ...] = ()
            if event.get("thread_ts") and event.get("thread_ts") != event.get("ts"):
                replies = await client.conversations_replies(channel=channel, ts=str(event["thread_ts"]), limit=50)
                history = history_from_replies(replies.get("messages", []), bot_user_id, str(event["ts"]))
            profile = await services.directory.profile(str(event["user"]))
            inbound = to_inbound(
                event, bot_user_id, event_id=event_id, locale=profile.locale if profile else None, history=history
            )
            language = inbound.locale or language
            async for item in services.pipeline.handle(inbound):
                if isinstance(item, Decided):
                    if item.decision.visibility == "direct" and inbound.channel_id is not None:
                        writer.private_to(inbound.user)
                    await writer.start(inbound)
                else:
                    await writer.write(item)
        except SQLAlchemyError:
            _log.exception("database unavailable while answering event_id=%s", event_id)
            await writer.fail(user_message("database_unavailable", language))
        except Exception:
            _log.exception("failed to answer event_id=%s", event_id)
            await writer.fail(user_message("upstream", language))

    async def kura_answered_in(channel: str, thread_ts: str, context: AsyncBoltContext) -> bool:
        replies = await client.conversations_replies(channel=channel, ts=thread_ts, limit=50)
        messages: list[dict[str, Any]] = replies.get("messages", [])
        return any(
            m.get("user") == context.bot_user_id or (context.bot_id and m.get("bot_id") == context.bot_id)
            for m in messages
        )

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
        if is_direct(message) or (
            # A follow-up without a mention, in a thread Kura already answered (mentions arrive as
            # app_mention events and are answered there).
            message.get("thread_ts")
            and not mentions(message, str(context.bot_user_id))
            and await kura_answered_in(str(message["channel"]), str(message["thread_ts"]), context)
        ):
            await answer(event, body, context)

    @app.command("/kura")
    async def on_command(ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        profile = await services.directory.profile(str(command["user_id"]))
        language = language_of(profile.locale if profile else None) or "en"
        reply = await services.admin.handle(
            AdminCommand(
                platform="slack",
                user=str(command["user_id"]),
                args=admin_args(str(command.get("text", ""))),
                channel_id=command.get("channel_id"),
                language=language,
            )
        )
        await respond(text=reply.text, response_type="ephemeral")

    @app.action(re.compile(r"^kura_feedback_(up|down)$"))
    async def on_feedback(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        user_id = str(body["user"]["id"])
        profile = await services.directory.profile(user_id)
        language = language_of(profile.locale if profile else None) or "en"
        value = 1 if action["action_id"] == FEEDBACK_UP else -1
        ok = await services.audit.record_feedback(str(action["value"]), user_id, value)
        await respond(text=_thanks(language, ok), response_type="ephemeral", replace_original=False)

    return app
