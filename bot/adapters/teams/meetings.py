"""Teams meeting transcripts from Microsoft Graph (the ``Meetings`` port, for minutes).

A Teams online meeting id is the base64 of ``1*<organizer object id>*0**<meeting chat thread id>``,
so the organiser (whose ``/users/{id}/onlineMeetings`` hold the meeting) comes from the id itself;
``ORGANIZER_OBJECT_ID/MEETING_ID`` names both explicitly. Three application-permission calls
(``OnlineMeetings.Read.All``, ``OnlineMeetingTranscript.Read.All``, and an application access policy
for the organiser; without them Graph answers 403):

- ``…/onlineMeetings/{id}/transcripts``, paged: the newest transcript (after ``after``);
- ``…/transcripts/{tid}/content?$format=text/vtt``: its WebVTT (speakers as ``<v Name>``), at most
  ``max_bytes``;
- ``…/onlineMeetings/{id}``: title, organiser and attendees (who may read the minutes), the chat.

Only object ids and percent-quoted ids go into URLs; next page links are followed only on the
configured Graph origin, since each request carries Kura's token. 429/5xx are retried by the
session's ``RetryPolicy``, which the caller creates.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import aiohttp
from yarl import URL

from bot.adapters.teams.graph import MAX_PAGES, _base, _error_code, is_object_id
from bot.adapters.teams.tokens import TokenSource
from bot.core.types import MeetingTranscript
from bot.errors import ConfigurationError, InputError, UpstreamError

__all__ = ["MAX_TRANSCRIPT_BYTES", "GraphMeetings", "MeetingRef", "parse_meeting"]

_log = logging.getLogger(__name__)

#: The largest transcript read (a day-long meeting's WebVTT is a few MB).
MAX_TRANSCRIPT_BYTES = 20 * 1024 * 1024
#: The largest JSON answer read (a page of transcripts or a meeting is a few kB).
_MAX_JSON_BYTES = 4 * 1024 * 1024
#: Graph's ids (meetings, transcripts) are base64, standard or URL-safe: nothing that could be a path.
_GRAPH_ID = re.compile(r"[A-Za-z0-9+/=_-]{1,1024}")
_DECODED = re.compile(r"1\*([0-9A-Fa-f-]{36})\*0\*\*(19:[A-Za-z0-9_.=+-]{1,512}@thread\.(?:v2|tacv2|skype))")
_ACCEPT_VTT = "text/vtt"
#: A transcript found: when it was made, its id, and that time as Graph wrote it.
_Found = tuple[datetime, str, str]
_FORBIDDEN_HINT = (
    "Kura needs OnlineMeetings.Read.All, OnlineMeetingTranscript.Read.All and an application access policy "
    "covering the organiser"
)


@dataclass(frozen=True)
class MeetingRef:
    """A meeting as Graph finds it: the organiser's object id, the meeting id, and its chat if known."""

    organizer: str
    meeting_id: str
    thread: str | None


