"""The Teams adapter (issue 9). So far: inbound authentication of activity requests (``auth.py``)."""

from bot.adapters.teams.auth import AuthError, InboundAuth, check_service_url, guarded

__all__ = ["AuthError", "InboundAuth", "check_service_url", "guarded"]
