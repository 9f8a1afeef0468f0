"""``kura serve``: the configured chat adapters, until SIGTERM or Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from bot.adapters.slack.runner import SlackRunner
from bot.errors import ConfigurationError
from bot.jobs.retention import retention_job, retention_trigger
from bot.jobs.scheduler import Scheduler
from bot.settings import KuraSettings
from bot.wiring import open_runtime

__all__ = ["serve"]


def _status(message: str) -> None:
    print(f"· {message}", file=sys.stderr, flush=True)


async def serve(settings: KuraSettings, args: argparse.Namespace) -> int:
    """Start Slack (Socket Mode or HTTP) on the full pipeline and the scheduler (retention), and
    wait for a stop signal."""
    if not settings.slack.configured:
        raise ConfigurationError(
            "no chat adapter is configured: set KURA_SLACK_BOT_TOKEN and KURA_SLACK_APP_TOKEN (Socket Mode) "
            "or KURA_SLACK_SIGNING_SECRET (HTTP mode); see README 'Connect to Slack'"
        )
    retention_trigger(settings.scheduler)  # a bad cron line or zone fails now, not after the model starts
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with open_runtime(settings, with_model=True, status=_status) as rt:
        jobs = settings.scheduler
        scheduler = Scheduler(
            rt.database.engine, [retention_job(rt)], timezone=jobs.timezone, check_s=jobs.leader_check_s, status=_status
        )
        runner = SlackRunner(settings.slack, settings.http, rt)
        await runner.start()
        if jobs.enabled:
            await scheduler.start()
        where = "Socket Mode" if runner.mode == "socket" else f"HTTP on {settings.http.host}:{runner.port}/slack/events"
        _status(f"slack: connected ({where}); Ctrl-C to stop")
        try:
            await stop.wait()
        finally:
            await scheduler.stop()
            await runner.stop()
    return 0
