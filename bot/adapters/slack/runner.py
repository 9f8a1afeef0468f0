"""Run the Slack app: Socket Mode (no inbound port; an app token) or HTTP (``POST /slack/events``
on the shared :class:`bot.http.HttpHost`, signed requests verified by Bolt; a signing secret)."""

from __future__ import annotations

import logging

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters.slack.app import build_app
from bot.adapters.slack.directory import SlackDirectory
from bot.adapters.slack.files import SlackFiles
from bot.adapters.slack.history import SlackHistory
from bot.adapters.slack.transport import SlackTransport
from bot.core.conversation import Conversation
from bot.errors import ConfigurationError, UpstreamError
from bot.http import HttpHost, RequestHandler
from bot.settings import HttpSettings, SlackSettings
from bot.wiring import Runtime

__all__ = ["SlackRunner", "attach_slack", "slack_client"]

_log = logging.getLogger(__name__)


def slack_client(settings: SlackSettings) -> AsyncWebClient:
    """A Web API client that honours 429 ``Retry-After`` and retries dropped connections."""
    if settings.bot_token is None:
        raise ConfigurationError("KURA_SLACK_BOT_TOKEN is not set")
    return AsyncWebClient(
        token=settings.bot_token.get_secret_value(),
        base_url=settings.api_url or AsyncWebClient.BASE_URL,
        retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=3), AsyncConnectionErrorRetryHandler()],
    )


def events_handler(app: AsyncApp) -> RequestHandler:
    """``POST /slack/events``: aiohttp request → Bolt (which verifies the signature) → aiohttp response."""

    async def events(request: web.Request) -> web.StreamResponse:
        response = await app.async_dispatch(await to_bolt_request(request))
        return await to_aiohttp_response(response)

    return events


async def attach_slack(rt: Runtime, settings: SlackSettings) -> tuple[AsyncWebClient, Conversation]:
    """Slack's ports (transport, directory, thread and channel history, attached files) attached to the
    runtime's core: the conversation for incoming events, and the outbox for posts (a CLI run of a job
    needs only this)."""
    client = slack_client(settings)
    try:
        auth = await client.auth_test()
    except SlackApiError as exc:
        raise ConfigurationError(f"Slack refused the bot token (auth.test: {exc.response.get('error')})") from exc
    except (SlackClientError, OSError) as exc:
        raise UpstreamError(f"Slack could not be reached at start ({type(exc).__name__})") from exc
    team = auth.get("team_id")
    directory = SlackDirectory(client, rt.directory, team_id=team, ttl_s=settings.cache_ttl_s)
    transport = SlackTransport(client, settings, team_id=team)
    history = SlackHistory(client, bot_user_id=str(auth.get("user_id")), bot_id=auth.get("bot_id"))
    return client, rt.attach(transport, directory, history, channels=history, files=SlackFiles(client))


class SlackRunner:
    """Owns the Bolt app and its transport for the life of ``kura serve``. HTTP mode mounts
    ``/slack/events`` on ``host`` (started by its owner), or on a host of its own when none is given."""

    def __init__(
        self, slack: SlackSettings, http: HttpSettings, runtime: Runtime, host: HttpHost | None = None
    ) -> None:
        if not slack.configured:
            raise ConfigurationError(
                "Slack is not configured: set KURA_SLACK_BOT_TOKEN and either KURA_SLACK_APP_TOKEN "
                "(Socket Mode) or KURA_SLACK_SIGNING_SECRET (HTTP mode)"
            )
        if runtime.chat is None:
            raise ConfigurationError("the runtime was opened without a model")
        self._slack = slack
        self._http = http
        self._runtime = runtime
        self._handler: AsyncSocketModeHandler | None = None
        self._host = host
        self._own_host: HttpHost | None = None
        self._mounted = False
        self.mode = "socket" if slack.app_token is not None else "http"

    @property
    def port(self) -> int:
        """The HTTP port ``/slack/events`` is served on (the bound one once listening)."""
        host = self._host or self._own_host
        return host.port if host is not None else self._http.port

    async def ready(self) -> bool:
        """True while Socket Mode is connected, or once ``/slack/events`` is mounted."""
        if self._handler is not None:
            return await self._handler.client.is_connected()
        return self._mounted

    async def start(self) -> None:
        """Connect (Socket Mode) or listen (HTTP)."""
        rt = self._runtime
        client, conversation = await attach_slack(rt, self._slack)
        if self._slack.app_token is not None:
            app = build_app(self._slack, client, conversation, request_verification_enabled=False)
            self._handler = AsyncSocketModeHandler(app, self._slack.app_token.get_secret_value())
            await self._handler.connect_async()  # type: ignore[no-untyped-call]
            if self._host is not None:
                self._host.add_check("slack", self.ready)
            _log.info("slack socket mode connected")
            return
        secret = self._slack.signing_secret.get_secret_value() if self._slack.signing_secret else ""
        app = build_app(self._slack, client, conversation, signing_secret=secret)
        host = self._host
        if host is None:
            host = self._own_host = HttpHost(self._http, rt.metrics)
        host.add_route("POST", "/slack/events", events_handler(app))
        host.add_check("slack", self.ready)
        self._mounted = True
        if self._own_host is not None:
            await self._own_host.start()
        _log.info("slack http mode mounted path=/slack/events port=%s", self.port)

    async def stop(self) -> None:
        """Disconnect and stop listening."""
        if self._handler is not None:
            await self._handler.close_async()  # type: ignore[no-untyped-call]
            self._handler = None
        self._mounted = False
        if self._own_host is not None:
            await self._own_host.stop()
            self._own_host = None
