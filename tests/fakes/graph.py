"""A local fake of Microsoft Graph v1.0 (the parts Kura calls: a user's groups, online meetings and
their transcripts), on aiohttp.

``GET /v1.0/users/{id}/transitiveMemberOf/microsoft.graph.group`` answers as Graph does: every group
the user is in, directly or through other groups, with ``$select`` and ``$top`` honoured and further
pages behind an absolute ``@odata.nextLink`` carrying an opaque ``$skiptoken``. A bearer token is
required (``token_check``, as in :mod:`tests.fakes.bot_connector`); an unknown user is 404
``Request_ResourceNotFound``; failures (429 with ``Retry-After``, 503, 403 with any error code) can be
injected. Served over TLS by default (Kura sends its Graph token over https only).

``GET /v1.0/users/{organizer}/onlineMeetings/{id}`` answers a meeting its organiser holds (404
otherwise); ``…/transcripts`` lists its transcripts, paged like groups; ``…/transcripts/{tid}/content``
serves the WebVTT when asked for ``text/vtt`` (``$format`` or ``Accept``), with a ``Content-Length``
or, with ``chunked_content``, without one.

Every request is recorded as a :class:`GraphCall` before anything else happens.
"""

from __future__ import annotations

import base64
import secrets
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from yarl import URL

from tests.fakes.local_server import LocalServer

__all__ = ["FakeGraph", "GraphCall", "GraphGroup", "GraphMeeting", "GraphTranscript", "meeting_id", "new_id"]

JSON = dict[str, Any]
PREFIX = "/v1.0"
#: Graph's maximum ``$top`` for directory objects, and its default page.
MAX_TOP = 999
DEFAULT_TOP = 100
_GROUP_PROPERTIES = ("id", "displayName", "description", "mail", "securityEnabled", "mailEnabled")


def new_id() -> str:
    """A fresh Entra object id."""
    return str(uuid.uuid4())


def meeting_id(organizer: str, thread: str) -> str:
    """A Teams online meeting id as Graph makes it: base64 of ``1*<organizer>*0**<chat thread id>``."""
    return base64.b64encode(f"1*{organizer}*0**{thread}".encode("ascii")).decode("ascii")


def _any_bearer(token: str) -> bool:
    return bool(token)


@dataclass(frozen=True)
class GraphGroup:
    """An Entra group."""

    id: str
    display_name: str
    security_enabled: bool = True

    def resource(self) -> JSON:
        return {
            "@odata.type": "#microsoft.graph.group",
            "id": self.id,
            "displayName": self.display_name,
            "description": None,
            "mail": None,
            "securityEnabled": self.security_enabled,
            "mailEnabled": False,
        }


@dataclass(frozen=True)
class GraphTranscript:
    """A meeting's transcript: its id, when it was made (as Graph writes it), its WebVTT."""

    id: str
    created: str
    content: bytes


@dataclass
class GraphMeeting:
    """An online meeting: the organiser (object id, UPN), attendees' UPNs (None: a phone caller or an
    anonymous guest), the chat thread in its id, and its transcripts. ``chat`` is the
    ``chatInfo.threadId`` Graph gives: "" the id's thread, None no ``chatInfo`` at all."""

    organizer: str
    organizer_upn: str
    subject: str | None
    attendees: tuple[str | None, ...]
    thread: str
    transcripts: list[GraphTranscript] = field(default_factory=list)
    chat: str | None = ""

    @property
    def id(self) -> str:
        return meeting_id(self.organizer, self.thread)

    def resource(self) -> JSON:
        def identity(upn: str | None) -> JSON:
            return {"upn": upn, "role": "attendee", "identity": {"user": {"id": new_id() if upn else None}}}

        resource: JSON = {
            "id": self.id,
            "subject": self.subject,
            "participants": {
                "organizer": identity(self.organizer_upn) | {"role": "presenter"},
                "attendees": [identity(upn) for upn in self.attendees],
            },
        }
        if self.chat is not None:
            resource["chatInfo"] = {"threadId": self.chat or self.thread, "messageId": "0"}
        return resource


