"""Chat platforms attached to a command-line runtime for one command (posting, reading channels,
meetings): Slack's client and Teams' ports load only when the command needs them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection
from contextlib import AsyncExitStack, asynccontextmanager

from bot.settings import KuraSettings
from bot.wiring import Runtime

__all__ = ["attached"]


@asynccontextmanager
async def attached(rt: Runtime, settings: KuraSettings, platforms: Collection[str]) -> AsyncIterator[None]:
    """Attach each of ``platforms`` (``slack``, ``teams``) that is configured, for the block."""
    async with AsyncExitStack() as stack:
        if "slack" in platforms and settings.slack.bot_token is not None:
            from bot.adapters.slack.runner import attach_slack

            await attach_slack(rt, settings.slack)
        if "teams" in platforms and settings.teams.configured:
            import aiohttp

            from bot.adapters.teams.retry import RetryPolicy
            from bot.adapters.teams.runner import attach_teams
            from bot.adapters.teams.tokens import TokenSource

            session = await stack.enter_async_context(
                aiohttp.ClientSession(middlewares=(RetryPolicy(),), timeout=aiohttp.ClientTimeout(total=30))
            )
            parts = attach_teams(rt, settings.teams, settings.graph, session, TokenSource(settings.teams))
            stack.push_async_callback(parts.connectors.close)
        yield
