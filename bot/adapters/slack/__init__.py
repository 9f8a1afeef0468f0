"""The Slack adapter: events in (Socket Mode or HTTP), streamed answers and admin replies out."""

from bot.adapters.slack.app import SlackServices, build_app
from bot.adapters.slack.directory import SlackDirectory

__all__ = ["SlackDirectory", "SlackServices", "build_app"]
