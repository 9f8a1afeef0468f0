"""Checkpoints kept outside the database: the ``checkpoint`` job and its sinks (file, syslog, HTTP),
the schedule ``kura serve`` keeps, and ``kura audit verify --expect-head`` against an owner who
rewrote the chain or cut its tail."""

from __future__ import annotations

import argparse
import json
import socket
import stat
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.audit.checkpoint import AuditTampered, parse, verify_checkpoint
from bot.audit.keyring import checkpoint_key
from bot.cli.audit import audit_verify
from bot.db import Database
from bot.errors import ConfigurationError, UpstreamError
from bot.jobs.checkpoint_sink import (
    CHECKPOINT_SCHEDULE,
    Sink,
    keep_checkpoint_schedule,
    parse_sink,
    write_checkpoint,
)
from bot.jobs.kinds import get_kind
from bot.jobs.service import ScheduleService
from bot.settings import DatabaseSettings, KuraSettings, SchedulerSettings
from bot.wiring import Runtime, open_runtime
from tests.db.audit_support import entry, raw_sql, rewrite_chain

pytestmark = pytest.mark.db


def _settings(db: Database, tmp_path: Path, **overrides: Any) -> KuraSettings:
    url = db.engine.url.render_as_string(hide_password=False)
    return KuraSettings(data_dir=tmp_path / "data", database=DatabaseSettings(url=SecretStr(url)), **overrides)


async def _runtime(settings: KuraSettings, records: int = 3) -> AsyncIterator[Runtime]:
    async with open_runtime(settings) as rt:
        for i in range(records):
            await rt.audit.append(entry(i))
        yield rt


@pytest.fixture
async def rt(db: Database, tmp_path: Path) -> AsyncIterator[Runtime]:
    """A runtime on the test database with three records, the default sink and default keys."""
    async for runtime in _runtime(_settings(db, tmp_path)):
        yield runtime


async def _verify(settings: KuraSettings, capsys: pytest.CaptureFixture[str], **flags: str | None) -> tuple[int, str]:
    """``kura audit verify`` as the command runs it; its exit code and output."""
    args = argparse.Namespace(json=False, expect_head=flags.get("line"), expect_head_file=flags.get("file"))
    code = await audit_verify(settings, args)
    return code, capsys.readouterr().out.strip()


async def test_file_sink_appends_signed_checkpoints_that_verify(rt: Runtime) -> None:
    """By default each run appends one signed line to data_dir/audit-checkpoints.log (0600): the
    head then, and the next head after more records; both still hold."""
    sink = rt.settings.data_dir / "audit-checkpoints.log"
    outcome = await write_checkpoint(rt)
    assert outcome.startswith("checkpoint seq=3 hash=")
    assert outcome.endswith(f"written to file {sink}")
    await rt.audit.append(entry(4))
    await write_checkpoint(rt)
    lines = sink.read_text(encoding="utf-8").splitlines()
    assert [3, 4] == [parse(line).seq for line in lines]
    assert 0o600 == stat.S_IMODE(sink.stat().st_mode)
    key = checkpoint_key(rt.settings)
    assert 0o600 == stat.S_IMODE((rt.settings.data_dir / "keys" / "checkpoint.key").stat().st_mode)
    for line in lines:
        assert (await verify_checkpoint(rt.audit, parse(line), key)).ok


