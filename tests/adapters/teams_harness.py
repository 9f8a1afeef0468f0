"""Kura's Teams adapter on a local tenant: the fake Bot Connector (tests/fakes/bot_connector.py), a
fake Bot Framework signing inbound tokens (tests/fakes/entra.py, HTTP), a fake Entra issuing Kura's
own tokens over TLS (msal requires HTTPS), and ``TeamsRunner`` on an HttpHost on a free port."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
import requests

from bot.adapters.teams.runner import TeamsRunner
from bot.http import HttpHost
from bot.settings import GraphSettings, HttpSettings, TeamsSettings
from bot.wiring import Runtime
from tests.fakes import tls
from tests.fakes.bot_connector import FakeBotConnector
from tests.fakes.bot_connector_wire import JSON, Conversation, TeamsUser
from tests.fakes.entra import APP_ID, BOT_FRAMEWORK_ISSUER, TENANT_ID, FakeEntra
from tests.fakes.graph import FakeGraph

SECRET = "teams-app-secret"  # noqa: S105 - a test value
OTHER_TENANT = "00000000-0000-0000-0000-0000000000ff"


def _guid(n: int) -> str:
    return f"00000000-0000-0000-0000-{n:012d}"


ALICE = TeamsUser("29:alice", _guid(1), "Alice Sato", "alice@example.co.jp")
BOB = TeamsUser("29:bob", _guid(2), "Bob Tanaka", "bob@example.co.jp")
CAROL = TeamsUser("29:carol", _guid(3), "Carol Suzuki", "carol@example.co.jp")
DAVE = TeamsUser("29:dave", _guid(4), "Dave Yamada", "dave@example.co.jp")
#: A B2B guest whose email the directory knows as HR: a guest has no rights whatever.
GUEST = TeamsUser("29:guest", _guid(5), "Guest", "carol@example.co.jp", role="guest")
#: Someone from another organisation (a shared channel).
OUTSIDER = TeamsUser("29:outsider", _guid(6), "Outsider", "dave@example.co.jp", tenant_id=OTHER_TENANT)
USERS = [ALICE, BOB, CAROL, DAVE, GUEST, OUTSIDER]

GENERAL = Conversation("19:general@thread.tacv2", "channel", None, team_id="team-1")
HR_PRIVATE = Conversation("19:hr@thread.tacv2", "channel", ("29:carol",), team_id="team-1")
GUESTS = Conversation("19:guests@thread.tacv2", "channel", ("29:carol", "29:guest"), team_id="team-1")
SHARED = Conversation("19:shared@thread.tacv2", "channel", ("29:carol", "29:outsider"), team_id="team-1")
GROUP = Conversation("19:group@thread.v2", "groupChat", ("29:alice", "29:carol"))
CHATS = {user.id: Conversation(f"a:1:{user.id[3:]}", "personal", (user.id,)) for user in USERS}
CONVERSATIONS = [GENERAL, HR_PRIVATE, GUESTS, SHARED, GROUP, *CHATS.values()]
TEAMS = {"team-1": [ALICE.id, BOB.id, CAROL.id, DAVE.id]}


@dataclass
class Tenant:
    """The fakes of one test and Kura's runner on them."""

    connector: FakeBotConnector
    bot_framework: FakeEntra
    entra: FakeEntra
    runner: TeamsRunner
    url: str

    async def post(self, activity: JSON, *, token: str | None = None) -> aiohttp.ClientResponse:
        """Deliver an activity as the Bot Framework does (a bearer token for the connector's URL)."""
        bearer = token if token is not None else self.bot_framework.token(service_url=activity["serviceUrl"])
        async with aiohttp.ClientSession() as session:
            response = await session.post(self.url, json=activity, headers={"Authorization": f"Bearer {bearer}"})
            await response.read()
            return response

    async def answered(self, operation: str, count: int = 1) -> None:
        """Wait until Kura made ``count`` calls of ``operation`` and its turns are done."""
        await self.connector.wait_for(operation, count, timeout=180)
        await self.idle()

    async def idle(self) -> None:
        """Wait for the answers being written in the background."""
        tasks = set(self.runner._tasks)
        if tasks:
            await asyncio.wait(tasks, timeout=180)


def teams_settings(bot_framework: FakeEntra, entra: FakeEntra, **values: Any) -> TeamsSettings:
    return TeamsSettings.model_validate(
        {
            "app_id": APP_ID,
            "app_password": SECRET,
            "tenant_id": TENANT_ID,
            "openid_metadata_url": bot_framework.metadata_url,
            "issuers": [BOT_FRAMEWORK_ISSUER],
            "token_authority": entra.origin,
            "service_url_hosts": ["127.0.0.1"],
            "stream_interval_s": 0.2,
        }
        | values
    )


def trusting_session() -> requests.Session:
    """What msal talks through in tests: trusts the test CA only."""
    session = requests.Session()
    session.trust_env = False
    session.verify = str(tls.ca_file())
    return session


@asynccontextmanager
async def tenant(
    runtime: Runtime,
    *,
    graph: FakeGraph | None = None,
    group_names: dict[str, str] | None = None,
) -> AsyncIterator[Tenant]:
    """Kura serving Teams on ``runtime`` against fresh fakes, for the block's life; with ``graph``
    (started by the caller), people's Entra groups come from it."""
    fake = FakeBotConnector(USERS, CONVERSATIONS, teams=TEAMS)
    async with FakeEntra() as bot_framework, FakeEntra(clients={APP_ID: SECRET}, tls=True) as entra:
        fake.token_check = entra.issued_token_check
        graph_settings = GraphSettings()
        if graph is not None:
            graph.token_check = entra.issued_token_check
            graph_settings = GraphSettings(base_url=graph.base_url, groups=True, group_names=group_names or {})
        async with fake:
            host = HttpHost(HttpSettings(port=0), runtime.metrics)
            settings = teams_settings(bot_framework, entra)
            http = trusting_session()
            runner = TeamsRunner(settings, graph_settings, runtime, host, http_client=http)
            await runner.start()
            await host.start()
            try:
                yield Tenant(fake, bot_framework, entra, runner, f"http://127.0.0.1:{host.port}/api/messages")
            finally:
                await host.stop()
                await runner.stop()
                http.close()
