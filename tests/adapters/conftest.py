"""Adapter fixtures: a migrated database with the sample knowledge, a real tiny model server
(Qwen2.5-0.5B on llama.cpp: a real OpenAI-compatible peer, fast enough for protocol tests), a local
fake Slack speaking the real Web API and Socket Mode protocols, and Kura's Slack runner on them."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine

from bot.adapters.slack.runner import SlackRunner
from bot.db import Database
from bot.settings import DatabaseSettings, HttpSettings, KuraSettings, LLMSettings, SlackSettings
from bot.wiring import Runtime, open_runtime, sample_knowledge
from llm.catalog import get_local_model
from llm.runtime import LocalModelServer, ensure_model_file
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


@pytest.fixture(scope="session")
async def smol_url(tmp_root: Path) -> AsyncIterator[str]:
    """Qwen2.5-0.5B served by llama.cpp over the OpenAI-compatible protocol."""
    settings = KuraSettings(data_dir=tmp_root / "smol")
    path = ensure_model_file(get_local_model(SMOL), settings.model_cache_dir)
    async with LocalModelServer(path, SMOL, threads=2, context=4096, log_file=tmp_root / "smol" / "llm.log") as srv:
        yield srv.base_url


@pytest.fixture(scope="session")
async def adapter_db_url(server_url: str) -> AsyncIterator[str]:
    """A migrated database for the adapter tests (the sample knowledge is ingested once)."""
    name = f"adapters_{uuid.uuid4().hex[:8]}"
    admin = create_async_engine(server_url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    database = Database(KuraSettings(database=DatabaseSettings(url=SecretStr(url))))
    await database.start()
    await database.upgrade()
    await database.close()
    yield url
    async with admin.connect() as conn:
        await conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    await admin.dispose()


def settings_for(tmp_root: Path, db_url: str, llm_url: str) -> KuraSettings:
    """Kura's settings for an adapter test."""
    return KuraSettings(
        data_dir=tmp_root / "adapters",
        database=DatabaseSettings(url=SecretStr(db_url)),
        llm=LLMSettings(base_url=llm_url, model=SMOL, max_tokens=48, max_retries=0, timeout_s=60),
    )


@pytest.fixture(scope="session")
async def runtime(tmp_root: Path, adapter_db_url: str, smol_url: str) -> AsyncIterator[Runtime]:
    """Kura's parts on the adapter database and the tiny model, with the sample knowledge."""
    async with open_runtime(settings_for(tmp_root, adapter_db_url, smol_url), with_model=True) as rt:
        await rt.ingestor.ingest(sample_knowledge())
        yield rt


@pytest.fixture
async def fake_slack() -> AsyncIterator[FakeSlack]:
    """A fresh fake Slack workspace."""
    async with FakeSlack(USERS, CHANNELS) as fake:
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