async def test_an_owner_rewrite_is_caught_by_verify_expect_head_and_the_next_run(
    rt: Runtime, dba: AsyncEngine, capsys: pytest.CaptureFixture[str]
) -> None:
    """The owner rewrites record 2 onwards and recomputes every hash: plain ``verify`` passes,
    ``verify --expect-head`` (the line, or the sink file) fails naming the checkpoint, and the next
    scheduled checkpoint refuses to sign the rewritten chain, writing nothing."""
    await write_checkpoint(rt)
    sink = rt.settings.data_dir / "audit-checkpoints.log"
    line = sink.read_text(encoding="utf-8").strip()
    assert (0, "ok: 3 audit records, chain intact; checkpoint seq=3 holds") == await _verify(
        rt.settings, capsys, line=line
    )

    await rewrite_chain(dba, 2, lambda record: setattr(record, "user_email", "mallory@example.co.jp"))
    assert (0, "ok: 3 audit records, chain intact") == await _verify(rt.settings, capsys)
    expected = "FAILED: checkpoint seq=3: record 3 no longer has the checkpointed hash: the chain was rewritten"
    assert (1, expected) == await _verify(rt.settings, capsys, line=line)
    assert (1, expected) == await _verify(rt.settings, capsys, file=str(sink))
    with pytest.raises(AuditTampered, match=r"last checkpoint in .* no longer has the checkpointed hash"):
        await write_checkpoint(rt)
    assert [line] == sink.read_text(encoding="utf-8").splitlines()

    # --json: the existing fields, "ok" false overall, and the checkpoint's own outcome added.
    assert 1 == await audit_verify(rt.settings, argparse.Namespace(json=True, expect_head=line, expect_head_file=None))
    body = json.loads(capsys.readouterr().out)
    assert (False, 3, None, 0) == (body["ok"], body["records"], body["first_bad"], body["pruned_through"])
    assert body["problem"].startswith("checkpoint seq=3: record 3 no longer has the checkpointed hash")
    assert (False, 3) == (body["checkpoint"]["ok"], body["checkpoint"]["seq"])


async def test_a_cut_tail_is_caught_by_verify_expect_head(
    rt: Runtime, dba: AsyncEngine, capsys: pytest.CaptureFixture[str]
) -> None:
    """The owner deletes the newest records (triggers off): the shorter chain verifies, the
    checkpoint of the longer one does not."""
    await write_checkpoint(rt)
    line = (rt.settings.data_dir / "audit-checkpoints.log").read_text(encoding="utf-8").strip()
    await raw_sql(dba, "DELETE FROM audit_records WHERE seq = 3")
    assert (0, "ok: 2 audit records, chain intact") == await _verify(rt.settings, capsys)
    assert (1, "FAILED: checkpoint seq=3: record 3 is missing: the chain ends at record 2 (its tail was cut)") == (
        await _verify(rt.settings, capsys, line=line)
    )


async def test_a_forged_or_foreign_checkpoint_fails_verify(rt: Runtime, capsys: pytest.CaptureFixture[str]) -> None:
    """A line whose hash was changed (the signature no longer matches), or one signed with another
    key, fails with the reason; a malformed one is bad input."""
    await write_checkpoint(rt)
    line = (rt.settings.data_dir / "audit-checkpoints.log").read_text(encoding="utf-8").strip()
    signed = parse(line)
    forged = line.replace(signed.hash, "0" * 64)
    code, out = await _verify(rt.settings, capsys, line=forged)
    assert (1, "FAILED: checkpoint seq=3: the signature does not match: the checkpoint was altered") == (code, out)
    foreign = line.replace(f"key_id={signed.key_id}", "key_id=0123456789abcdef")
    code, out = await _verify(rt.settings, capsys, line=foreign)
    assert 1 == code
    assert "signed with key 0123456789abcdef" in out
    with pytest.raises(Exception, match="not a checkpoint"):
        await _verify(rt.settings, capsys, line="checkpoint seq=3")


async def test_verify_expect_head_needs_the_checkpoint_key(db: Database, tmp_path: Path) -> None:
    """Without a checkpoint key there is nothing to check a signature with: one line, exit 2."""
    settings = _settings(db, tmp_path)
    line = f"checkpoint seq=1 hash={'a' * 64} at=2026-01-01T00:00:00+00:00 signature=hmac-sha256:00 key_id=k"
    with pytest.raises(ConfigurationError, match="no checkpoint key"):
        await audit_verify(settings, argparse.Namespace(json=False, expect_head=line, expect_head_file=None))
    assert not (tmp_path / "data" / "keys" / "checkpoint.key").exists()


async def test_a_broken_chain_is_not_signed(rt: Runtime, dba: AsyncEngine) -> None:
    """A chain that does not verify gets no checkpoint (signing it would bless the damage)."""
    await raw_sql(dba, "UPDATE audit_records SET user_email = 'mallory@example.co.jp' WHERE seq = 2")
    with pytest.raises(AuditTampered, match="chain broken at record 2"):
        await write_checkpoint(rt)
    assert not (rt.settings.data_dir / "audit-checkpoints.log").exists()


