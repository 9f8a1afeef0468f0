"""The shared HTTP host on a loopback port: health, readiness against the real database, metrics,
and the routes adapters mount on it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from bot.db import Database
from bot.errors import ConfigurationError
from bot.http import HttpHost
from bot.metrics import Metrics
from bot.settings import DatabaseSettings, HttpSettings, KuraSettings

pytestmark = pytest.mark.db

LOOPBACK = HttpSettings(host="127.0.0.1", port=0)


@pytest.fixture
async def host() -> AsyncIterator[HttpHost]:
    """A host with no checks yet; started by each test once its routes are added."""
    host = HttpHost(LOOPBACK, Metrics(), check_timeout_s=0.5)
    yield host
    await host.stop()


@pytest.fixture
async def dead_database(tmp_path: Path) -> AsyncIterator[Database]:
    """A database whose server is not there (nothing listens on the discard port)."""
    url = SecretStr("postgresql://kura@127.0.0.1:9/kura")
    database = Database(KuraSettings(data_dir=tmp_path, database=DatabaseSettings(url=url)))
    await database.start()
    yield database
    await database.close()


async def _get(host: HttpHost, path: str) -> tuple[int, str, str]:
    url = f"http://127.0.0.1:{host.port}{path}"
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, response.headers.get("Content-Type", ""), await response.text()


async def _json(host: HttpHost, path: str) -> tuple[int, Any]:
    url = f"http://127.0.0.1:{host.port}{path}"
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.json()


async def test_healthz_answers_while_the_process_runs_and_port_zero_binds_a_free_port(host: HttpHost) -> None:
    await host.start()
    assert host.port != 0
    assert (200, {"status": "ok"}) == await _json(host, "/healthz")


async def test_readyz_is_ready_when_the_database_answers(host: HttpHost, db: Database) -> None:
    host.add_check("database", db.ping)
    await host.start()
    assert (200, {"ready": True}) == await _json(host, "/readyz")


async def test_readyz_names_the_database_when_it_is_down(host: HttpHost, dead_database: Database) -> None:
    host.add_check("database", dead_database.ping)
    await host.start()
    assert (503, {"ready": False, "not_ready": {"database": "failing"}}) == await _json(host, "/readyz")


async def test_readyz_fails_on_a_failing_raising_or_hanging_check(host: HttpHost, db: Database) -> None:
    async def not_started() -> bool:
        return False

    async def broken() -> bool:
        raise RuntimeError("boom")

    async def hangs() -> bool:
        await asyncio.sleep(30)
        return True

    host.add_check("database", db.ping)
    host.add_check("slack", not_started)
    host.add_check("scheduler", broken)
    host.add_check("teams", hangs)
    await host.start()
    status, body = await _json(host, "/readyz")
    assert 503 == status
    assert {"ready": False, "not_ready": {"slack": "failing", "scheduler": "error", "teams": "timeout"}} == body


async def test_metrics_are_prometheus_text_without_user_or_channel_labels() -> None:
    metrics = Metrics()
    host = HttpHost(LOOPBACK, metrics)
    metrics.request("slack", "answered")
    metrics.refusal("not_a_member")
    metrics.observe("first_token", 0.8)
    metrics.tokens(12)
    metrics.job_run("retention", "ok")
    await host.start()
    try:
        status, content_type, text = await _get(host, "/metrics")
    finally:
        await host.stop()
    assert 200 == status
    assert content_type.startswith("text/plain")
    families = {family.name: family for family in text_string_to_metric_families(text)}
    assert {
        "kura_requests",
        "kura_refusals",
        "kura_stage_seconds",
        "kura_generated_tokens",
        "kura_requests_in_flight",
        "kura_job_runs",
    } <= set(families)
    labels = {key for family in families.values() for sample in family.samples for key in sample.labels}
    assert not labels & {"user", "user_id", "channel", "channel_id", "email", "team"}


async def test_adapters_mount_routes_before_start_only(host: HttpHost) -> None:
    async def events(request: web.Request) -> web.Response:
        return web.json_response({"got": await request.text()})

    host.add_route("POST", "/slack/events", events)
    await host.start()
    url = f"http://127.0.0.1:{host.port}/slack/events"
    async with aiohttp.ClientSession() as session, session.post(url, data="hi") as response:
        assert (200, {"got": "hi"}) == (response.status, await response.json())
    with pytest.raises(RuntimeError, match="already started"):
        host.add_route("POST", "/api/messages", events)


async def test_a_port_in_use_is_a_configuration_error(host: HttpHost) -> None:
    await host.start()
    second = HttpHost(HttpSettings(host="127.0.0.1", port=host.port), Metrics())
    with pytest.raises(ConfigurationError, match=r"cannot listen on 127\.0\.0\.1"):
        await second.start()
    assert not second.started
