"""Run the Slack app: Socket Mode (no inbound port; an app token) or HTTP (``/slack/events``,
signed requests verified by Bolt; a signing secret)."""

from __future__ import annotations

import logging

from aiohttp import web
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters.slack.app import SlackServices, build_app
from bot.adapters.slack.directory import SlackDirectory
from bot.errors import ConfigurationError
from bot.ledger import EventLedger
from bot.settings import HttpSettings, SlackSettings
from bot.wiring import Runtime

__all__ = ["SlackRunner", "slack_client"]

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


class SlackRunner:
    """Owns the Bolt app and its transport for the life of ``kura serve``."""

    def __init__(self, slack: SlackSettings, http: HttpSettings, runtime: Runtime) -> None:
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
        self._site_runner: web.AppRunner | None = None
        self.mode = "socket" if slack.app_token is not None else "http"
        self.port = http.port

    async def start(self) -> None:
        """Connect (Socket Mode) or listen (HTTP)."""
        rt = self._runtime
        client = slack_client(self._slack)
        auth = await client.auth_test()
        directory = SlackDirectory(client, rt.directory, team_id=auth.get("team_id"), ttl_s=self._slack.cache_ttl_s)
        pipeline = rt.make_pipeline(directory)
        admin = rt.make_admin(directory, pipeline)
        services = SlackServices(pipeline, admin, directory, EventLedger(rt.database.sessions), rt.audit)
        if self._slack.app_token is not None:
            app = build_app(self._slack, client, services, request_verification_enabled=False)
            self._handler = AsyncSocketModeHandler(app, self._slack.app_token.get_secret_value())
            await self._handler.connect_async()  # type: ignore[no-untyped-call]
            _log.info("slack socket mode connected team=%s", auth.get("team_id"))
            return
        secret = self._slack.signing_secret.get_secret_value() if self._slack.signing_secret else ""
        app = build_app(self._slack, client, services, signing_secret=secret)
        self._site_runner = web.AppRunner(app.web_app(path="/slack/events"))
        await self._site_runner.setup()
        site = web.TCPSite(self._site_runner, self._http.host, self._http.port)
        await site.start()
        sockets = getattr(site._server, "sockets", None) or []  # the bound port when 0 was asked
        if sockets:
            self.port = int(sockets[0].getsockname()[1])
        _log.info("slack http mode listening host=%s port=%s path=/slack/events", self._http.host, self.port)

    async def stop(self) -> None:
        """Disconnect and stop listening."""
        if self._handler is not None:
            await self._handler.close_async()  # type: ignore[no-untyped-call]
            self._handler = None
        if self._site_runner is not None:
            await self._site_runner.cleanup()
            self._site_runner = None
