"""Schedules as data on the real database, as Kura's own role uses it: stored and removed, loaded by
a running leader without a restart, run once per fire time however many schedulers fire it, and a
failing job retried with its failure kept visible."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.db import Database
from bot.errors import InputError
from bot.jobs.kinds import KINDS, JobContext, JobKind, register
from bot.jobs.scheduler import LEADER_LOCK, Scheduler
from bot.jobs.service import ScheduleService, make_spec
from bot.settings import DatabaseSettings, KuraSettings, SchedulerSettings
from bot.wiring import Runtime, open_runtime

pytestmark = pytest.mark.db

EVERY_SECOND = "* * * * * *"


class Calls:
    """What the test kinds did: fire times run, and how many attempts each schedule made."""

    def __init__(self) -> None:
        self.fired: list[tuple[str, datetime]] = []
        self.attempts: dict[str, int] = {}
        self.failures_left: dict[str, int] = {}


@pytest.fixture
def calls() -> Iterator[Calls]:
    """Two kinds for tests, registered as any kind is: ``tick`` counts its fire times (after a short
    pause, so a second scheduler firing the same time overlaps it); ``flaky`` fails as often as
    told (``always``: every time) before it succeeds."""
    seen = Calls()

    async def tick(ctx: JobContext) -> str:
        await asyncio.sleep(0.2)
        seen.fired.append((ctx.schedule.name, ctx.fire_time))
        return f"tick {ctx.fire_time:%S}"

    async def flaky(ctx: JobContext) -> str:
        name = ctx.schedule.name
        seen.attempts[name] = seen.attempts.get(name, 0) + 1
        if ctx.schedule.params.get("always") or seen.failures_left.get(name, 0) > 0:
            seen.failures_left[name] = seen.failures_left.get(name, 0) - 1
            raise RuntimeError(f"upstream said no\nat attempt {seen.attempts[name]}")
        return "fine"

    register(JobKind("tick", "count fire times", tick))
    register(JobKind("flaky", "fail, then succeed", flaky, optional=("always",)))
    yield seen
    KINDS.pop("tick")
    KINDS.pop("flaky")


def _settings(db: Database, tmp_path: Path, **scheduler: object) -> KuraSettings:
    url = db.engine.url.render_as_string(hide_password=False)
    return KuraSettings(
        data_dir=tmp_path / "data",
        database=DatabaseSettings(url=SecretStr(url)),
        scheduler=SchedulerSettings.model_validate(scheduler),
    )


@pytest.fixture
async def rt(db: Database, tmp_path: Path) -> AsyncIterator[Runtime]:
    """A runtime (no model) on the test database, retrying failed runs after 50 ms."""
    async with open_runtime(_settings(db, tmp_path, run_attempts=3, retry_delay_s=0.05)) as runtime:
        yield runtime


async def _until(check: Callable[[], bool], seconds: float = 10.0) -> None:
    """Poll ``check`` until it holds; TimeoutError after ``seconds``."""
    for _ in range(int(seconds / 0.05)):
        if check():
            return
        await asyncio.sleep(0.05)
    raise TimeoutError(f"not within {seconds} s")


async def test_schedules_are_stored_listed_and_removed_with_their_runs(rt: Runtime, calls: Calls) -> None:
    """Add (a taken name is refused), read back, list with the last run and failure, remove (runs go
    with it); everything through kura_app's grants."""
    service = ScheduleService(rt)
    spec = make_spec("sync", "docs", "0 2 * * 1-5", "Asia/Tokyo", params={"path": "/srv/docs"}, owner="dave@x.jp")
    added = await service.store.add(spec)
    assert ("docs", "sync", {"path": "/srv/docs"}, "dave@x.jp", True) == (
        added.name,
        added.kind,
        dict(added.params),
        added.owner,
        added.enabled,
    )
    assert added == await service.store.get("docs")
    with pytest.raises(InputError, match="a schedule named 'docs' already exists"):
        await service.store.add(spec)
    await service.store.add(make_spec("flaky", "later", "0 3 * * *", "UTC", params={"always": "1"}, enabled=False))
    assert ["docs"] == [s.name for s in await service.store.enabled()]

    fire = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)
    later = await service.store.get("later")
    assert later is not None
    failed = await service.fire(later, fire, actor="test", command="test", attempts=1)
    assert failed is not None
    assert ("failed", "RuntimeError: upstream said no") == (failed.status, failed.error)
    views = {v.schedule.name: v for v in await service.store.overview()}
    assert ["docs", "later"] == list(views)
    assert (None, None) == (views["docs"].last_run, views["docs"].last_failure)
    assert failed == views["later"].last_run == views["later"].last_failure

    removed = await service.store.remove("later")
    assert removed is not None
    assert [] == await service.store.runs(removed.id)
    assert await service.store.remove("later") is None
    assert ["docs"] == [v.schedule.name for v in await service.store.overview()]


