"""``kura serve``: the configured chat adapters and the scheduler on one HTTP host (``/healthz``,
``/readyz``, ``/metrics`` and the adapters' routes), until SIGTERM or Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from bot.adapters.slack.runner import SlackRunner
from bot.errors import ConfigurationError
from bot.http import HttpHost
from bot.jobs.checkpoint_sink import checkpoint_spec, keep_checkpoint_schedule
from bot.jobs.retention import retention_trigger
from bot.jobs.scheduler import Scheduler
from bot.jobs.service import ScheduleService
from bot.settings import KuraSettings
from bot.wiring import open_runtime

__all__ = ["serve"]


def _status(message: str) -> None:
    print(f"· {message}", file=sys.stderr, flush=True)


async def serve(settings: KuraSettings, args: argparse.Namespace) -> int:
    """Start Slack (Socket Mode or HTTP) and/or Teams (``/api/messages``) on the full pipeline, the
    scheduler (retention, audit checkpoints) and the HTTP host, and wait for a stop signal."""
    if not settings.slack.configured and not settings.teams.configured:
        raise ConfigurationError(
            "no chat adapter is configured: set KURA_SLACK_BOT_TOKEN and KURA_SLACK_APP_TOKEN (Socket Mode) "
            "or KURA_SLACK_SIGNING_SECRET (HTTP mode), or KURA_TEAMS_APP_ID, KURA_TEAMS_APP_PASSWORD and "
            "KURA_TEAMS_TENANT_ID; see README 'Connect to Slack' and 'Connect to Teams'"
        )
    retention_trigger(settings.scheduler)  # a bad cron line or zone fails now, not after the model starts
    checkpoint_spec(settings)  # so does a bad checkpoint sink or cron line
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with open_runtime(settings, with_model=True, status=_status) as rt:
        jobs = settings.scheduler
        schedules = ScheduleService(rt)
        if jobs.enabled and (done := await schedules.ensure_retention()):
            _status(f"scheduler: retention schedule {done} ({jobs.retention_cron} {jobs.timezone})")
        if jobs.enabled and (done := await keep_checkpoint_schedule(schedules.store, settings)):
            _status(f"scheduler: audit checkpoint schedule {done} ({jobs.checkpoint_cron} {jobs.timezone})")
        scheduler = Scheduler(
            rt.database.engine, schedules.jobs, timezone=jobs.timezone, check_s=jobs.leader_check_s, status=_status
        )
        host = HttpHost(settings.http, rt.metrics)
        host.add_check("database", rt.database.ping)
        slack = SlackRunner(settings.slack, settings.http, rt, host) if settings.slack.configured else None
        teams = None
        if settings.teams.configured:
            from bot.adapters.teams.runner import TeamsRunner

            teams = TeamsRunner(settings.teams, settings.graph, rt, host)
        if jobs.enabled:
            host.add_check("scheduler", scheduler.running)
        try:
            if slack is not None:
                await slack.start()
            if teams is not None:
                await teams.start()
            if jobs.enabled:
                await scheduler.start()
            await host.start()
            if slack is not None:
                where = "Socket Mode" if slack.mode == "socket" else "HTTP, /slack/events"
                _status(f"slack: connected ({where})")
            if teams is not None:
                _status("teams: listening on /api/messages")
            _status(f"http on {settings.http.host}:{host.port}; Ctrl-C to stop")
            await stop.wait()
        finally:
            await host.stop()
            await scheduler.stop()
            if teams is not None:
                await teams.stop()
            if slack is not None:
                await slack.stop()
    return 0