async def test_a_configured_checkpoint_key_that_is_missing_stops_kura(db: Database, tmp_path: Path) -> None:
    """A configured checkpoint key that failed to appear stops Kura at start (it checks retention
    anchors), so no job can make one there."""
    missing = tmp_path / "secret" / "checkpoint.key"
    with pytest.raises(ConfigurationError, match="named by KURA_AUDIT_CHECKPOINT_KEY_FILE does not exist"):
        async with open_runtime(_settings(db, tmp_path, audit_checkpoint_key_file=missing)):
            pass
    assert not missing.exists()


# --- syslog and HTTP sinks ------------------------------------------------------------------------


async def test_syslog_unix_socket_sink(db: Database, tmp_path: Path) -> None:
    """``syslog:/path`` sends the line as a user.info syslog message to that socket."""
    path = tmp_path / "log.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind(str(path))
        async for runtime in _runtime(_settings(db, tmp_path, audit_checkpoint_sink=f"syslog:{path}")):
            outcome = await write_checkpoint(runtime)
        message = server.recv(4096).decode()
    assert outcome.endswith(f"written to syslog {path}")
    assert message.startswith("<14>kura-audit: checkpoint seq=3 hash=")
    assert 3 == parse(message.removeprefix("<14>kura-audit: ")).seq


async def test_syslog_udp_sink(db: Database, tmp_path: Path) -> None:
    """``syslog://host:port`` sends it over UDP."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as server:
        server.bind(("127.0.0.1", 0))
        port = server.getsockname()[1]
        async for runtime in _runtime(_settings(db, tmp_path, audit_checkpoint_sink=f"syslog://127.0.0.1:{port}")):
            await write_checkpoint(runtime)
        server.settimeout(5)
        message = server.recv(4096).decode()
    assert message.startswith("<14>kura-audit: checkpoint seq=3 ")


async def test_a_missing_syslog_socket_fails_the_run(db: Database, tmp_path: Path) -> None:
    """No socket: an UpstreamError (the scheduler tries again), not a silent loss."""
    async for runtime in _runtime(_settings(db, tmp_path, audit_checkpoint_sink=f"syslog:{tmp_path}/none.sock")):
        with pytest.raises(UpstreamError, match="checkpoint sink syslog"):
            await write_checkpoint(runtime)


async def _http_sink(status: int) -> tuple[web.AppRunner, str, list[tuple[dict[str, object], str]]]:
    seen: list[tuple[dict[str, object], str]] = []

    async def take(request: web.Request) -> web.Response:
        seen.append((await request.json(), request.headers.get("Authorization", "")))
        if status == 302:
            raise web.HTTPFound("http://127.0.0.1:9/elsewhere")
        return web.Response(status=status)

    app = web.Application()
    app.router.add_post("/checkpoints", take)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    return runner, f"http://{host}:{port}/checkpoints", seen


async def test_http_sink_posts_the_checkpoint_as_json(db: Database, tmp_path: Path) -> None:
    """An HTTP(S) sink gets the checkpoint as JSON (with the line), with the bearer token."""
    runner, url, seen = await _http_sink(204)
    try:
        settings = _settings(db, tmp_path, audit_checkpoint_sink=url, audit_checkpoint_sink_token=SecretStr("s3cret"))
        async for runtime in _runtime(settings):
            outcome = await write_checkpoint(runtime)
    finally:
        await runner.cleanup()
    assert outcome.endswith(f"written to {url}")
    ((body, auth),) = seen
    assert "Bearer s3cret" == auth
    assert (3, 3) == (body["seq"], body["records"])
    assert parse(str(body["line"])) == parse(json.dumps(body))


@pytest.mark.parametrize("status", [500, 401, 302])
async def test_an_http_sink_that_refuses_fails_the_run(db: Database, tmp_path: Path, status: int) -> None:
    """Anything but 2xx (a redirect included: not followed) is a failed run, tried again later."""
    runner, url, _ = await _http_sink(status)
    try:
        async for runtime in _runtime(_settings(db, tmp_path, audit_checkpoint_sink=url), records=1):
            with pytest.raises(UpstreamError, match=f"HTTP {status}"):
                await write_checkpoint(runtime)
    finally:
        await runner.cleanup()


# --- the sink setting and the schedule ------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "sink"),
    [
        (None, Sink("file", "/d/audit-checkpoints.log")),
        ("  ", Sink("file", "/d/audit-checkpoints.log")),
        ("file:/var/log/kura/cp.log", Sink("file", "/var/log/kura/cp.log")),
        ("syslog:/run/log.sock", Sink("syslog", "/run/log.sock")),
        ("syslog://logs.example:1514", Sink("syslog", "logs.example:1514", remote=True)),
        ("syslog://logs.example", Sink("syslog", "logs.example:514", remote=True)),
        ("https://siem.example/cp?x=1", Sink("http", "https://siem.example/cp?x=1")),
        ("off", Sink("off")),
    ],
)
def test_sink_settings(value: str | None, sink: Sink) -> None:
    """Every documented form; unset is the file beside the database's folder."""
    assert sink == parse_sink(value, Path("/d"))