async def test_a_fire_time_runs_once_with_two_schedulers_firing_it(
    db: Database, tmp_path: Path, calls: Calls, caplog: pytest.LogCaptureFixture
) -> None:
    """Two processes' schedulers both lead (each its own lock, as around a handover) and both fire
    every second: each fire time runs once, one run row each, and the other scheduler's claim
    loses."""
    caplog.set_level(logging.INFO, logger="bot.jobs.service")
    async with AsyncExitStack() as stack:
        schedulers = []
        for n in (1, 2):
            runtime = await stack.enter_async_context(open_runtime(_settings(db, tmp_path / str(n))))
            service = ScheduleService(runtime)
            if n == 1:
                await service.store.add(make_spec("tick", "tick", EVERY_SECOND, "UTC"))
            scheduler = Scheduler(db.engine, service.jobs, check_s=0.2, lock_key=LEADER_LOCK + 100 + n)
            stack.push_async_callback(scheduler.stop)
            await scheduler.start()
            schedulers.append(scheduler)
        await _until(lambda: all(s.is_leader for s in schedulers))
        await _until(lambda: len(calls.fired) >= 3)
        for scheduler in schedulers:
            await scheduler.stop()
        stored = await service.store.get("tick")
        assert stored is not None
        runs = await service.store.runs(stored.id, limit=100)
    fired = [t for _, t in calls.fired]
    assert len(fired) == len(set(fired))  # no fire time ran twice
    claimed = [r.fire_time for r in runs]
    assert len(claimed) == len(set(claimed))  # one run row per fire time
    # Every time that ran has its row; the last may have been stopped before it was marked done.
    assert set(fired) <= set(claimed)
    assert {r.fire_time for r in runs if r.status == "done"} <= set(fired)
    assert len([r for r in runs if r.status == "done"]) >= len(fired) - 2
    assert any("another process's run" in r.getMessage() for r in caplog.records)


async def test_a_failing_job_is_retried_and_its_failure_recorded(rt: Runtime, calls: Calls) -> None:
    """Fails twice then succeeds: done on the third attempt, the last error kept. Fails always: it
    stops after the allowed attempts and stays failed, with a short one-line error, in the list."""
    service = ScheduleService(rt)
    fire = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
    calls.failures_left["twice"] = 2
    twice = await service.store.add(make_spec("flaky", "twice", "0 9 * * *", "UTC"))
    run = await service.fire(twice, fire, actor="scheduler:twice", command="test")
    assert run is not None
    assert ("done", 3, "fine", "RuntimeError: upstream said no") == (run.status, run.attempts, run.outcome, run.error)
    assert 3 == calls.attempts["twice"]
    assert await service.fire(twice, fire, actor="scheduler:twice", command="test") is None  # claimed already
    assert 3 == calls.attempts["twice"]

    never = await service.store.add(make_spec("flaky", "never", "0 9 * * *", "UTC", params={"always": "yes"}))
    run = await service.fire(never, fire, actor="scheduler:never", command="test")
    assert run is not None
    assert ("failed", 3, None) == (run.status, run.attempts, run.outcome)
    assert "RuntimeError: upstream said no" == run.error
    assert 3 == calls.attempts["never"]
    [view] = [v for v in await service.store.overview() if v.schedule.name == "never"]
    assert run == view.last_failure


async def test_a_running_leader_picks_up_added_and_removed_schedules(rt: Runtime, calls: Calls) -> None:
    """No restart: a schedule added through the store runs within a check; a disabled one never
    runs; a removed one stops."""
    service = ScheduleService(rt)
    scheduler = Scheduler(rt.database.engine, service.jobs, check_s=0.2)
    await scheduler.start()
    try:
        await _until(lambda: scheduler.is_leader)
        await service.store.add(make_spec("tick", "added-later", EVERY_SECOND, "UTC"))
        await service.store.add(make_spec("tick", "off", EVERY_SECOND, "UTC", enabled=False))
        await _until(lambda: len(calls.fired) >= 2)
        assert {"added-later"} == {name for name, _ in calls.fired}
        await service.store.remove("added-later")
        await asyncio.sleep(0.6)  # a check, and a run that had already started
        count = len(calls.fired)
        await asyncio.sleep(1.5)
        assert count == len(calls.fired)
    finally:
        await scheduler.stop()
