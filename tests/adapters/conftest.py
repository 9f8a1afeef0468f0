"""Adapter fixtures: a migrated database with the sample knowledge, a real tiny model server
(Qwen2.5-0.5B on llama.cpp: a real OpenAI-compatible peer, fast enough for protocol tests), a local
fake Slack speaking the real Web API and Socket Mode protocols, and Kura's Slack runner on them."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine

from bot.adapters.slack.runner import SlackRunner
from bot.db import Database
from bot.settings import DatabaseSettings, HttpSettings, KuraSettings, LLMSettings, PolicySettings, SlackSettings
from bot.wiring import Runtime, default_policy_file, open_runtime, sample_knowledge
from llm.catalog import get_local_model
from llm.runtime import LocalModelServer, ensure_model_file
from tests.adapters.faq_support import OWNER, hr_draft
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.slack import FakeSlack, SlackUser

SMOL = "qwen2.5-0.5b-instruct-q4_k_m"
SIGNING_SECRET = "test-signing-secret"  # noqa: S105 - a test value

USERS = [
    SlackUser("U_ALICE", "alice@example.co.jp", "ja-JP", name="alice"),
    SlackUser("U_BOB", "bob@example.co.jp", "ja-JP", name="bob"),
    SlackUser("U_CAROL", "carol@example.co.jp", "en-US", name="carol"),
    SlackUser("U_DAVE", "dave@example.co.jp", "en-US", name="dave"),
    SlackUser("U_GUEST", "guest@partner.example.com", "en-US", team_id="T_PARTNER", name="guest"),
    SlackUser("U_NOMAIL", None, "en-US", name="nomail"),
    SlackUser("U_KURA", None, "en-US", is_bot=True, name="kura"),
]
CHANNELS = {
    "C_GENERAL": ["U_ALICE", "U_BOB", "U_CAROL", "U_DAVE", "U_KURA"],
    "C_HR": ["U_CAROL", "U_KURA"],
    "C_SHARED": ["U_CAROL", "U_GUEST", "U_KURA"],
    "D_ALICE": ["U_ALICE", "U_KURA"],
    "D_CAROL": ["U_CAROL", "U_KURA"],
    "D_NOMAIL": ["U_NOMAIL", "U_KURA"],
}
#: What conversations.info says of them: the rest are public (D_… are DMs).
PRIVATE = ("C_HR", "C_SHARED")
SHARED = ("C_SHARED",)


@pytest.fixture(scope="session")
async def smol_url(tmp_root: Path) -> AsyncIterator[str]:
    """Qwen2.5-0.5B served by llama.cpp over the OpenAI-compatible protocol."""
    settings = KuraSettings(data_dir=tmp_root / "smol")
    path = ensure_model_file(get_local_model(SMOL), settings.model_cache_dir)
    async with LocalModelServer(path, SMOL, threads=2, context=4096, log_file=tmp_root / "smol" / "llm.log") as srv:
        yield srv.base_url


def public_only(source: str) -> bool:
    """A sample document readable with no rights (public/, the public announcements, or a public
    folder another test ingested), never hr/, managers/, it/ or the internal handbook."""
    internal = ("hr/", "managers/", "it/", "handbook/")
    return not source.startswith(internal) or source.startswith("handbook/announcements")


@asynccontextmanager
async def fresh_database(server_url: str, prefix: str) -> AsyncIterator[str]:
    """A new migrated database on the session's server for the block, dropped after it."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = create_async_engine(server_url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    database = Database(KuraSettings(database=DatabaseSettings(url=SecretStr(url))))
    await database.start()
    await database.upgrade()
    await database.close()
    try:
        yield url
    finally:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        await admin.dispose()


@pytest.fixture(scope="session")
async def adapter_db_url(server_url: str) -> AsyncIterator[str]:
    """A migrated database for the adapter tests (the sample knowledge is ingested once)."""
    async with fresh_database(server_url, "adapters") as url:
        yield url


