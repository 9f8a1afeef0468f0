"""The Slack adapter: events in (Socket Mode or HTTP), streamed answers and admin replies out."""

from bot.adapters.slack.app import build_app
from bot.adapters.slack.directory import SlackDirectory
from bot.adapters.slack.history import SlackHistory
from bot.adapters.slack.transport import SlackTransport

__all__ = ["SlackDirectory", "SlackHistory", "SlackTransport", "build_app"]