@pytest.mark.parametrize(
    "value", ["file:relative.log", "ftp://x/y", "syslog://", "syslog://h:99999", "/var/log/x", "on"]
)
def test_bad_sink_settings_are_refused(value: str) -> None:
    """Anything else: one line naming the setting."""
    with pytest.raises(ConfigurationError, match="KURA_AUDIT_CHECKPOINT_SINK="):
        parse_sink(value, Path("/d"))


def test_http_sink_is_described_without_credentials() -> None:
    """User info and query (tokens people put in URLs) stay out of outcomes and logs."""
    assert "https://siem.example/cp" == Sink("http", "https://user:pw@siem.example/cp?token=t").describe()


async def test_serve_keeps_the_checkpoint_schedule(db: Database, tmp_path: Path) -> None:
    """On by default (hourly); follows the cron setting; removed when the sink is off; it runs as a
    schedule and its run writes the checkpoint."""
    settings = _settings(db, tmp_path)
    async for runtime in _runtime(settings, records=1):
        service = ScheduleService(runtime)
        assert "added" == await keep_checkpoint_schedule(service.store, settings)
        assert await keep_checkpoint_schedule(service.store, settings) is None
        schedule = await service.store.get(CHECKPOINT_SCHEDULE)
        assert schedule is not None
        assert ("checkpoint", "41 * * * *", None) == (schedule.kind, schedule.cron, schedule.owner)
        assert "sign the audit chain" in get_kind("checkpoint").summary

        run = await service.run_now(CHECKPOINT_SCHEDULE, actor="cli:test", command="test", platform="cli")
        assert "done" == run.status, run.error
        assert "written to file" in (run.outcome or "")
        assert 1 == len((settings.data_dir / "audit-checkpoints.log").read_text(encoding="utf-8").splitlines())

        hourly = settings.model_copy(update={"scheduler": SchedulerSettings(checkpoint_cron="*/5 * * * *")})
        assert "updated" == await keep_checkpoint_schedule(service.store, hourly)
        off = settings.model_copy(update={"audit_checkpoint_sink": "off"})
        assert "removed" == await keep_checkpoint_schedule(service.store, off)
        assert await service.store.get(CHECKPOINT_SCHEDULE) is None
        assert await keep_checkpoint_schedule(service.store, off) is None


def test_a_bad_checkpoint_cron_is_a_configuration_error(tmp_path: Path) -> None:
    """``kura serve`` checks it at start, like the retention cron."""
    from bot.jobs.checkpoint_sink import checkpoint_spec

    settings = KuraSettings(data_dir=tmp_path, scheduler=SchedulerSettings(checkpoint_cron="every hour"))
    with pytest.raises(ConfigurationError, match="KURA_SCHEDULER_CHECKPOINT_CRON='every hour'"):
        checkpoint_spec(settings)
    assert checkpoint_spec(settings.model_copy(update={"audit_checkpoint_sink": "off"})) is None


def test_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """KURA_AUDIT_CHECKPOINT_SINK, _SINK_TOKEN and KURA_SCHEDULER_CHECKPOINT_CRON reach the settings."""
    monkeypatch.setenv("KURA_AUDIT_CHECKPOINT_SINK", "syslog")
    monkeypatch.setenv("KURA_AUDIT_CHECKPOINT_SINK_TOKEN", "t")
    monkeypatch.setenv("KURA_SCHEDULER_CHECKPOINT_CRON", "0 * * * *")
    settings = KuraSettings(data_dir=tmp_path)
    token = settings.audit_checkpoint_sink_token
    assert ("syslog", "t", "0 * * * *") == (
        settings.audit_checkpoint_sink,
        token.get_secret_value() if token else None,
        settings.scheduler.checkpoint_cron,
    )
