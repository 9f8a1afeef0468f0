"""A local fake of the Bot Framework Connector v3 REST API (the Teams side of the wire), on aiohttp.

Kura's Teams adapter sends and edits messages, reads rosters and opens 1:1 chats through the
connector at an activity's ``serviceUrl``. This fake serves that API on 127.0.0.1 under a path
prefix (``/teams/``, like the real ``https://smba.trafficmanager.net/teams/``), so a client that drops
the service URL's path fails here as it would in production. Shapes follow the Bot Connector REST
reference and microsoft/Agents-for-python's ``connector_client.py`` (conversation ids go into the
path unencoded, ``;messageid=`` included).

Every request is recorded as a :class:`Call` before anything else happens, including requests that
then fail authentication or an injected failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import itertools
import json
from collections.abc import Callable, Iterable
from typing import Any

from aiohttp import web

from tests.fakes.bot_connector_wire import (
    BOT_ID,
    BOT_NAME,
    JSON,
    TENANT_ID,
    Call,
    Conversation,
    Stream,
    TeamsUser,
    _Injected,
    error_body,
    stream_info,
)
from tests.fakes.local_server import LocalServer

__all__ = ["Call", "Conversation", "FakeBotConnector", "Stream", "TeamsUser"]

PREFIX = "/teams"
_MAX_PAGE_SIZE = 500  # the connector's documented maximum for pagedmembers
_DEFAULT_PAGE_SIZE = 200
_STREAM_TYPES = frozenset({"informative", "streaming", "final"})


def _any_bearer(token: str) -> bool:
    return bool(token)


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response(error_body(code, message), status=status)


def _base_conversation_id(conversation_id: str) -> str:
    """A channel thread's id is the channel's id plus ``;messageid=<root>``: the roster is the channel's."""
    return conversation_id.split(";", 1)[0]


