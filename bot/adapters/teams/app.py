"""Teams activities, translated and handed to the core's conversation (the SDK calls
:meth:`TeamsBot.on_turn` for each one, with its TurnContext).

- a message Kura is addressed in (a 1:1 chat, or an @mention in a channel or group chat) is a
  question, or an admin command (``admin status``, or a title picked from the app's command menu),
  whose reply goes to the admin alone (their 1:1 chat with Kura);
- 👍/👎 from Teams' feedback loop is stored against the answer's audit record;
- a button on an FAQ review card (approve / edit with the card's edit box / reject) is the reviewer's
  review, answered with its outcome;
- Kura being added to a team or chat saves the conversation reference, so jobs can post there;
- minutes asked for in an online meeting's chat are of that meeting: its Teams id is resolved to
  the Graph meeting (:mod:`bot.adapters.teams.meeting_info`) only then, so questions cost no call.

Everything else (dedupe, history, language, visibility, failures) is the core's.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from microsoft_agents.activity import Activity, InvokeResponse
from microsoft_agents.hosting.core import TurnContext

from bot.adapters.teams.directory import TeamsDirectory
from bot.adapters.teams.meeting_info import MeetingInfo
from bot.adapters.teams.package import COMMANDS
from bot.adapters.teams.render import text_activity
from bot.adapters.teams.stream import send_direct
from bot.adapters.teams.translate import (
    admin_args,
    conversation_kind,
    faq_click_of,
    feedback_of,
    installed,
    is_addressed,
    is_faq_click,
    language_of,
    meeting_of,
    strip_mention,
    to_inbound,
)
from bot.adapters.teams.transport import TeamsTransport
from bot.chat_refs import ChatRefs, ConversationRef
from bot.core.conversation import Conversation
from bot.core.intent import asks_for_minutes
from bot.core.messages import say
from bot.core.types import InboundMessage
from bot.errors import UpstreamError

__all__ = ["TeamsBot"]

_log = logging.getLogger(__name__)
_MENU = frozenset(title for title, _ in COMMANDS)
_INVOKE_OK = Activity(type="invokeResponse", value=InvokeResponse(status=200, body={}))


def reference_of(activity: Mapping[str, Any]) -> ConversationRef | None:
    """Where the activity's conversation is reached (a channel's thread suffix dropped)."""
    conversation = activity.get("conversation") or {}
    kind = conversation_kind(activity)
    service_url = activity.get("serviceUrl")
    if kind is None or not isinstance(service_url, str) or not conversation.get("id"):
        return None
    data = activity.get("channelData") or {}
    team = (data.get("team") or {}).get("id") if isinstance(data, Mapping) else None
    tenant = conversation.get("tenantId") or (
        (data.get("tenant") or {}).get("id") if isinstance(data, Mapping) else None
    )
    return ConversationRef("teams", str(conversation["id"]).split(";", 1)[0], service_url, kind, tenant, team)


class TeamsBot:
    """The SDK's agent: one turn per activity."""

    def __init__(
        self,
        conversation: Conversation,
        transport: TeamsTransport,
        directory: TeamsDirectory,
        refs: ChatRefs,
        *,
        tenant_id: str | None,
        meeting_info: MeetingInfo | None = None,
    ) -> None:
        self._conversation = conversation
        self._transport = transport
        self._directory = directory
        self._refs = refs
        self._tenant = tenant_id
        self._meeting_info = meeting_info
        self._known: set[str] = set()

    async def on_turn(self, context: TurnContext, raw: Mapping[str, Any]) -> None:
        """Handle one activity (``raw`` is its JSON as it arrived, already authenticated)."""
        bot_id = str((raw.get("recipient") or {}).get("id") or "")
        if installed(raw, bot_id):
            await self._remember(raw, force=True)
            # What an installer sees first: how to ask, in the language of their Teams client.
            await context.send_activity(text_activity(say("welcome", language_of(raw.get("locale")) or "ja")))
            return
        feedback = feedback_of(raw)
        if feedback is not None:
            await self._feedback(context, raw, *feedback)
            return
        if raw.get("type") == "invoke":
            # Nothing else is invoked on Kura; an unreadable feedback click is acknowledged all the
            # same, so Teams shows no error to the person (it was logged as nothing to store).
            _log.info("teams invoke not handled name=%s", str(raw.get("name"))[:60])
            await context.send_activity(_INVOKE_OK)
            return
        if is_faq_click(raw):
            await self._faq_click(context, raw)
            return
        if not is_addressed(raw, bot_id):
            return
        inbound = to_inbound(raw, bot_id)
        self._directory.seen(raw, inbound.channel_id)
        await self._remember(raw)
        args = admin_args(strip_mention(raw, bot_id), _MENU)
        if args is not None:
            reply = await self._conversation.command(inbound.user, args, inbound.channel_id)
            await self._to_asker(context, text_activity(reply.text))
            return
        inbound = await self._with_meeting(raw, inbound)
        with self._transport.turn(inbound.event_id or "", context):
            await self._conversation.handle(inbound)

    async def _with_meeting(self, raw: Mapping[str, Any], inbound: InboundMessage) -> InboundMessage:
        """Name the meeting whose chat asks for minutes, as the ``Meetings`` port takes it (one
        connector call, only for minutes and with meetings configured); without it the core answers
        as anywhere else, so a failed lookup is only logged."""
        meeting = meeting_of(raw)
        if self._meeting_info is None or meeting is None or not asks_for_minutes(inbound.text):
            return inbound
        try:
            found = await self._meeting_info.graph_meeting(str(raw.get("serviceUrl") or ""), meeting)
        except UpstreamError as exc:
            _log.warning("teams meeting info failed error=%s", exc)
            return inbound
        return replace(inbound, meeting=found)

    async def _remember(self, raw: Mapping[str, Any], *, force: bool = False) -> None:
        """Save the conversation's reference (once per process, or again on install)."""
        ref = reference_of(raw)
        if ref is None or (ref.conversation_id in self._known and not force):
            return
        await self._refs.remember(ref)
        self._known.add(ref.conversation_id)
        if force:
            _log.info("teams: installed in a %s conversation", ref.kind)

    async def _feedback(self, context: TurnContext, raw: Mapping[str, Any], message_id: str, value: int) -> None:
        """Store 👍/👎 against the audit record of the answer the message carries."""
        user = str((raw.get("from") or {}).get("id") or "")
        conversation = str((raw.get("conversation") or {}).get("id") or "").split(";", 1)[0]
        audit_id = await self._refs.audit_id_of("teams", conversation, message_id)
        if audit_id is None:
            _log.info("teams feedback on a message with no answer record")
        else:
            self._directory.seen(raw, None)
            await self._conversation.feedback(user, audit_id, value)
        await context.send_activity(_INVOKE_OK)

    async def _faq_click(self, context: TurnContext, raw: Mapping[str, Any]) -> None:
        """A reviewer's button on an FAQ review card: the review, and its outcome to them alone."""
        click = faq_click_of(raw)
        if click is None:
            _log.info("teams faq click not understood")
            return
        self._directory.seen(raw, None)
        line = await self._conversation.faq_review(click.user, click.entry_id, click.verdict, click.answer)
        await self._to_asker(context, text_activity(line))

    async def _to_asker(self, context: TurnContext, activity: Activity) -> None:
        """A reply for the sender alone: in place in a 1:1 chat, else in their 1:1 chat with Kura."""
        inbound = context.activity
        if inbound.conversation is not None and inbound.conversation.conversation_type == "personal":
            await context.send_activity(activity)
            return
        await send_direct(context, activity, self._tenant)
