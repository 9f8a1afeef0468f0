"""Which online meeting a Teams meeting chat belongs to, from the Bot Connector's meeting-info API.

A message in a meeting's chat carries Teams' own meeting id (``channelData.meeting.id``), which
Graph does not take. ``GET {serviceUrl}v1/meetings/{id}`` answers the meeting's details, among them
``details.msGraphResourceId`` (the Graph onlineMeeting id) and ``organizer.aadObjectId``: together
what the ``Meetings`` port reads a transcript by (``ORGANIZER_OBJECT_ID/MEETING_ID``). The call goes
through :class:`Connectors`, so it gets what replies get: the service URL allowlist, Kura's own Bot
Connector token, and retries of 429/5xx.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import aiohttp

from bot.adapters.teams.connector import Connectors
from bot.adapters.teams.meetings import parse_meeting
from bot.errors import InputError, UpstreamError

__all__ = ["MeetingInfo"]

#: Teams' meeting ids are base64 of a few hundred bytes; anything longer is not one.
_MAX_ID = 1024


def _field(body: Any, outer: str, inner: str) -> str:
    """``body[outer][inner]`` when it is a string, else ""."""
    part = body.get(outer) if isinstance(body, dict) else None
    value = part.get(inner) if isinstance(part, dict) else None
    return value if isinstance(value, str) else ""


class MeetingInfo:
    """Teams meeting ids → the meeting as Graph names it, through the Bot Connector."""

    def __init__(self, connectors: Connectors) -> None:
        self._connectors = connectors

    async def graph_meeting(self, service_url: str, meeting_id: str) -> str:
        """The meeting as the ``Meetings`` port takes it (``ORGANIZER_OBJECT_ID/GRAPH_MEETING_ID``).

        Args:
            service_url: the activity's ``serviceUrl`` (checked against the allowlist).
            meeting_id: ``channelData.meeting.id`` of a message in the meeting's chat.

        Raises:
            UpstreamError: the service URL is not allowed, the connector refused or could not be
                reached, or its answer names no organiser and Graph meeting.
        """
        if not meeting_id or len(meeting_id) > _MAX_ID:
            raise UpstreamError("Teams gave no usable meeting id")
        path = "v1/meetings/" + quote(meeting_id, safe="")
        try:
            async with self._connectors.open(service_url) as client, client.client.get(path) as response:
                response.raise_for_status()
                body = await response.json()
        except aiohttp.ClientResponseError as exc:
            raise UpstreamError(f"Teams refused the meeting info (HTTP {exc.status})") from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise UpstreamError(f"Teams could not be reached for the meeting info ({type(exc).__name__})") from exc
        except ValueError as exc:  # a body that is not JSON
            raise UpstreamError("Teams answered the meeting info with something other than JSON") from exc
        organizer = _field(body, "organizer", "aadObjectId")
        graph_id = _field(body, "details", "msGraphResourceId")
        try:
            ref = parse_meeting(f"{organizer}/{graph_id}")
        except InputError as exc:
            raise UpstreamError("the meeting info names no organiser and Graph meeting") from exc
        return f"{ref.organizer}/{ref.meeting_id}"