def _decode(meeting_id: str) -> tuple[str, str] | None:
    """(organiser, chat thread id) inside a Teams meeting id, or None when it holds no such pair."""
    if _GRAPH_ID.fullmatch(meeting_id) is None:
        return None
    standard = meeting_id.translate(str.maketrans("-_", "+/"))
    try:
        raw = base64.b64decode(standard + "=" * (-len(standard) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None
    found = _DECODED.fullmatch(raw.decode("ascii", errors="replace"))
    if found is None or not is_object_id(found[1]):
        return None
    return found[1].lower(), found[2]


def parse_meeting(meeting: str) -> MeetingRef:
    """The organiser and meeting id named by ``meeting``: a Teams online meeting id, or
    ``ORGANIZER_OBJECT_ID/MEETING_ID``.

    Raises:
        InputError: neither form.
    """
    text = meeting.strip()
    decoded = _decode(text)
    if decoded is not None:
        return MeetingRef(decoded[0], text, decoded[1])
    organizer, _, meeting_id = text.partition("/")
    if is_object_id(organizer) and _GRAPH_ID.fullmatch(meeting_id) is not None:
        inner = _decode(meeting_id)
        return MeetingRef(organizer.lower(), meeting_id, inner[1] if inner is not None else None)
    raise InputError(f"not a Teams meeting id (the onlineMeeting id, or ORGANIZER_OBJECT_ID/MEETING_ID): {text[:80]!r}")


def _instant(value: str) -> datetime:
    """An ISO 8601 time (Graph's have 7 fractional digits and ``Z``), in UTC when it names no zone."""
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _newest(body: dict[str, Any], since: datetime | None, best: _Found | None) -> _Found | None:
    """The newest of ``best`` and the page's transcripts created after ``since``, as (time, id, the
    time as Graph wrote it); malformed entries are left out."""
    values = body.get("value")
    if not isinstance(values, list):
        raise UpstreamError("Graph transcripts: the answer holds no list of transcripts")
    for item in values:
        created = item.get("createdDateTime") if isinstance(item, dict) else None
        transcript_id = item.get("id") if isinstance(item, dict) else None
        if not isinstance(created, str) or not isinstance(transcript_id, str):
            continue
        if _GRAPH_ID.fullmatch(transcript_id) is None:
            _log.warning("Graph transcript with a malformed id left out")
            continue
        try:
            when = _instant(created)
        except ValueError:
            _log.warning("Graph transcript with a malformed createdDateTime left out")
            continue
        if (since is None or when > since) and (best is None or when > best[0]):
            best = (when, transcript_id, created)
    return best


def _people(body: dict[str, Any]) -> tuple[str, ...]:
    """Lower-cased UPNs of the organiser and the attendees, once each (no UPN: left out, e.g. a
    phone caller or an anonymous guest)."""
    participants = body.get("participants")
    if not isinstance(participants, dict):
        return ()
    attendees = participants.get("attendees")
    entries = [participants.get("organizer"), *(attendees if isinstance(attendees, list) else [])]
    found: dict[str, None] = {}
    for entry in entries:
        upn = entry.get("upn") if isinstance(entry, dict) else None
        if isinstance(upn, str) and "@" in upn and not any(c.isspace() for c in upn):
            found[upn.lower()] = None
    return tuple(found)


class GraphMeetings:
    """Teams meeting transcripts (``transcript``), through Graph with Kura's application token."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        tokens: TokenSource,
        base_url: str,
        *,
        max_bytes: int = MAX_TRANSCRIPT_BYTES,
    ) -> None:
        self._session = session
        self._tokens = tokens
        self._base = _base(base_url)
        # As for groups: Graph's app id URI is its origin in every cloud (tokens.GRAPH_SCOPE by default).
        self.scope = f"{self._base.origin()}/.default"
        self._max_bytes = max_bytes

    async def transcript(self, meeting: str, *, after: str | None = None) -> MeetingTranscript | None:
        """The meeting's newest transcript (created after ``after``, an ISO time, when given), with
        its title, attendees and chat; None when it has none (yet).

        Raises:
            InputError: ``meeting`` or ``after`` is malformed, or the transcript is larger than allowed.
            UpstreamError: Graph refused (403 without the permissions or access policy, 404 an
                unknown meeting: Graph's error code is in the message) or could not be reached.
        """
        ref = parse_meeting(meeting)
        since = None
        if after is not None:
            try:
                since = _instant(after)
            except ValueError:
                raise InputError(f"not an ISO time: {after[:40]!r}") from None
        meeting_path = f"users/{ref.organizer}/onlineMeetings/{quote(ref.meeting_id, safe='')}"
        newest = await self._newest(self._url(f"{meeting_path}/transcripts"), since)
        if newest is None:
            return None
        _, transcript_id, created = newest
        content_path = f"{meeting_path}/transcripts/{quote(transcript_id, safe='')}/content"
        content = await self._content(self._url(content_path).with_query({"$format": _ACCEPT_VTT}))
        details = await self._json(self._url(meeting_path), "onlineMeeting")
        subject = details.get("subject")
        chat_info = details.get("chatInfo")
        thread = chat_info.get("threadId") if isinstance(chat_info, dict) else None
        return MeetingTranscript(
            meeting=ref.meeting_id,
            title=subject if isinstance(subject, str) else "",
            content=content,
            suffix=".vtt",
            attendees=_people(details),
            created=created,
            transcript=transcript_id,
            chat=thread if isinstance(thread, str) and thread else ref.thread,
        )

    def _url(self, path: str) -> URL:
        return self._base.with_path(f"{self._base.raw_path.rstrip('/')}/{path}", encoded=True)

    async def _newest(self, url: URL, since: datetime | None) -> _Found | None:
        best: _Found | None = None
        next_url: URL | None = url
        pages = 0
        while next_url is not None:
            pages += 1
            if pages > MAX_PAGES:
                raise UpstreamError(f"Graph transcripts: more than {MAX_PAGES} pages")
            body = await self._json(next_url, "transcripts")
            best = _newest(body, since, best)
            next_url = self._next(body)
        return best

    def _next(self, body: dict[str, Any]) -> URL | None:
        link = body.get("@odata.nextLink")
        if link is None:
            return None
        if not isinstance(link, str):
            raise UpstreamError("Graph transcripts: a malformed next page link")
        url = URL(link, encoded=True)  # its $skiptoken is already percent-encoded
        base = self._base
        same_origin = (url.scheme, url.host, url.port) == (base.scheme, base.host, base.port)
        if not same_origin or url.user is not None or not url.path.startswith(base.path.rstrip("/") + "/"):
            # Following it would hand Kura's Graph token to whoever wrote the link.
            raise UpstreamError("Graph transcripts: a next page link leaves the Graph host: refused")
        return url

    async def _headers(self, accept: str) -> dict[str, str]:
        try:
            token = await self._tokens.token(self.scope)
        except (UpstreamError, ConfigurationError) as exc:
            raise UpstreamError(f"no Graph token: {exc}") from exc
        return {"Authorization": f"Bearer {token}", "Accept": accept}

    async def _json(self, url: URL, what: str) -> dict[str, Any]:
        """One JSON answer of Graph (a page or a resource)."""
        status, data = await self._get(url, what, "application/json", _MAX_JSON_BYTES)
        try:
            body: Any = json.loads(data)
        except ValueError:
            body = None  # a proxy's error page, say: the status says what happened
        if status != 200 or not isinstance(body, dict):
            raise self._failure(what, status, body)
        return body

    async def _content(self, url: URL) -> bytes:
        status, data = await self._get(url, "transcript content", _ACCEPT_VTT, self._max_bytes)
        if status != 200:
            try:
                body: Any = json.loads(data)
            except ValueError:
                body = None
            raise self._failure("transcript content", status, body)
        return data

    async def _get(self, url: URL, what: str, accept: str, limit: int) -> tuple[int, bytes]:
        """The status and at most ``limit`` bytes of the answer (more: InputError, nothing kept)."""
        headers = await self._headers(accept)
        try:
            async with self._session.get(url, headers=headers, allow_redirects=False) as response:
                declared = response.content_length
                if declared is not None and declared > limit:
                    raise InputError(f"Graph {what} is larger than {limit} bytes ({declared}): not read")
                data = bytearray()
                async for chunk in response.content.iter_chunked(64 * 1024):
                    data += chunk
                    if len(data) > limit:
                        raise InputError(f"Graph {what} is larger than {limit} bytes: not read")
                return response.status, bytes(data)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise UpstreamError(f"Graph {what} could not be read ({type(exc).__name__})") from exc

    @staticmethod
    def _failure(what: str, status: int, body: Any) -> UpstreamError:
        code = _error_code(body)
        _log.warning("Graph meeting call failed what=%s status=%s code=%s", what, status, code)
        hint = f": {_FORBIDDEN_HINT}" if status == 403 else ""
        return UpstreamError(f"Graph {what} answered {status} ({code}){hint}")
