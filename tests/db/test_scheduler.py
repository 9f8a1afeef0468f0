"""The scheduler on the real database: one leader among processes, failover when the leader's
connection dies, jobs run only by the leader; retention is a schedule made from the settings."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from apscheduler.triggers.interval import IntervalTrigger
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.db import Database
from bot.errors import ConfigurationError
from bot.jobs.retention import retention_trigger
from bot.jobs.scheduler import LEADER_LOCK, ScheduledJob, Scheduler
from bot.jobs.service import ScheduleService
from bot.settings import DatabaseSettings, KuraSettings, SchedulerSettings
from bot.wiring import default_policy_file, open_runtime

pytestmark = pytest.mark.db


def _counting(runs: list[str], name: str) -> ScheduledJob:
    async def run(_fire_time: datetime) -> None:
        runs.append(name)

    return ScheduledJob("tick", IntervalTrigger(seconds=0.3), run)


async def _until(condition: asyncio.Event, seconds: float = 10.0) -> None:
    await asyncio.wait_for(condition.wait(), seconds)


@asynccontextmanager
async def _a_leads_b_waits(db: Database, runs: list[str]) -> AsyncIterator[tuple[Scheduler, Scheduler]]:
    """Two schedulers on one database, as two replicas: A has become the leader, B has started."""
    a = Scheduler(db.engine, [_counting(runs, "a")], check_s=0.2)
    b = Scheduler(db.engine, [_counting(runs, "b")], check_s=0.2)
    await a.start()
    await _until(a.leading)
    await b.start()
    try:
        yield a, b
    finally:
        await a.stop()
        await b.stop()


async def _only_b_runs(runs: list[str]) -> None:
    cut = len(runs)
    await asyncio.sleep(1.0)
    assert {"b"} == set(runs[cut:])


async def test_one_leader_runs_the_jobs_and_a_standby_takes_over(db: Database) -> None:
    """A leads and runs its job; B waits without running anything; when A stops, B leads; once both
    stopped, no lock is left behind."""
    runs: list[str] = []
    async with _a_leads_b_waits(db, runs) as (a, b):
        await asyncio.sleep(1.2)
        assert (True, False) == (a.is_leader, b.is_leader)
        assert "a" in runs
        assert "b" not in runs
        await a.stop()
        assert not a.is_leader
        await _until(b.leading)
        await _only_b_runs(runs)
    async with db.engine.connect() as conn:
        held = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = :key"
        assert 0 == (await conn.execute(text(held), {"key": LEADER_LOCK})).scalar_one()


async def test_a_leader_that_loses_its_connection_steps_down(db: Database, dba: AsyncEngine) -> None:
    """The leader's session is killed (as when its database connection drops): its lock goes with
    it, it stops running jobs, and the standby becomes the leader."""
    runs: list[str] = []
    async with _a_leads_b_waits(db, runs) as (a, b):
        async with dba.begin() as conn:  # terminating another session takes more than kura_app has
            await conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_locks "
                    "WHERE locktype = 'advisory' AND objid = :key AND granted"
                ),
                {"key": LEADER_LOCK},
            )
        await _until(b.leading)
        await asyncio.sleep(0.5)
        assert not a.is_leader
        await _only_b_runs(runs)


def test_the_retention_trigger_comes_from_settings() -> None:
    """03:17 Tokyo time by cron line; a bad line or zone is a configuration error naming the setting."""
    trigger = retention_trigger(SchedulerSettings(timezone="Asia/Tokyo", retention_cron="17 3 * * *"))
    start = datetime(2026, 11, 24, 0, 0, tzinfo=UTC)  # 09:00 in Tokyo: the next run is tomorrow 03:17 JST
    fire = trigger.get_next_fire_time(None, start)
    assert datetime(2026, 11, 24, 18, 17, tzinfo=UTC) == fire.astimezone(UTC)
    assert timedelta(hours=18, minutes=17) == fire - start
    with pytest.raises(ConfigurationError, match="KURA_SCHEDULER_RETENTION_CRON='17 3 \\* \\*'"):
        retention_trigger(SchedulerSettings(retention_cron="17 3 * *"))
    with pytest.raises(ConfigurationError, match="KURA_SCHEDULER_TIMEZONE='Mars/Olympus'"):
        retention_trigger(SchedulerSettings(timezone="Mars/Olympus"))


async def test_retention_is_a_schedule_from_the_settings_and_is_audited(db: Database, tmp_path: Path) -> None:
    """``kura serve`` adds the ``retention`` schedule from the settings once, and moves it when the
    settings change. Run as the scheduler runs it, retention applies the policy's plan (creating the
    checkpoint key the anchors need), records a done run, writes one audit record as
    scheduler:retention, and the chain holds."""
    url = db.engine.url.render_as_string(hide_password=False)
    data = tmp_path / "data"
    settings = KuraSettings(data_dir=data, database=DatabaseSettings(url=SecretStr(url)))
    async with open_runtime(settings) as rt:
        service = ScheduleService(rt)
        assert "added" == await service.ensure_retention()
        assert await service.ensure_retention() is None
        [job] = await service.jobs()
        assert "retention" == job.id
        retention = await service.store.get("retention")
        assert retention is not None
        assert ("retention", "17 3 * * *", "UTC", None) == (
            retention.kind,
            retention.cron,
            retention.timezone,
            retention.owner,
        )
        run = await job.run(datetime(2026, 11, 24, 3, 17, tzinfo=UTC))
        [record] = await rt.audit.recent(5)
        assert ("scheduler", "scheduler:retention", "retention") == (
            record.platform,
            record.user_ref,
            record.reason_code,
        )
        answer = rt.audit.decrypt_answer(record) or ""
        assert answer.startswith(f"retention from {default_policy_file()}: question text 90 days")
        assert (data / "keys" / "checkpoint.key").exists()
        assert (await rt.audit.verify()).ok
        [stored] = await service.store.runs(retention.id)
        assert stored == run
        assert ("done", 1) == (stored.status, stored.attempts)
        assert (stored.outcome or "").startswith(f"retention from {default_policy_file()}: text purged from 0")
    moved = settings.model_copy(
        update={"scheduler": SchedulerSettings(retention_cron="0 4 * * 0", timezone="Asia/Tokyo")}
    )
    async with open_runtime(moved) as rt:
        service = ScheduleService(rt)
        assert "updated" == await service.ensure_retention()
        again = await service.store.get("retention")
        assert again is not None
        assert ("0 4 * * 0", "Asia/Tokyo") == (again.cron, again.timezone)
