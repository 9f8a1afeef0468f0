"""Run Kura in Teams: ``POST /api/messages`` on the shared :class:`bot.http.HttpHost`.

Every request is authenticated first (:func:`bot.adapters.teams.auth.guarded`: a bare 401 and
nothing else for a bad token). A message is acknowledged at once (202) and answered in the
background, as Teams wants an answer to the request within seconds and retries otherwise (a retry
is dropped by the core's ledger); an ``invoke`` (feedback) is answered in the request, as its
response is what Teams shows. The SDK's CloudAdapter runs each turn with Kura's client factory
(:mod:`bot.adapters.teams.connector`); its default turn-error handler, which posts the exception's
text into the chat, is replaced by one that logs.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web
from microsoft_agents.activity import Activity
from microsoft_agents.hosting.aiohttp import CloudAdapter
from microsoft_agents.hosting.core import TurnContext
from microsoft_agents.hosting.core.authorization import ClaimsIdentity
from pydantic import ValidationError

from bot.adapters.teams.app import TeamsBot
from bot.adapters.teams.auth import ACTIVITY_KEY, CLAIMS_KEY, InboundAuth, guarded
from bot.adapters.teams.connector import ClientFactory, Connectors
from bot.adapters.teams.directory import TeamsDirectory
from bot.adapters.teams.graph import GraphGroups
from bot.adapters.teams.meeting_info import MeetingInfo
from bot.adapters.teams.meetings import GraphMeetings
from bot.adapters.teams.retry import RetryPolicy
from bot.adapters.teams.tokens import TokenSource
from bot.adapters.teams.transport import TeamsTransport
from bot.chat_refs import ChatRefs
from bot.core.conversation import Conversation
from bot.errors import ConfigurationError, UpstreamError
from bot.http import HttpHost
from bot.settings import GraphSettings, TeamsSettings
from bot.wiring import Runtime

__all__ = ["TeamsParts", "TeamsRunner", "attach_teams"]

_log = logging.getLogger(__name__)
#: How long ``stop`` waits for answers being written before it cancels them.
_DRAIN_S = 10.0


async def _log_turn_error(context: TurnContext, error: Exception) -> None:
    """Log a turn's failure; never post the exception's text (the SDK's default) into the chat."""
    _log.error("teams turn failed error=%s activity_type=%s", type(error).__name__, context.activity.type)


@dataclass(frozen=True)
class TeamsParts:
    """Teams' ports, attached to a runtime's core."""

    conversation: Conversation
    transport: TeamsTransport
    directory: TeamsDirectory
    refs: ChatRefs
    connectors: Connectors


def attach_teams(
    rt: Runtime, teams: TeamsSettings, graph: GraphSettings, session: aiohttp.ClientSession, tokens: TokenSource
) -> TeamsParts:
    """Teams' ports (transport, directory, meeting transcripts with ``KURA_GRAPH_MEETINGS``; no thread
    history: the Bot Connector has none) attached to the runtime's core: the conversation for
    activities, and the outbox for posts (a command-line run of a job needs only this). ``session``
    carries Graph calls (closed by the caller; Graph's retries are its ``RetryPolicy``)."""
    connectors = Connectors(teams, tokens)
    refs = ChatRefs(rt.database.sessions)
    groups = GraphGroups(session, tokens, graph.base_url, ttl_s=graph.groups_ttl_s) if graph.groups else None
    directory = TeamsDirectory(
        connectors,
        rt.directory,
        refs,
        tenant_id=teams.tenant_id,
        ttl_s=teams.cache_ttl_s,
        graph=groups,
        group_names=graph.group_names,
    )
    transport = TeamsTransport(
        connectors,
        refs,
        directory,
        bot_id=f"28:{teams.app_id}",
        tenant_id=teams.tenant_id,
        interval_s=teams.stream_interval_s,
    )
    meetings = GraphMeetings(session, tokens, graph.base_url) if graph.meetings else None
    conversation = rt.attach(transport, directory, None, meetings=meetings)
    return TeamsParts(conversation, transport, directory, refs, connectors)


class TeamsRunner:
    """Owns the Teams adapter for the life of ``kura serve``: routes on ``host``, background answers."""

    def __init__(
        self,
        teams: TeamsSettings,
        graph: GraphSettings,
        runtime: Runtime,
        host: HttpHost,
        *,
        http_client: Any = None,
    ) -> None:
        if not teams.configured or teams.app_id is None:
            raise ConfigurationError(
                "Teams is not configured: set KURA_TEAMS_APP_ID, KURA_TEAMS_APP_PASSWORD (or KURA_TEAMS_CERT_FILE) "
                "and KURA_TEAMS_TENANT_ID; see README 'Connect to Teams'"
            )
        if runtime.chat is None:
            raise ConfigurationError("the runtime was opened without a model")
        self._teams = teams
        self._graph = graph
        self._runtime = runtime
        self._host = host
        self._http_client = http_client
        self._session: aiohttp.ClientSession | None = None
        self._adapter: CloudAdapter | None = None
        self._bot: TeamsBot | None = None
        self._auth: InboundAuth | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._connectors: Connectors | None = None
        self._factory: ClientFactory | None = None
        self.conversation: Conversation | None = None
        self.tokens = TokenSource(teams, http_client=http_client)  # fails now on a missing tenant

    async def ready(self) -> bool:
        """True once ``/api/messages`` is mounted and Kura can get its own token (without one it can
        take messages but answer none: an expired secret shows in ``/readyz``, not only in logs)."""
        if self._bot is None:
            return False
        try:
            await self.tokens.token()
        except (UpstreamError, ConfigurationError) as exc:
            _log.warning("teams not ready: %s", exc)
            return False
        return True

    async def start(self) -> None:
        """Attach Teams' ports to the core and mount ``/api/messages``."""
        teams = self._teams
        self._session = aiohttp.ClientSession(middlewares=(RetryPolicy(),), timeout=aiohttp.ClientTimeout(total=30))
        self._auth = InboundAuth.from_settings(teams, self._session)
        parts = attach_teams(self._runtime, teams, self._graph, self._session, self.tokens)
        self._connectors = parts.connectors
        self.conversation = parts.conversation
        self._factory = ClientFactory(parts.connectors, teams.app_id or "")
        self._adapter = CloudAdapter(channel_service_client_factory=self._factory)
        self._adapter.on_turn_error = _log_turn_error
        self._bot = TeamsBot(
            parts.conversation,
            parts.transport,
            parts.directory,
            parts.refs,
            tenant_id=teams.tenant_id,
            meeting_info=MeetingInfo(parts.connectors) if self._graph.meetings else None,
        )
        self._host.add_route("POST", "/api/messages", guarded(self._auth, self._messages))
        self._host.add_check("teams", self.ready)
        _log.info("teams mounted path=/api/messages")

    async def _messages(self, request: web.Request) -> web.StreamResponse:
        """An authenticated activity: invokes answered now, everything else acknowledged and queued."""
        raw = request[ACTIVITY_KEY]
        claims = request[CLAIMS_KEY]
        try:
            activity = Activity.model_validate(raw)
        except ValidationError:
            return web.json_response({"error": "malformed activity"}, status=400)
        if not activity.type or activity.conversation is None or not activity.conversation.id:
            return web.json_response({"error": "an activity needs a type and a conversation"}, status=400)
        if self._adapter is None or self._bot is None:
            return web.Response(status=503)
        identity = ClaimsIdentity(dict(claims), authentication_type="Bearer")
        bot, adapter = self._bot, self._adapter

        async def turn(context: TurnContext) -> None:
            await bot.on_turn(context, raw)

        if activity.type == "invoke":
            response = await adapter.process_activity(identity, activity, turn)
            status = response.status if response is not None and response.status else 200
            body = response.body if response is not None else None
            return web.json_response(body or {}, status=status)
        task = asyncio.create_task(self._run(adapter, identity, activity, turn))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return web.Response(status=202)

    @staticmethod
    async def _run(adapter: CloudAdapter, identity: ClaimsIdentity, activity: Activity, turn: Any) -> None:
        try:
            await adapter.process_activity(identity, activity, turn)
        except Exception as exc:  # a turn that could not even start (no token, service URL refused)
            _log.error("teams activity not handled error=%s detail=%s", type(exc).__name__, exc)

    async def stop(self) -> None:
        """Let answers being written finish (for a while), then close the connections."""
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=_DRAIN_S)
            for task in pending:
                task.cancel()
        self._bot = None
        if self._connectors is not None:
            await self._connectors.close()
            self._connectors = None
        if self._factory is not None:
            await self._factory.close()
            self._factory = None
        if self._session is not None:
            await self._session.close()
            self._session = None