@dataclass(frozen=True)
class GraphCall:
    """One request as it arrived."""

    method: str
    path: str
    query: dict[str, str]
    authorization: str | None
    user_id: str | None
    accept: str | None = None
    #: The path as sent, still percent-encoded.
    raw_path: str = ""


@dataclass
class _Injected:
    status: int
    times: int
    retry_after: int | None
    code: str | None


@dataclass
class _Directory:
    users: set[str] = field(default_factory=set)
    groups: dict[str, GraphGroup] = field(default_factory=dict)
    #: A member (user or group id) → the groups it is directly in.
    member_of: dict[str, list[str]] = field(default_factory=dict)


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> web.Response:
    body = {"error": {"code": code, "message": message, "innerError": {"request-id": str(uuid.uuid4())}}}
    return web.json_response(body, status=status, headers=headers)


class FakeGraph(LocalServer):
    """Graph on 127.0.0.1 with an in-memory directory of users, groups and memberships."""

    def __init__(
        self,
        *,
        users: Iterable[str] = (),
        groups: Iterable[GraphGroup] = (),
        member_of: dict[str, Iterable[str]] | None = None,
        token_check: Callable[[str], bool] = _any_bearer,
        page_size: int = MAX_TOP,
        tls: bool = True,
    ) -> None:
        self.directory = _Directory(
            {user.lower() for user in users},
            {group.id: group for group in groups},
            {member.lower(): list(ids) for member, ids in (member_of or {}).items()},
        )
        self.token_check = token_check
        self.page_size = page_size
        self.tls = tls
        self.calls: list[GraphCall] = []
        #: Where next page links point (None: this fake's own origin): a test can aim them elsewhere.
        self.next_link_origin: str | None = None
        self._injected: list[_Injected] = []
        self._pages: dict[str, list[list[JSON]]] = {}
        #: (organiser, meeting id) → the meeting.
        self.meetings: dict[tuple[str, str], GraphMeeting] = {}
        #: Serve transcript content without a Content-Length (chunked), as a proxy may.
        self.chunked_content = False

    # ------------------------------------------------------------------ lifecycle

    def _app(self) -> web.Application:
        app = web.Application()
        app.router.add_get(PREFIX + "/users/{user_id}/transitiveMemberOf/microsoft.graph.group", self._member_of)
        meeting = PREFIX + "/users/{user_id}/onlineMeetings/{meeting_id}"
        app.router.add_get(meeting, self._meeting)
        app.router.add_get(meeting + "/transcripts", self._transcripts)
        app.router.add_get(meeting + "/transcripts/{transcript_id}/content", self._content)
        app.router.add_route("*", "/{tail:.*}", self._unknown)
        return app

    @property
    def base_url(self) -> str:
        """For ``KURA_GRAPH_BASE_URL``."""
        return f"{self.origin}{PREFIX}"

    # ------------------------------------------------------------------ test controls

    def add_user(self, user_id: str, *group_ids: str) -> None:
        """A user directly in ``group_ids``."""
        self.directory.users.add(user_id.lower())
        self.directory.member_of.setdefault(user_id.lower(), []).extend(group_ids)

    def add_group(self, group: GraphGroup, *parent_ids: str) -> None:
        """A group, itself directly in ``parent_ids``."""
        self.directory.groups[group.id] = group
        self.directory.member_of.setdefault(group.id.lower(), []).extend(parent_ids)

    def add_meeting(self, meeting: GraphMeeting) -> str:
        """An online meeting; its id."""
        self.meetings[(meeting.organizer.lower(), meeting.id)] = meeting
        return meeting.id

    def fail(self, status: int = 503, times: int = 1, retry_after: int | None = None, code: str | None = None) -> None:
        """Answer the next ``times`` group or meeting requests with ``status`` (plus Retry-After if
        given; ``code``: Graph's error code, else the usual one for the status)."""
        self._injected.append(_Injected(status, times, retry_after, code))

    def rate_limit(self, times: int = 1, retry_after: int = 1) -> None:
        """Answer the next ``times`` group requests with 429 and ``Retry-After``."""
        self.fail(429, times, retry_after)

    def group_calls(self, user_id: str | None = None) -> list[GraphCall]:
        """Requests for a user's groups (any user, or ``user_id``'s)."""
        return [
            call
            for call in self.calls
            if call.user_id is not None
            and "/transitiveMemberOf/" in call.path
            and (user_id is None or call.user_id.lower() == user_id.lower())
        ]

    def meeting_calls(self) -> list[GraphCall]:
        """Requests for online meetings, their transcripts and content."""
        return [call for call in self.calls if "/onlineMeetings/" in call.path]

    def transitive_groups(self, member_id: str) -> list[GraphGroup]:
        """Every group ``member_id`` is in, directly or through other groups (cycles allowed)."""
        seen: dict[str, GraphGroup] = {}
        pending = list(self.directory.member_of.get(member_id.lower(), []))
        while pending:
            group_id = pending.pop(0)
            if group_id in seen or group_id not in self.directory.groups:
                continue
            seen[group_id] = self.directory.groups[group_id]
            pending.extend(self.directory.member_of.get(group_id.lower(), []))
        return list(seen.values())

    # ------------------------------------------------------------------ handlers

    def _record(self, request: web.Request) -> GraphCall:
        call = GraphCall(
            method=request.method,
            path=request.path,
            query=dict(request.query),
            authorization=request.headers.get("Authorization"),
            user_id=request.match_info.get("user_id"),
            accept=request.headers.get("Accept"),
            raw_path=request.raw_path.partition("?")[0],
        )
        self.calls.append(call)
        return call

    def _authorized(self, call: GraphCall) -> bool:
        scheme, _, token = (call.authorization or "").partition(" ")
        return scheme.lower() == "bearer" and self.token_check(token.strip())

    def _take_injected(self) -> web.Response | None:
        if not self._injected:
            return None
        injected = self._injected[0]
        injected.times -= 1
        if injected.times <= 0:
            self._injected.pop(0)
        headers = {"Retry-After": str(injected.retry_after)} if injected.retry_after is not None else None
        code = injected.code or {
            429: "TooManyRequests",
            403: "Authorization_RequestDenied",
            401: "InvalidAuthenticationToken",
            404: "UnknownError",
        }.get(injected.status, "serviceNotAvailable")
        return _error(injected.status, code, "injected by the test", headers)

    async def _unknown(self, request: web.Request) -> web.Response:
        call = self._record(request)
        if not self._authorized(call):
            return _error(401, "InvalidAuthenticationToken", "Access token is empty.")
        return _error(400, "BadRequest", f"Resource not found for the segment in {request.path}.")

    async def _member_of(self, request: web.Request) -> web.Response:
        call = self._record(request)
        if not self._authorized(call):
            return _error(401, "InvalidAuthenticationToken", "Access token validation failure.")
        injected = self._take_injected()
        if injected is not None:
            return injected
        user_id = call.user_id or ""
        token = call.query.get("$skiptoken")
        if token is not None:
            return self._page(request, user_id, token)
        if user_id.lower() not in self.directory.users:
            return _error(
                404,
                "Request_ResourceNotFound",
                f"Resource '{user_id}' does not exist or one of its queried reference-property objects"
                " are not present.",
            )
        try:
            top = int(call.query.get("$top", DEFAULT_TOP))
        except ValueError:
            return _error(400, "BadRequest", "Invalid $top value.")
        if not 1 <= top <= MAX_TOP:
            return _error(400, "Request_UnsupportedQuery", f"$top must be between 1 and {MAX_TOP}.")
        select = [name for name in call.query.get("$select", "").split(",") if name]
        unknown = [name for name in select if name not in _GROUP_PROPERTIES]
        if unknown:
            return _error(
                400, "BadRequest", f"Could not find a property named '{unknown[0]}' on 'microsoft.graph.group'."
            )
        resources = [_selected(group.resource(), select) for group in self.transitive_groups(user_id)]
        size = min(top, self.page_size)
        pages = [resources[start : start + size] for start in range(0, len(resources), size)] or [[]]
        return self._answer(request, pages)

    def _page(self, request: web.Request, user_id: str, token: str) -> web.Response:
        pages = self._pages.pop(token, None)
        if pages is None:
            return _error(400, "Directory_ExpiredPageToken", "The page token is not valid.")
        return self._answer(request, pages)

    def _answer(self, request: web.Request, pages: list[list[JSON]]) -> web.Response:
        body: JSON = {"@odata.context": f"{self.origin}{PREFIX}/$metadata", "value": pages[0]}
        if len(pages) > 1:
            token = secrets.token_urlsafe(24)
            self._pages[token] = pages[1:]
            origin = self.next_link_origin or self.origin
            query = {key: value for key, value in request.query.items() if key != "$skiptoken"}
            query["$skiptoken"] = token
            # The request's own path, still percent-encoded (a meeting id may hold "/" or "+").
            body["@odata.nextLink"] = str(
                URL(origin.rstrip("/") + request.raw_path.partition("?")[0], encoded=True).with_query(query)
            )
        return web.json_response(body)

    def _meeting_of(self, request: web.Request, call: GraphCall) -> GraphMeeting | web.Response:
        """The meeting a request names, or the answer Graph gives instead (401, injected, 404)."""
        if not self._authorized(call):
            return _error(401, "InvalidAuthenticationToken", "Access token validation failure.")
        injected = self._take_injected()
        if injected is not None:
            return injected
        meeting = self.meetings.get(((call.user_id or "").lower(), request.match_info["meeting_id"]))
        if meeting is None:
            return _error(404, "NotFound", "The specified onlineMeeting was not found.")
        return meeting

    async def _meeting(self, request: web.Request) -> web.Response:
        meeting = self._meeting_of(request, self._record(request))
        return meeting if isinstance(meeting, web.Response) else web.json_response(meeting.resource())

    async def _transcripts(self, request: web.Request) -> web.Response:
        meeting = self._meeting_of(request, self._record(request))
        if isinstance(meeting, web.Response):
            return meeting
        token = request.query.get("$skiptoken")
        if token is not None:
            pages = self._pages.pop(token, None)
            if pages is None:
                return _error(400, "BadRequest", "The page token is not valid.")
            return self._answer(request, pages)
        resources = [
            {"id": item.id, "meetingId": meeting.id, "createdDateTime": item.created, "endDateTime": item.created}
            for item in meeting.transcripts
        ]
        pages = [resources[start : start + self.page_size] for start in range(0, len(resources), self.page_size)]
        return self._answer(request, pages or [[]])

    async def _content(self, request: web.Request) -> web.StreamResponse:
        meeting = self._meeting_of(request, self._record(request))
        if isinstance(meeting, web.Response):
            return meeting
        wanted = request.query.get("$format") or request.headers.get("Accept") or ""
        if wanted.split(";")[0].strip() != "text/vtt":
            return _error(400, "BadRequest", f"Unsupported format {wanted!r}.")
        found = [item for item in meeting.transcripts if item.id == request.match_info["transcript_id"]]
        if not found:
            return _error(404, "NotFound", "The specified transcript was not found.")
        if not self.chunked_content:
            return web.Response(body=found[0].content, content_type="text/vtt")
        response = web.StreamResponse(headers={"Content-Type": "text/vtt"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        for start in range(0, len(found[0].content), 256 * 1024):
            await response.write(found[0].content[start : start + 256 * 1024])
        await response.write_eof()
        return response


def _selected(resource: JSON, select: list[str]) -> JSON:
    if not select:
        return resource
    return {"@odata.type": resource["@odata.type"]} | {name: resource[name] for name in select}