class FakeBotConnector(LocalServer):
    """The Bot Connector on 127.0.0.1 with an in-memory tenant: users, teams and conversations."""

    def __init__(
        self,
        users: Iterable[TeamsUser],
        conversations: Iterable[Conversation],
        *,
        teams: dict[str, list[str]] | None = None,
        token_check: Callable[[str], bool] = _any_bearer,
        bot_id: str = BOT_ID,
        bot_name: str = BOT_NAME,
        tenant_id: str = TENANT_ID,
    ) -> None:
        self.users: dict[str, TeamsUser] = {user.id: user for user in users}
        self.conversations: dict[str, Conversation] = {c.id: c for c in conversations}
        self.teams: dict[str, list[str]] = {team: list(ids) for team, ids in (teams or {}).items()}
        self.token_check = token_check
        self.bot_id = bot_id
        self.bot_name = bot_name
        self.tenant_id = tenant_id
        self.calls: list[Call] = []
        self.activities: dict[str, list[JSON]] = {}
        self.streams: dict[str, Stream] = {}
        #: Teams meeting id → what ``GET /v1/meetings/{id}`` answers (``bot_connector_wire.meeting_info``).
        self.meetings: dict[str, JSON] = {}
        self._injected: dict[str, list[_Injected]] = {}
        self._ids = itertools.count(1_700_000_000_000)
        self._call_arrived = asyncio.Event()

    # ------------------------------------------------------------------ lifecycle

    def _app(self) -> web.Application:
        app = web.Application()
        conversation = PREFIX + "/v3/conversations/{conversation_id}"
        routes: list[tuple[str, str, str]] = [
            ("POST", PREFIX + "/v3/conversations", "create_conversation"),
            ("POST", conversation + "/activities", "send"),
            ("POST", conversation + "/activities/{activity_id}", "reply"),
            ("PUT", conversation + "/activities/{activity_id}", "update"),
            ("DELETE", conversation + "/activities/{activity_id}", "delete"),
            ("GET", conversation + "/members", "members"),
            ("GET", conversation + "/members/{member_id}", "member"),
            ("GET", conversation + "/pagedmembers", "paged_members"),
            ("GET", PREFIX + "/v1/meetings/{meeting_id}", "meeting_info"),
        ]
        for method, path, operation in routes:
            app.router.add_route(method, path, self._endpoint(operation))
        app.router.add_route("*", "/{tail:.*}", self._endpoint("unknown"))
        return app

    @property
    def service_url(self) -> str:
        """The ``serviceUrl`` to put in inbound activities (with its path and trailing slash)."""
        return f"{self.origin}{PREFIX}/"

    # ------------------------------------------------------------------ test controls

    def calls_to(self, operation: str) -> list[Call]:
        return [call for call in self.calls if call.operation == operation]

    def fail(self, operation: str, status: int = 500, times: int = 1, retry_after: int | None = None) -> None:
        """Answer the next ``times`` calls of ``operation`` with ``status`` (plus Retry-After if given)."""
        self._injected.setdefault(operation, []).append(_Injected(status, times, retry_after))

    def rate_limit(self, operation: str, times: int = 1, retry_after: int = 1) -> None:
        """Answer the next ``times`` calls of ``operation`` with 429 and ``Retry-After``."""
        self.fail(operation, 429, times, retry_after)

    def sent(self, conversation_id: str) -> list[JSON]:
        """Activities stored in a conversation (thread ids included), in post order, as copies.

        Each carries the fake's own bookkeeping: ``_conversationPath`` (the id as addressed,
        ``;messageid=`` included), ``_updated`` and ``_deleted``.
        """
        return copy.deepcopy(self.activities.get(_base_conversation_id(conversation_id), []))

    async def wait_for(self, operation: str, count: int = 1, timeout: float = 30.0) -> list[Call]:  # noqa: ASYNC109
        """Wait until ``operation`` has been called at least ``count`` times; return its calls."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            self._call_arrived.clear()
            calls = self.calls_to(operation)
            if len(calls) >= count:
                return calls
            remaining = deadline - loop.time()
            if remaining <= 0:
                seen = [call.operation for call in self.calls]
                raise TimeoutError(f"{operation} called {len(calls)} times, wanted {count}; calls seen: {seen}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._call_arrived.wait(), remaining)

    def roster(self, conversation_id: str) -> list[TeamsUser] | None:
        """The members of a conversation, or None if the fake does not know it."""
        conversation = self.conversations.get(_base_conversation_id(conversation_id))
        if conversation is None:
            return None
        ids = conversation.members
        if ids is None:
            ids = tuple(self.teams.get(conversation.team_id or "", []))
        return [self.users[user_id] for user_id in ids if user_id in self.users]

    # ------------------------------------------------------------------ HTTP plumbing

    def _endpoint(self, operation: str) -> Callable[[web.Request], Any]:
        async def handle(request: web.Request) -> web.StreamResponse:
            return await self._handle(operation, request)

        return handle

    async def _handle(self, operation: str, request: web.Request) -> web.StreamResponse:
        text = await request.text() if request.body_exists else ""
        body: Any = None
        if text:
            try:
                body = json.loads(text)
            except ValueError:
                body = text
        call = Call(
            operation=operation,
            http_method=request.method,
            path=request.path,
            headers=dict(request.headers),
            query=dict(request.query),
            body=body,
            conversation_id=request.match_info.get("conversation_id"),
            activity_id=request.match_info.get("activity_id"),
            raw_path=request.raw_path,
            meeting_id=request.match_info.get("meeting_id"),
        )
        self.calls.append(call)
        self._call_arrived.set()
        authorization = request.headers.get("Authorization", "")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not self.token_check(token.strip()):
            return web.json_response({"message": "Authorization has been denied for this request."}, status=401)
        injected = self._take_injected(operation)
        if injected is not None:
            return injected
        if operation == "unknown":
            return _error(404, "NotFound", f"no route for {request.path}")
        if operation in ("send", "reply", "update") and not isinstance(body, dict):
            return _error(400, "BadSyntax", "the body must be an Activity object")
        return self._dispatch(operation, call, request)

    def _take_injected(self, operation: str) -> web.Response | None:
        queue = self._injected.get(operation)
        if not queue:
            return None
        injected = queue[0]
        injected.times -= 1
        if injected.times <= 0:
            queue.pop(0)
        headers = {"Retry-After": str(injected.retry_after)} if injected.retry_after is not None else None
        code = "TooManyRequests" if injected.status == 429 else "ServiceError"
        body = error_body(code, "injected by the test")
        return web.json_response(body, status=injected.status, headers=headers)

    def _dispatch(self, operation: str, call: Call, request: web.Request) -> web.Response:
        if operation == "create_conversation":
            return self._create_conversation(call.body)
        if operation == "meeting_info":
            found = self.meetings.get(call.meeting_id or "")
            if found is None:
                return _error(404, "NotFound", "Meeting not found.")
            return web.json_response(copy.deepcopy(found))
        conversation_id = call.conversation_id or ""
        roster = self.roster(conversation_id)
        if roster is None:
            return _error(404, "ConversationNotFound", "Conversation not found.")
        if operation == "members":
            return web.json_response([user.account() for user in roster])
        if operation == "member":
            return self._member(roster, request.match_info["member_id"])
        if operation == "paged_members":
            return self._paged_members(roster, call.query)
        if operation == "delete":
            return self._delete(conversation_id, call.activity_id or "")
        if operation == "update":
            return self._update(conversation_id, call.activity_id or "", call.body)
        return self._post(conversation_id, call.body, reply_to=call.activity_id)

    # ------------------------------------------------------------------ activities

    def _find(self, conversation_id: str, activity_id: str) -> JSON | None:
        for activity in self.activities.get(_base_conversation_id(conversation_id), []):
            if activity["id"] == activity_id and not activity.get("_deleted"):
                return activity
        return None

    def _store(self, conversation_id: str, activity: JSON, activity_id: str, reply_to: str | None) -> None:
        stored = copy.deepcopy(activity)
        stored["id"] = activity_id
        stored["_conversationPath"] = conversation_id  # the id as addressed, ;messageid= included
        if reply_to is not None:
            stored["replyToId"] = reply_to
        self.activities.setdefault(_base_conversation_id(conversation_id), []).append(stored)

    def _post(self, conversation_id: str, activity: JSON, *, reply_to: str | None) -> web.Response:
        # A reply's replyToId is usually a person's message, which the fake never stored: not checked.
        info = stream_info(activity)
        if info is not None:
            return self._stream(conversation_id, activity, info, reply_to)
        activity_id = str(next(self._ids))
        self._store(conversation_id, activity, activity_id, reply_to)
        return web.json_response({"id": activity_id}, status=201)

    def _update(self, conversation_id: str, activity_id: str, activity: JSON) -> web.Response:
        existing = self._find(conversation_id, activity_id)
        if existing is None:
            return _error(404, "ActivityNotFound", "Activity not found.")
        path = existing["_conversationPath"]
        reply_to = existing.get("replyToId")
        existing.clear()
        existing.update(copy.deepcopy(activity))
        existing.update({"id": activity_id, "_conversationPath": path, "_updated": True})
        if reply_to is not None:
            existing["replyToId"] = reply_to
        return web.json_response({"id": activity_id})

    def _delete(self, conversation_id: str, activity_id: str) -> web.Response:
        existing = self._find(conversation_id, activity_id)
        if existing is None:
            return _error(404, "ActivityNotFound", "Activity not found.")
        existing["_deleted"] = True
        return web.Response(status=200)

    def _stream(self, conversation_id: str, activity: JSON, info: JSON, reply_to: str | None) -> web.Response:
        """Teams streaming: typing activities with a streaminfo entity, ended by a message (final).

        Rejected the way Teams rejects them (403 ContentStreamNotAllowed): streaming outside a 1:1
        chat (the docs: "only in one-on-one chats"), and a streaming update whose text does not
        contain the text streamed before ("Request streamed content should contain the previously
        streamed content", reported in openclaw/openclaw#56040). Out-of-order ``streamSequence`` is
        only recorded (``Stream.in_order``): Teams' exact answer to it is not documented.
        """
        conversation = self.conversations[_base_conversation_id(conversation_id)]
        stream_type = str(info.get("streamType", ""))
        if stream_type not in _STREAM_TYPES:
            return _error(400, "BadArgument", f"invalid streamType {stream_type!r}")
        if conversation.kind != "personal":
            return _error(403, "ContentStreamNotAllowed", "Content stream is not allowed")
        stream_id = info.get("streamId")
        text = str(activity.get("text") or "")
        if stream_id is None:
            if stream_type == "final" or activity.get("type") != "typing":
                return _error(400, "BadArgument", "a stream starts with a typing activity")
            stream_id = str(next(self._ids))
            self.streams[stream_id] = Stream(id=stream_id, conversation_id=conversation.id)
            self._store(conversation_id, activity, stream_id, reply_to)
        stream = self.streams.get(str(stream_id))
        if stream is None or stream.conversation_id != conversation.id:
            return _error(400, "BadArgument", "unknown streamId")
        if stream.finished:
            return _error(403, "ContentStreamNotAllowed", "the stream has ended")
        previous = [t for t, kind in zip(stream.texts, stream.types, strict=True) if kind == "streaming"]
        if stream_type == "streaming" and previous and not text.startswith(previous[-1]):
            message = "Request streamed content should contain the previously streamed content"
            return _error(403, "ContentStreamNotAllowed", message)
        sequence = info.get("streamSequence")
        stream.sequences.append(sequence if isinstance(sequence, int) else -1)
        stream.types.append(stream_type)
        stream.texts.append(text)
        if stream_type == "final":
            stream.final_text = text
            stream.final_activity = copy.deepcopy(activity)
            existing = self._find(conversation_id, stream.id)
            if existing is not None:
                existing.update(copy.deepcopy(activity))
                existing["id"] = stream.id
        return web.json_response({"id": stream.id}, status=201)

    # ------------------------------------------------------------------ conversations and members

    def _create_conversation(self, body: Any) -> web.Response:
        """Open (or find) the 1:1 chat between the bot and one member, as proactive messages do."""
        if not isinstance(body, dict):
            return _error(400, "BadSyntax", "the body must be ConversationParameters")
        members = body.get("members")
        if body.get("isGroup") or not isinstance(members, list) or len(members) != 1:
            return _error(400, "BadArgument", "only 1:1 conversations can be created")
        member_id = str(members[0].get("id", "")) if isinstance(members[0], dict) else ""
        user = self._user(member_id)
        if user is None:
            return _error(404, "MemberNotFound", "the member is unknown")
        tenant = body.get("tenantId") or (body.get("channelData") or {}).get("tenant", {}).get("id")
        if tenant is not None and tenant != user.tenant_id:
            return _error(403, "Forbidden", "the member is in another tenant")
        conversation_id = f"a:personal-{user.id}"
        if conversation_id not in self.conversations:
            self.conversations[conversation_id] = Conversation(
                id=conversation_id, kind="personal", members=(user.id,), tenant_id=user.tenant_id
            )
        result: JSON = {"id": conversation_id, "serviceUrl": self.service_url}
        activity = body.get("activity")
        if isinstance(activity, dict):
            activity_id = str(next(self._ids))
            self._store(conversation_id, activity, activity_id, None)
            result["activityId"] = activity_id
        return web.json_response(result, status=201)

    def _user(self, member_id: str) -> TeamsUser | None:
        """A user by Teams id or by AAD object id (the connector accepts either as memberId)."""
        if member_id in self.users:
            return self.users[member_id]
        for user in self.users.values():
            if member_id and user.aad_object_id == member_id:
                return user
        return None

    def _member(self, roster: list[TeamsUser], member_id: str) -> web.Response:
        user = self._user(member_id)
        if user is None or user not in roster:
            message = "The specified user is not a member of the conversation."
            return _error(404, "MemberNotFoundInConversation", message)
        return web.json_response(user.account())

    def _paged_members(self, roster: list[TeamsUser], query: dict[str, str]) -> web.Response:
        try:
            page_size = int(query.get("pageSize") or _DEFAULT_PAGE_SIZE)
            offset = int(query.get("continuationToken") or "0", 16) if query.get("continuationToken") else 0
        except ValueError:
            return _error(400, "BadArgument", "invalid pageSize or continuationToken")
        if page_size < 1 or offset < 0 or offset > len(roster):
            return _error(400, "BadArgument", "invalid pageSize or continuationToken")
        page_size = min(page_size, _MAX_PAGE_SIZE)
        page = roster[offset : offset + page_size]
        result: JSON = {"members": [user.account() for user in page]}
        if offset + page_size < len(roster):
            result["continuationToken"] = format(offset + page_size, "x")
        return web.json_response(result)