SHIPPED_RATE = "    requests_per_minute: 20\n"


def adapter_policy_text() -> str:
    """The shipped policy with its per-minute limit lifted. The adapter tests share one runtime
    and a few people ask everything, so on a fast machine the tests themselves would pass 20
    requests a minute and get refusals they never asked for (rate limits have their own tests)."""
    shipped = default_policy_file().read_text(encoding="utf-8")
    assert SHIPPED_RATE in shipped, "the shipped rate limit moved: update SHIPPED_RATE"
    return shipped.replace(SHIPPED_RATE, "    requests_per_minute: 100000\n")


def settings_for(tmp_root: Path, db_url: str, llm_url: str, *, policy_file: Path | None = None) -> KuraSettings:
    """Kura's settings for an adapter test (the shipped policy, rate limit lifted, unless
    ``policy_file`` is given)."""
    if policy_file is None:
        policy_file = tmp_root / "adapter-policy.yaml"
        policy_file.write_text(adapter_policy_text(), encoding="utf-8")
    return KuraSettings(
        data_dir=tmp_root / "adapters",
        database=DatabaseSettings(url=SecretStr(db_url)),
        llm=LLMSettings(base_url=llm_url, model=SMOL, max_tokens=48, max_retries=0, timeout_s=60),
        policy=PolicySettings(file=policy_file),
    )


