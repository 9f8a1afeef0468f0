"""``kura serve`` with Teams configured: only Teams, and Teams and Slack at once on one process and
one HTTP host (the model a fake OpenAI-compatible server; Teams' side the fake Bot Connector, a
fake Bot Framework signing inbound tokens and a fake Entra issuing Kura's over TLS, trusted through
``REQUESTS_CA_BUNDLE`` as an operator with a private CA would)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path

import aiohttp
import pytest

from bot.db import Database
from tests.adapters.teams_harness import CHATS, CONVERSATIONS, DAVE, GENERAL, SECRET, TEAMS, USERS
from tests.adapters.test_slack import _mention
from tests.e2e.conftest import _env, run_kura
from tests.e2e.test_schedule_serve import _free_port, _serve, _until_in
from tests.fakes import teams_activities as activities
from tests.fakes import tls
from tests.fakes.bot_connector import FakeBotConnector
from tests.fakes.entra import APP_ID, BOT_FRAMEWORK_ISSUER, TENANT_ID, FakeEntra
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.slack import FakeSlack, SlackUser

pytestmark = pytest.mark.e2e


class _World:
    def __init__(self, connector: FakeBotConnector, bot_framework: FakeEntra, env: dict[str, str]) -> None:
        self.connector = connector
        self.bot_framework = bot_framework
        self.env = env


async def _world(stack: AsyncExitStack, db: Database, tmp_path: Path) -> _World:
    connector = await stack.enter_async_context(FakeBotConnector(USERS, CONVERSATIONS, teams=TEAMS))
    bot_framework = await stack.enter_async_context(FakeEntra())
    entra = await stack.enter_async_context(FakeEntra(clients={APP_ID: SECRET}, tls=True))
    connector.token_check = entra.issued_token_check
    model = await stack.enter_async_context(FakeOpenAI("社内規程をご確認ください。"))
    env = _env(
        tmp_path / "data",
        KURA_DATABASE_URL=db.engine.url.render_as_string(hide_password=False),
        KURA_LLM_BASE_URL=model.url,
        KURA_HTTP_PORT=str(_free_port()),
        KURA_SCHEDULER_ENABLED="false",
        KURA_TEAMS_APP_ID=APP_ID,
        KURA_TEAMS_APP_PASSWORD=SECRET,
        KURA_TEAMS_TENANT_ID=TENANT_ID,
        KURA_TEAMS_OPENID_METADATA_URL=bot_framework.metadata_url,
        KURA_TEAMS_ISSUERS=f'["{BOT_FRAMEWORK_ISSUER}"]',
        KURA_TEAMS_TOKEN_AUTHORITY=entra.origin,
        KURA_TEAMS_SERVICE_URL_HOSTS='["127.0.0.1"]',
        REQUESTS_CA_BUNDLE=str(tls.ca_file()),
        PYTHONUNBUFFERED="1",
    )
    return _World(connector, bot_framework, env)


async def _post(world: _World, activity: dict[str, object]) -> int:
    token = world.bot_framework.token(service_url=str(activity["serviceUrl"]))
    url = f"http://127.0.0.1:{world.env['KURA_HTTP_PORT']}/api/messages"
    async with aiohttp.ClientSession() as session:
        response = await session.post(url, json=activity, headers={"Authorization": f"Bearer {token}"})
        return response.status


async def _ready(world: _World) -> dict[str, object]:
    url = f"http://127.0.0.1:{world.env['KURA_HTTP_PORT']}/readyz"
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        body: dict[str, object] = await response.json()
        return body


@pytest.fixture
async def stack() -> AsyncIterator[AsyncExitStack]:
    async with AsyncExitStack() as exits:
        yield exits


async def test_serve_with_only_teams_answers_in_teams(db: Database, tmp_path: Path, stack: AsyncExitStack) -> None:
    world = await _world(stack, db, tmp_path)
    log = tmp_path / "serve.log"
    process = await stack.enter_async_context(_serve(world.env, log))
    await _until_in(log, "teams: listening on /api/messages", process)
    assert await _ready(world) == {"ready": True}
    question = activities.message(CHATS[DAVE.id], DAVE, "経費精算の締め日は？", world.connector.service_url)
    assert await _post(world, question) == 202
    calls = await world.connector.wait_for("reply", 2, timeout=120)
    assert calls[0].body["type"] == "typing"  # the informative update: streaming in a 1:1 chat
    await asyncio.sleep(1)
    stream = next(iter(world.connector.streams.values()))
    assert stream.finished


async def test_serve_with_slack_and_teams_answers_on_both(db: Database, tmp_path: Path, stack: AsyncExitStack) -> None:
    world = await _world(stack, db, tmp_path)
    users = [SlackUser("U_DAVE", "dave@example.co.jp", "en-US", name="dave"), SlackUser("U_KURA", None, is_bot=True)]
    slack = await stack.enter_async_context(FakeSlack(users, {"C_GENERAL": ["U_DAVE", "U_KURA"]}))
    env = world.env | {
        "KURA_SLACK_BOT_TOKEN": "xoxb-test",
        "KURA_SLACK_APP_TOKEN": "xapp-test",
        "KURA_SLACK_API_URL": slack.api_url,
    }
    log = tmp_path / "serve.log"
    process = await stack.enter_async_context(_serve(env, log))
    await _until_in(log, "teams: listening on /api/messages", process)
    await _until_in(log, "slack: connected (Socket Mode)", process)
    await slack.wait_connected()
    assert await _ready(world) == {"ready": True}  # slack, teams and the database
    mention = activities.message(GENERAL, DAVE, "経費精算の締め日は？", world.connector.service_url)
    assert await _post(world, mention) == 202
    await world.connector.wait_for("update", 1, timeout=120)
    await slack.send_envelope("events_api", _mention(slack, "U_DAVE", "C_GENERAL", "経費精算の締め日は？"))
    for _ in range(480):
        if slack.calls_to("chat.update"):
            break
        await asyncio.sleep(0.25)
    assert slack.calls_to("chat.update"), [c.method for c in slack.calls]


async def test_a_job_run_from_the_command_line_posts_where_kura_was_installed(
    db: Database, tmp_path: Path, stack: AsyncExitStack
) -> None:
    """Kura is added to a team (``kura serve`` keeps the conversation reference); then ``kura schedule
    run-now`` in another process syncs a folder and posts what changed into that channel through the
    Bot Connector."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / ".kura-access.yaml").write_text("allow: [public]\nclassification: public\n", encoding="utf-8")
    (docs / "hello.md").write_text("# Hello\n\nThe office opens at nine.\n", encoding="utf-8")
    world = await _world(stack, db, tmp_path)
    log = tmp_path / "serve.log"
    process = await stack.enter_async_context(_serve(world.env, log))
    await _until_in(log, "teams: listening on /api/messages", process)
    assert await _post(world, activities.conversation_update(GENERAL, DAVE, world.connector.service_url)) == 202
    env = world.env
    add = ("schedule", "add", "sync", "--name", "weekly", "--cron", "0 9 * * 1", "--as", "dave@example.co.jp")
    target = ("--target", f"teams:{GENERAL.id}", "--param", f"path={docs}")
    for _ in range(40):  # the install is handled in the background: wait for its reference
        added = await asyncio.to_thread(run_kura, env, *add, *target)
        if added.code == 0:
            break
        await asyncio.sleep(0.25)
    assert added.code == 0, added.stderr
    ran = await asyncio.to_thread(run_kura, env, "schedule", "run-now", "weekly", "--json")
    assert ran.code == 0, ran.stderr + ran.stdout
    sent = [c for c in world.connector.calls_to("send") if c.conversation_id == GENERAL.id]
    assert len(sent) == 1
    assert "added 1" in sent[0].body["text"]
