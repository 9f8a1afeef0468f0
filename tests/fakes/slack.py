"""A local fake of Slack: the Web API over HTTP and Socket Mode over a WebSocket, on aiohttp.

It speaks Slack's real wire protocol, so the real ``slack_sdk`` clients (``AsyncWebClient`` with
``base_url=fake.api_url`` and the aiohttp ``SocketModeClient`` behind Bolt's ``AsyncSocketModeHandler``)
work against it unmodified. Modelled on bolt-python's ``tests/mock_web_api_server`` and
``tests/adapter_tests/socket_mode/mock_socket_mode_server.py``, but async, and stateful
enough (members, users, messages, threads, streams) for Kura's tests.

Every HTTP request is recorded as a :class:`Call` before anything else happens, so tests can assert on
exactly what went over the wire, including failed and unknown calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import hashlib
import hmac
import json
import mimetypes
import time
import uuid
from collections import deque
from collections.abc import Iterable
from types import TracebackType
from typing import Any, Self

from aiohttp import WSCloseCode, WSMsgType, web

__all__ = ["Call", "FakeSlack", "SlackUser"]

from tests.fakes.slack_methods import WebApiMethods
from tests.fakes.slack_wire import (
    _TS_BASE_SECONDS,
    APP_ID,
    JSON,
    VERIFICATION_TOKEN,
    Call,
    SlackUser,
    _Handler,
    _maybe_json,
    _RateLimit,
    _ts_to_micros,
)


class FakeSlack(WebApiMethods):
    """Slack's Web API and Socket Mode on 127.0.0.1, with a small in-memory workspace.

    ``users`` are the members ``users.info`` and ``users.list`` know; ``channels`` maps channel IDs to
    member IDs for ``conversations.members`` and ``conversations.info``. Channels whose ID starts with
    ``D`` are DMs; the others are public unless listed in ``private``, ``group_dms`` (multi-person
    DMs) or ``shared`` (Slack Connect, public or private).
    """

    def __init__(
        self,
        users: list[SlackUser],
        channels: dict[str, list[str]],
        *,
        bot_user_id: str = "U_KURA",
        team_id: str = "T_KURA",
        private: Iterable[str] = (),
        group_dms: Iterable[str] = (),
        shared: Iterable[str] = (),
        bot_token: str = "xoxb-test",  # noqa: S107 - the fake's own token
    ) -> None:
        self.users: dict[str, SlackUser] = {user.id: user for user in users}
        self.channels: dict[str, list[str]] = {channel: list(members) for channel, members in channels.items()}
        self.private: set[str] = set(private)
        self.group_dms: set[str] = set(group_dms)
        self.shared: set[str] = set(shared)
        self.bot_user_id = bot_user_id
        self.team_id = team_id
        self.bot_token = bot_token
        #: At most this many messages a ``conversations.history`` page (Slack's cap for some apps); None: no cap.
        self.history_page_cap: int | None = None
        self.calls: list[Call] = []
        self.acks: list[JSON] = []

        self._messages: list[JSON] = []
        self._files: dict[str, bytes] = {}
        self._last_ts_micros = _TS_BASE_SECONDS * 1_000_000
        self._rate_limits: dict[str, _RateLimit] = {}
        self._failures: dict[str, deque[str]] = {}
        self._response_urls: set[str] = set()
        self._tickets: set[str] = set()
        self._triggers: set[str] = set()
        #: Modals opened with ``views.open``, by view id.
        self.views: dict[str, JSON] = {}
        self._sockets: list[web.WebSocketResponse] = []
        self._pending_acks: dict[str, asyncio.Future[JSON]] = {}
        self._call_arrived = asyncio.Event()
        self._connected = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._port: int | None = None

        self._methods: dict[str, _Handler] = {
            "auth.test": self._auth_test,
            "apps.connections.open": self._apps_connections_open,
            "users.info": self._users_info,
            "users.list": self._users_list,
            "conversations.members": self._conversations_members,
            "conversations.info": self._conversations_info,
            "conversations.replies": self._conversations_replies,
            "conversations.history": self._conversations_history,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "chat.delete": self._chat_delete,
            "conversations.open": self._conversations_open,
            "users.lookupByEmail": self._users_lookup_by_email,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.startStream": self._chat_start_stream,
            "chat.appendStream": self._chat_append_stream,
            "chat.stopStream": self._chat_stop_stream,
            "assistant.threads.setStatus": self._assistant_threads_set_status,
            "views.open": self._views_open,
        }

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Serve on 127.0.0.1 on a free port."""
        if self._runner is not None:
            raise RuntimeError("FakeSlack is already started")
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._handle_api)
        app.router.add_get("/link/", self._handle_socket)
        app.router.add_post("/response/{hook}", self._handle_response_url)
        app.router.add_get("/files-pri/{key}/{tail:.+}", self._handle_file)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self._runner = runner
        self._port = int(runner.addresses[0][1])

    async def stop(self) -> None:
        """Close every Socket Mode connection (code 1001), cancel pending acks, and stop serving.

        Close Bolt's ``AsyncSocketModeHandler`` first: a SocketModeClient left running treats the close
        as a cue to reconnect and keeps retrying ``apps.connections.open`` against the stopped fake.
        """
        for socket in list(self._sockets):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(socket.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown"), 5.0)
        for future in self._pending_acks.values():
            if not future.done():
                future.cancel()
        self._pending_acks.clear()
        if self._runner is not None:
            await self._runner.cleanup()
        self._runner = None
        self._connected.clear()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("FakeSlack is not started")
        return self._port

    @property
    def api_url(self) -> str:
        """The ``base_url`` for ``AsyncWebClient`` (with the trailing slash it needs)."""
        return f"http://127.0.0.1:{self.port}/api/"

    # ------------------------------------------------------------------ test controls

    def calls_to(self, method: str) -> list[Call]:
        return [call for call in self.calls if call.method == method]

    def rate_limit(self, method: str, times: int = 1, retry_after: int = 1) -> None:
        """Answer the next ``times`` calls of ``method`` with HTTP 429 and ``Retry-After``."""
        self._rate_limits[method] = _RateLimit(times=times, retry_after=retry_after)

    def fail(self, method: str, error: str, times: int = 1) -> None:
        """Answer the next ``times`` calls of ``method`` with ``{"ok": false, "error": error}`` (HTTP 200)."""
        self._failures.setdefault(method, deque()).extend([error] * times)

    async def wait_for(self, method: str, count: int = 1, timeout: float = 30.0) -> list[Call]:  # noqa: ASYNC109 - as above
        """Wait until ``method`` has been called at least ``count`` times; return its calls."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            self._call_arrived.clear()
            calls = self.calls_to(method)
            if len(calls) >= count:
                return calls
            remaining = deadline - loop.time()
            if remaining <= 0:
                seen = [call.method for call in self.calls]
                raise TimeoutError(
                    f"{method} called {len(calls)} times, wanted {count}, within {timeout}s; calls seen: {seen}"
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._call_arrived.wait(), remaining)

    def response_url(self) -> str:
        """A fresh response_url on this fake; POSTs to it are recorded as method ``response_url``."""
        hook = uuid.uuid4().hex
        self._response_urls.add(hook)
        return f"http://127.0.0.1:{self.port}/response/{hook}"

    def _trigger(self) -> str:
        trigger = f"{int(time.time())}.{uuid.uuid4().int % 10**12}.{uuid.uuid4().hex}"
        self._triggers.add(trigger)
        return trigger

    def _person(self, user: str) -> JSON:
        name = self.users[user].name or user.lower()
        return {"id": user, "username": name, "name": name, "team_id": self.team_id}

    def block_actions(self, user: str, message: JSON, action_id: str) -> JSON:
        """An ``interactive`` ``block_actions`` payload: ``user`` clicked the button ``action_id`` of
        ``message`` (a stored message, as :meth:`messages` returns it), with a fresh ``response_url``
        and a ``trigger_id`` that :meth:`_views_open` takes once."""
        block, button = next(
            (b, e)
            for b in message.get("blocks") or []
            if b.get("type") == "actions"
            for e in b["elements"]
            if e.get("action_id") == action_id
        )
        channel = str(message["channel"])
        return {
            "type": "block_actions",
            "user": self._person(user),
            "api_app_id": APP_ID,
            "token": VERIFICATION_TOKEN,
            "container": {"type": "message", "message_ts": message["ts"], "channel_id": channel, "is_ephemeral": False},
            "trigger_id": self._trigger(),
            "team": {"id": self.team_id, "domain": "kura-test"},
            "enterprise": None,
            "is_enterprise_install": False,
            "channel": {"id": channel, "name": "directmessage" if channel.startswith("D") else channel.lower()},
            "message": self._wire(message),
            "state": {"values": {}},
            "response_url": self.response_url(),
            "actions": [{**button, "block_id": block.get("block_id"), "action_ts": f"{time.time():.6f}"}],
        }

    def view_submission(self, user: str, view_id: str, values: dict[str, dict[str, str]]) -> JSON:
        """An ``interactive`` ``view_submission`` payload: ``user`` submitted the modal ``view_id``
        (opened with ``views.open``) having typed ``values`` (``{block_id: {action_id: text}}``)."""
        view = copy.deepcopy(self.views[view_id])
        view["state"] = {
            "values": {
                block: {action: {"type": "plain_text_input", "value": text} for action, text in inputs.items()}
                for block, inputs in values.items()
            }
        }
        return {
            "type": "view_submission",
            "team": {"id": self.team_id, "domain": "kura-test"},
            "user": self._person(user),
            "api_app_id": APP_ID,
            "token": VERIFICATION_TOKEN,
            "trigger_id": self._trigger(),
            "view": view,
            "response_urls": [],
            "enterprise": None,
            "is_enterprise_install": False,
        }

    def messages(self, channel: str) -> list[JSON]:
        """Messages stored for ``channel``, in post order (copies)."""
        return [copy.deepcopy(message) for message in self._messages if message["channel"] == channel]

    def add_message(
        self,
        channel: str,
        ts: str,
        user: str,
        text: str,
        thread_ts: str | None = None,
        *,
        subtype: str | None = None,
        bot_id: str | None = None,
        files: list[JSON] | None = None,
    ) -> None:
        """Register a message (a person's; a bot's with ``bot_id``; a ``channel_join`` and such with
        ``subtype``), so ``conversations.history`` and ``conversations.replies`` can return it."""
        message = self._new_message(
            channel, ts, text=text, user=user, thread_ts=thread_ts, bot_id=bot_id, subtype=subtype, files=files
        )
        self._messages.append(message)
        self._last_ts_micros = max(self._last_ts_micros, _ts_to_micros(ts))

    def upload(self, channel: str, user: str, name: str, content: bytes) -> JSON:
        """Store a file ``user`` shared in ``channel``; its file object as events and messages carry it.

        ``url_private_download`` is served by this fake to the bot token only (see :meth:`_handle_file`)."""
        file_id = "F" + uuid.uuid4().hex[:10].upper()
        self._files[file_id] = content
        base = f"http://127.0.0.1:{self.port}/files-pri/{self.team_id}-{file_id}"
        mimetype = mimetypes.guess_type(name)[0] or "application/octet-stream"
        return {
            "id": file_id,
            "created": int(time.time()),
            "name": name,
            "title": name,
            "mimetype": mimetype,
            "filetype": name.rpartition(".")[2] if "." in name else "binary",
            "user": user,
            "user_team": self.team_id,
            "mode": "hosted",
            "is_external": False,
            "is_public": not channel.startswith("D") and channel not in self.private,
            "size": len(content),
            "url_private": f"{base}/{name}",
            "url_private_download": f"{base}/download/{name}",
            "permalink": f"https://kura-test.slack.com/files/{user}/{file_id}/{name}",
        }

    def app_mention(
        self, channel: str, user: str, text: str, *, files: Iterable[JSON] = (), thread_ts: str | None = None
    ) -> JSON:
        """An ``app_mention`` event of ``user`` saying ``text`` to Kura (with ``files`` attached),
        stored as a message of the channel; wrap it with :meth:`event_callback` to send it."""
        attached = list(files)
        ts = self._next_ts()
        said = f"<@{self.bot_user_id}> {text}"
        subtype = "file_share" if attached else None
        self.add_message(channel, ts, user, said, thread_ts, subtype=subtype, files=attached or None)
        event: JSON = {"type": "app_mention", "user": user, "text": said, "ts": ts, "channel": channel, "event_ts": ts}
        if thread_ts is not None:
            event["thread_ts"] = thread_ts
        if attached:
            event["files"] = attached
            event["upload"] = False
        return event

    # ------------------------------------------------------------------ Socket Mode

    async def wait_connected(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Wait until a Socket Mode client is connected and has been sent ``hello``."""
        try:
            await asyncio.wait_for(self._connected.wait(), timeout)
        except TimeoutError:
            raise TimeoutError(f"no Socket Mode client connected within {timeout}s") from None

    async def send_envelope(
        self,
        envelope_type: str,
        payload: JSON,
        *,
        retry_attempt: int = 0,
        retry_reason: str = "",
        accepts_response_payload: bool = False,
        timeout: float = 10.0,  # noqa: ASYNC109 - the interface takes explicit timeouts
    ) -> JSON:
        """Send an envelope to the connected client and return its ack."""
        await self.wait_connected(timeout)
        open_sockets = [s for s in self._sockets if not s.closed]
        if not open_sockets:
            raise ConnectionError("the Socket Mode client disconnected")
        socket = open_sockets[-1]
        envelope_id = str(uuid.uuid4())
        envelope = {
            "envelope_id": envelope_id,
            "type": envelope_type,
            "payload": payload,
            "accepts_response_payload": accepts_response_payload,
            "retry_attempt": retry_attempt,
            "retry_reason": retry_reason,
        }
        future: asyncio.Future[JSON] = asyncio.get_running_loop().create_future()
        self._pending_acks[envelope_id] = future
        try:
            await socket.send_str(json.dumps(envelope))
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            raise TimeoutError(f"no ack for {envelope_type} envelope {envelope_id} within {timeout}s") from None
        finally:
            self._pending_acks.pop(envelope_id, None)

    def event_callback(self, event: JSON, *, event_id: str | None = None) -> JSON:
        """An Events API ``event_callback`` payload around ``event``, as Slack sends it."""
        return {
            "token": VERIFICATION_TOKEN,
            "team_id": self.team_id,
            "api_app_id": APP_ID,
            "event": event,
            "type": "event_callback",
            "event_id": event_id or "Ev" + uuid.uuid4().hex[:10].upper(),
            "event_time": int(time.time()),
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": self.team_id,
                    "user_id": self.bot_user_id,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
        }

    @staticmethod
    def signed_headers(
        body: str, signing_secret: str, timestamp: int | None = None, *, content_type: str = "application/json"
    ) -> dict[str, str]:
        """Headers Slack sends with an HTTP-mode request: timestamp and v0 HMAC-SHA256 signature."""
        ts = int(time.time()) if timestamp is None else timestamp
        digest = hmac.new(signing_secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
        return {
            "X-Slack-Request-Timestamp": str(ts),
            "X-Slack-Signature": f"v0={digest}",
            "Content-Type": content_type,
        }

    # ------------------------------------------------------------------ HTTP plumbing

    async def _read_params(self, request: web.Request) -> dict[str, Any]:
        params: dict[str, Any] = {key: _maybe_json(key, value) for key, value in request.query.items()}
        if request.method != "POST" or not request.body_exists:
            return params
        if request.content_type == "application/json":
            text = await request.text()
            try:
                body = json.loads(text)
            except ValueError:
                body = None
            if isinstance(body, dict):
                params.update(body)
            else:
                params["_body"] = text
        elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.post()
            for key, value in form.items():
                params[key] = _maybe_json(key, value) if isinstance(value, str) else getattr(value, "filename", "")
        else:
            params["_body"] = await request.text()
        return params

    async def _record(self, method: str, request: web.Request) -> Call:
        call = Call(
            method=method,
            params=await self._read_params(request),
            http_method=request.method,
            headers=dict(request.headers),
        )
        self.calls.append(call)
        self._call_arrived.set()
        return call

    def _injected(self, method: str) -> web.Response | None:
        limit = self._rate_limits.get(method)
        if limit is not None and limit.times > 0:
            limit.times -= 1
            return web.json_response(
                {"ok": False, "error": "ratelimited"}, status=429, headers={"Retry-After": str(limit.retry_after)}
            )
        failures = self._failures.get(method)
        if failures:
            return web.json_response({"ok": False, "error": failures.popleft()})
        return None

    async def _handle_api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        call = await self._record(method, request)
        authorization = request.headers.get("Authorization", "")
        token = authorization.removeprefix("Bearer ").strip() if authorization.startswith("Bearer ") else ""
        if not token and not call.params.get("token"):
            return web.json_response({"ok": False, "error": "not_authed"})
        injected = self._injected(method)
        if injected is not None:
            return injected
        handler = self._methods.get(method)
        if handler is None:
            return web.json_response({"ok": False, "error": "unknown_method", "req_method": method})
        return web.json_response(handler(call.params))

    async def _handle_response_url(self, request: web.Request) -> web.Response:
        await self._record("response_url", request)
        if request.match_info["hook"] not in self._response_urls:
            return web.json_response({"ok": False, "error": "no_active_hooks"}, status=404)
        injected = self._injected("response_url")
        return injected if injected is not None else web.json_response({"ok": True})

    async def _handle_file(self, request: web.Request) -> web.Response:
        """A file's bytes for the bot token; like Slack, any other caller gets a 200 HTML sign-in page."""
        await self._record("files.download", request)
        file_id = request.match_info["key"].rpartition("-")[2]
        content = self._files.get(file_id)
        if content is None:
            return web.Response(status=404, text="file not found")
        if request.headers.get("Authorization", "") != f"Bearer {self.bot_token}":
            page = "<!DOCTYPE html><html><body>Sign in to Slack</body></html>"
            return web.Response(text=page, content_type="text/html")
        injected = self._injected("files.download")
        return injected if injected is not None else web.Response(body=content, content_type="application/octet-stream")

    async def _handle_socket(self, request: web.Request) -> web.StreamResponse:
        ticket = request.query.get("ticket", "")
        if ticket not in self._tickets:
            raise web.HTTPUnauthorized(text="invalid ticket")
        self._tickets.discard(ticket)
        socket = web.WebSocketResponse(autoping=True)
        await socket.prepare(request)
        self._sockets.append(socket)
        try:
            hello = {
                "type": "hello",
                "num_connections": len(self._sockets),
                "debug_info": {"host": "applink-fake", "build_number": 1, "approximate_connection_time": 18060},
                "connection_info": {"app_id": APP_ID},
            }
            await socket.send_str(json.dumps(hello))
            self._connected.set()
            async for message in socket:
                if message.type == WSMsgType.TEXT:
                    self._on_socket_text(message.data)
                elif message.type == WSMsgType.ERROR:
                    break
        finally:
            self._sockets.remove(socket)
            if not any(not s.closed for s in self._sockets):
                self._connected.clear()
        return socket

    def _on_socket_text(self, data: str) -> None:
        try:
            ack = json.loads(data)
        except ValueError:
            return
        if not isinstance(ack, dict) or "envelope_id" not in ack:
            return
        self.acks.append(ack)
        future = self._pending_acks.get(str(ack["envelope_id"]))
        if future is not None and not future.done():
            future.set_result(ack)