class DatabaseLink:
    """A loopback TCP path to the session's PostgreSQL that a test can cut and restore: an outage
    for one runtime (connections refused, open ones reset) without touching the shared server."""

    def __init__(self, target_url: str) -> None:
        self._target = make_url(target_url)
        host = self._target.query.get("host")
        # The embedded server listens on a Unix socket only: its socket file, found once.
        self._socket = (
            next(p for p in Path(host).glob(".s.PGSQL.*") if p.suffix != ".lock")
            if isinstance(host, str) and host.startswith("/")
            else None
        )
        self._server: asyncio.Server | None = None
        self._port = 0
        self._open: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        """The target database's URL through this link."""
        url = self._target.set(host="127.0.0.1", port=self._port, query={"sslmode": "disable"})
        return url.render_as_string(hide_password=False)

    async def up(self) -> None:
        """Accept connections (on the same port as before, once it was bound)."""
        self._server = await asyncio.start_server(self._pipe, "127.0.0.1", self._port)
        self._port = int(self._server.sockets[0].getsockname()[1])

    async def down(self) -> None:
        """Refuse new connections and reset the open ones."""
        if self._server is not None:
            self._server.close()
        for writer in list(self._open):
            writer.transport.abort()
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def _connect_target(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._socket is not None:
            return await asyncio.open_unix_connection(self._socket)
        return await asyncio.open_connection(self._target.host, self._target.port or 5432)

    async def _pipe(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            server_reader, server_writer = await self._connect_target()
        except OSError:
            client_writer.transport.abort()
            return
        pair = {client_writer, server_writer}
        self._open |= pair
        try:
            await asyncio.gather(self._copy(client_reader, server_writer), self._copy(server_reader, client_writer))
        finally:
            self._open -= pair

    @staticmethod
    async def _copy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except OSError:
            pass
        finally:
            writer.transport.abort()


@pytest.fixture
async def db_link(adapter_db_url: str) -> AsyncIterator[DatabaseLink]:
    """A link to the adapter database, up."""
    link = DatabaseLink(adapter_db_url)
    await link.up()
    yield link
    await link.down()


@pytest.fixture(scope="session")
async def runtime(tmp_root: Path, adapter_db_url: str, smol_url: str) -> AsyncIterator[Runtime]:
    """Kura's parts on the adapter database and the tiny model, with the sample knowledge."""
    async with open_runtime(settings_for(tmp_root, adapter_db_url, smol_url), with_model=True) as rt:
        await rt.ingestor.ingest(sample_knowledge())
        yield rt


def slash_command(fake: FakeSlack, user: str, words: str, channel: str = "C_GENERAL") -> dict[str, Any]:
    """The Socket Mode payload of ``/kura words`` typed by ``user`` in ``channel``."""
    return {
        "token": "x",
        "team_id": "T_KURA",
        "channel_id": channel,
        "user_id": user,
        "command": "/kura",
        "text": words,
        "response_url": fake.response_url(),
        "trigger_id": uuid.uuid4().hex,
        "api_app_id": "A_KURA",
    }


@pytest.fixture
async def fake_slack() -> AsyncIterator[FakeSlack]:
    """A fresh fake Slack workspace."""
    async with FakeSlack(USERS, CHANNELS, private=PRIVATE, shared=SHARED) as fake:
        yield fake


def slack_settings(fake: FakeSlack, *, socket: bool = True, streaming: str = "update") -> SlackSettings:
    """Settings pointing Kura's Slack client at the fake."""
    return SlackSettings(
        bot_token=SecretStr("xoxb-test"),
        app_token=SecretStr("xapp-test") if socket else None,
        signing_secret=SecretStr(SIGNING_SECRET),
        api_url=fake.api_url,
        streaming=streaming,
        update_interval_s=0.2,
    )


@asynccontextmanager
async def serving(fake: FakeSlack, runtime: Runtime) -> AsyncIterator[SlackRunner]:
    """Kura's Slack runner in Socket Mode on ``runtime``, connected to the fake for the block's life."""
    runner = SlackRunner(slack_settings(fake), HttpSettings(port=0), runtime)
    await runner.start()
    try:
        await fake.wait_connected()
        yield runner
    finally:
        await runner.stop()


@pytest.fixture
async def socket_kura(fake_slack: FakeSlack, runtime: Runtime) -> AsyncIterator[SlackRunner]:
    """Kura's Slack runner in Socket Mode, connected to the fake."""
    runner = SlackRunner(slack_settings(fake_slack), HttpSettings(port=0), runtime)
    await runner.start()
    await fake_slack.wait_connected()
    yield runner
    await runner.stop()


@pytest.fixture
async def http_kura(fake_slack: FakeSlack, runtime: Runtime) -> AsyncIterator[SlackRunner]:
    """Kura's Slack runner in HTTP mode on a free loopback port."""
    runner = SlackRunner(slack_settings(fake_slack, socket=False), HttpSettings(host="127.0.0.1", port=0), runtime)
    await runner.start()
    yield runner
    await runner.stop()


@pytest.fixture(scope="module")
async def fake_model(request: pytest.FixtureRequest) -> AsyncIterator[FakeOpenAI]:
    """A fake model for a whole test module, answering with the module's ``model_answer(body)``
    (each test clears ``requests`` itself when it counts them)."""
    answer = request.module.model_answer
    async with FakeOpenAI(answer, counts=(100, 20)) as fake:
        yield fake


@pytest.fixture(scope="module")
async def fake_model_runtime(tmp_root: Path, adapter_db_url: str, fake_model: FakeOpenAI) -> AsyncIterator[Runtime]:
    """Kura's parts on the adapter database with the module's fake model (minutes in chat included)."""
    async with open_runtime(settings_for(tmp_root, adapter_db_url, fake_model.url), with_model=True) as runtime:
        yield runtime


# The FAQ review modules' runtime and entry (tests/adapters/faq_support.py holds the entry's making).
@pytest.fixture(scope="module")
async def rt(fake_model_runtime: Runtime) -> Runtime:
    """Kura's parts with the sample knowledge (ingested once: unchanged files cost nothing)."""
    await fake_model_runtime.ingestor.ingest(sample_knowledge())
    return fake_model_runtime


@pytest.fixture
async def entry(rt: Runtime) -> AsyncIterator[int]:
    """A drafted entry citing an HR document, rejected afterwards."""
    async with hr_draft(rt, OWNER) as entry_id:
        yield entry_id
