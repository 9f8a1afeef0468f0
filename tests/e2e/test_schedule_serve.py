"""Two ``kura serve`` processes on one database (Slack HTTP mode against the fake Slack, the model a
fake OpenAI-compatible server): a schedule firing every two seconds runs once per fire time, first
on one leader and, after it stops, on the other; and each ``kura serve`` keeps the retention
schedule from its settings."""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.db import Database
from tests.e2e.conftest import KURA, _env, run_kura
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.slack import FakeSlack

pytestmark = pytest.mark.e2e

_RUNS = """
SELECT r.fire_time, r.status, r.attempts, r.error
FROM schedule_runs r JOIN schedules s ON s.id = r.schedule_id
WHERE s.name = 'tick' ORDER BY r.fire_time
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@asynccontextmanager
async def _serve(env: dict[str, str], log: Path) -> AsyncIterator[subprocess.Popen[bytes]]:
    """``kura serve`` in the background, its stderr in ``log``; stopped with SIGTERM afterwards."""
    with log.open("wb") as out:
        process = subprocess.Popen([KURA, "serve"], env=env, stdout=out, stderr=out)  # noqa: ASYNC220
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.to_thread(process.wait, 30)
            except subprocess.TimeoutExpired:
                process.kill()


def _read(log: Path) -> str:
    return log.read_text(encoding="utf-8", errors="replace")


async def _until_in(log: Path, words: str, process: subprocess.Popen[bytes], seconds: float = 120.0) -> None:
    """Wait until ``words`` appear in a process's log (failing at once if it exited)."""
    for _ in range(int(seconds * 4)):
        seen = await asyncio.to_thread(_read, log)
        if words in seen:
            return
        assert process.poll() is None, seen
        await asyncio.sleep(0.25)
    raise TimeoutError(f"{words!r} not in {log}:\n{await asyncio.to_thread(_read, log)}")


async def test_two_serve_processes_run_each_fire_time_once(db: Database, tmp_path: Path) -> None:
    """A leads and runs ``tick`` (a sync of a tiny folder, every 2 s); B stands by. A stops; B leads
    and carries on. Every fire time has exactly one run, done, from one process or the other."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / ".kura-access.yaml").write_text("allow: [public]\nclassification: public\n", encoding="utf-8")
    (docs / "hello.md").write_text("# Hello\n\nThe office opens at nine.\n", encoding="utf-8")
    url = db.engine.url.render_as_string(hide_password=False)
    async with AsyncExitStack() as stack:
        slack = await stack.enter_async_context(FakeSlack([], {}))
        model = await stack.enter_async_context(FakeOpenAI("OK"))
        base = _env(
            tmp_path / "data",
            KURA_DATABASE_URL=url,
            KURA_LLM_BASE_URL=model.url,
            KURA_SLACK_BOT_TOKEN="xoxb-test",  # noqa: S106 - a test value
            KURA_SLACK_SIGNING_SECRET="test-signing-secret",  # noqa: S106 - a test value
            KURA_SLACK_API_URL=slack.api_url,
            KURA_SCHEDULER_LEADER_CHECK_S="0.5",
            KURA_LOG_LEVEL="INFO",
        )
        env = {**base, "PYTHONUNBUFFERED": "1"}
        add = ("schedule", "add", "sync", "--name", "tick", "--cron", "*/2 * * * * *", "--param", f"path={docs}")
        added = await asyncio.to_thread(run_kura, env, *add)
        assert 0 == added.code, added.stderr

        a_log, b_log = tmp_path / "a.log", tmp_path / "b.log"
        a = await stack.enter_async_context(_serve(env | {"KURA_HTTP_PORT": str(_free_port())}, a_log))
        await _until_in(a_log, "scheduler: leader", a)
        b = await stack.enter_async_context(_serve(env | {"KURA_HTTP_PORT": str(_free_port())}, b_log))
        await _until_in(b_log, "scheduler: standby", b)
        await _until_in(a_log, "tick done", a, seconds=60)
        await asyncio.sleep(5)
        a.send_signal(signal.SIGTERM)
        assert 0 == await asyncio.to_thread(a.wait, 60)
        await _until_in(b_log, "scheduler: leader", b, seconds=30)
        await _until_in(b_log, "tick done", b, seconds=60)
        await asyncio.sleep(5)

    async with db.engine.connect() as conn:
        runs = (await conn.execute(text(_RUNS))).all()
        retention = (await conn.execute(text("SELECT cron FROM schedules WHERE name = 'retention'"))).scalar_one()
    assert "17 3 * * *" == retention
    fire_times = [r.fire_time for r in runs]
    assert len(fire_times) == len(set(fire_times))
    assert len(runs) >= 4
    assert all(t.second % 2 == 0 for t in fire_times)
    # A run cut short by a stop is recorded as interrupted; every other one finished, on the first try.
    finished = [r for r in runs if not (r.status == "failed" and str(r.error).startswith("interrupted"))]
    assert {("done", 1)} == {(r.status, r.attempts) for r in finished}
    a_text, b_text = await asyncio.to_thread(_read, a_log), await asyncio.to_thread(_read, b_log)
    ran_by_a = a_text.count("tick done")
    ran_by_b = b_text.count("tick done")
    assert ran_by_a >= 1
    assert ran_by_b >= 1
    assert ran_by_a + ran_by_b == sum(1 for r in runs if r.status == "done")
