"""Clients for the Bot Connector (the SDK's ``ConnectorClient``), made the way Kura needs them.

The SDK makes a connector client per turn through a *client factory*; Kura's factory adds what the
SDK's does not: replies go only to service URLs on ``KURA_TEAMS_SERVICE_URL_HOSTS`` (checked again
here, for outbound posts too, not only on inbound requests), the token comes from Kura's own
:class:`TokenSource` (``KURA_TEAMS_TOKEN_AUTHORITY``), and 429/5xx are retried honouring
``Retry-After`` (:class:`RetryPolicy` as an aiohttp middleware). Kura uses no user (OAuth) tokens.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
from microsoft_agents.hosting.core import ChannelServiceClientFactoryBase, TurnContext
from microsoft_agents.hosting.core.authorization import AuthenticationConstants, ClaimsIdentity
from microsoft_agents.hosting.core.connector import ConnectorClientBase, UserTokenClientBase
from microsoft_agents.hosting.core.connector.client import ConnectorClient, UserTokenClient

from bot.adapters.teams.auth import AuthError, check_service_url
from bot.adapters.teams.retry import RetryPolicy
from bot.adapters.teams.tokens import BOT_CONNECTOR_SCOPE, TokenSource
from bot.errors import UpstreamError
from bot.settings import TeamsSettings

__all__ = ["ClientFactory", "Connectors"]

_OAUTH_URL = AuthenticationConstants.AGENTS_SDK_OAUTH_URL.rstrip("/") + "/"
#: How long one connector request may take before it counts as failed (and is retried).
_TIMEOUT = aiohttp.ClientTimeout(total=30)


class _KeptSessionClient(ConnectorClient):
    """A connector client on a session :class:`Connectors` keeps open: the SDK closes its client at
    the end of each turn, and that must not close the connections other turns are using."""

    async def close(self) -> None:
        """Nothing to close: the session belongs to :class:`Connectors`."""


class _KeptUserTokenClient(UserTokenClient):
    """The SDK's user-token client on a session the factory keeps (closing it leaves that open)."""

    async def close(self) -> None:
        """Nothing to close: the session belongs to :class:`ClientFactory`."""


class Connectors:
    """Connector clients for allowed service URLs, with Kura's token and retries. One HTTP session
    per service URL, kept open (``close`` ends them): turns reuse its connections instead of opening
    new ones for every activity."""

    def __init__(self, settings: TeamsSettings, tokens: TokenSource, *, retry: RetryPolicy | None = None) -> None:
        self._settings = settings
        self._tokens = tokens
        self._retry = retry or RetryPolicy()
        self._sessions: dict[str, aiohttp.ClientSession] = {}

    def allowed(self, service_url: str) -> str:
        """``service_url`` when its host is allowed, else :class:`UpstreamError` (nothing is sent)."""
        try:
            return check_service_url(service_url, self._settings.service_url_hosts)
        except AuthError as exc:
            raise UpstreamError(f"the service URL is not allowed ({exc.reason})") from exc

    async def client(self, service_url: str) -> ConnectorClient:
        """A client for ``service_url`` on its kept session (closing the client leaves it open)."""
        url = self.allowed(service_url)
        base = url if url.endswith("/") else url + "/"
        token = await self._tokens.token(BOT_CONNECTOR_SCOPE)
        session = self._sessions.get(base)
        if session is None or session.closed:
            session = aiohttp.ClientSession(base_url=base, middlewares=(self._retry,), timeout=_TIMEOUT)
            self._sessions[base] = session
        # The client sets the session's Authorization header: every turn's token is the app's own.
        return _KeptSessionClient(base, token, session=session)

    async def close(self) -> None:
        """Close every kept session."""
        sessions, self._sessions = list(self._sessions.values()), {}
        for session in sessions:
            await session.close()

    @asynccontextmanager
    async def open(self, service_url: str) -> AsyncIterator[ConnectorClient]:
        """A client for the length of a ``with`` block."""
        client = await self.client(service_url)
        try:
            yield client
        finally:
            await client.close()


class ClientFactory(ChannelServiceClientFactoryBase):
    """The SDK's client factory, backed by :class:`Connectors`."""

    def __init__(self, connectors: Connectors, app_id: str) -> None:
        self._connectors = connectors
        self._app_id = app_id
        self._unused: aiohttp.ClientSession | None = None

    async def create_connector_client(
        self,
        context: TurnContext | None,
        claims_identity: ClaimsIdentity,
        service_url: str,
        audience: str,
        scopes: list[str] | None = None,
        use_anonymous: bool = False,
    ) -> ConnectorClientBase:
        """A connector client for the turn's service URL (checked; Kura's token)."""
        # The turn's user-token client holds no session of its own (see below): when this fails
        # (a refused token or service URL), nothing the SDK made for the turn is left open.
        return await self._connectors.client(service_url)

    async def create_user_token_client(
        self, context: TurnContext, claims_identity: ClaimsIdentity, use_anonymous: bool = False
    ) -> UserTokenClientBase:
        """Kura signs nobody in: a client that is never called (the SDK's turn wants one), on one
        session that no turn opens or closes."""
        if self._unused is None or self._unused.closed:
            self._unused = aiohttp.ClientSession(base_url=_OAUTH_URL)
        session: Any = self._unused
        return _KeptUserTokenClient(_OAUTH_URL, "", app_id=self._app_id, session=session)

    async def close(self) -> None:
        """Close the session of the unused user-token clients."""
        if self._unused is not None:
            await self._unused.close()
            self._unused = None
