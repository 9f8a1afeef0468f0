"""A local fake of Slack: the Web API over HTTP and Socket Mode over a WebSocket, on aiohttp.

It speaks Slack's real wire protocol, so the real ``slack_sdk`` clients (``AsyncWebClient`` with
``base_url=fake.api_url`` and the aiohttp ``SocketModeClient`` behind Bolt's ``AsyncSocketModeHandler``)
work against it unmodified. Modelled on bolt-python's ``tests/mock_web_api_server`` and
``tests/adapter_tests/socket_mode/mock_socket_mode_server.py``, but async, in one class, and stateful
enough (members, users, messages, threads, streams) for Kura's tests.

Every HTTP request is recorded as a :class:`Call` before anything else happens, so tests can assert on
exactly what went over the wire, including failed and unknown calls.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import copy
import hashlib
import hmac
import json
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

from aiohttp import WSCloseCode, WSMsgType, web

__all__ = ["Call", "FakeSlack", "SlackUser"]

JSON = dict[str, Any]
_Handler = Callable[[JSON], JSON]

APP_ID = "A_KURA"
BOT_ID = "B_KURA"
VERIFICATION_TOKEN = "fake-verification-token"  # noqa: S105 - a fixture value, not a secret

# Form and query values Slack documents as JSON-encoded strings; only these are decoded, so that a
# message text that happens to look like JSON stays text.
_JSON_FIELDS = frozenset(
    {
        "attachments",
        "blocks",
        "chunks",
        "metadata",
        "option_groups",
        "options",
        "unfurls",
        "user_auth_blocks",
        "view",
    }
)

_TS_BASE_SECONDS = 1_700_000_000
_TS_STEP_MICROS = 100


@dataclass
class SlackUser:
    """A workspace member as ``users.info`` reports it."""

    id: str
    email: str | None
    locale: str = "ja-JP"
    team_id: str = "T_KURA"
    is_bot: bool = False
    name: str = ""


@dataclass(frozen=True)
class Call:
    """One request the fake received."""

    method: str
    params: dict[str, Any]
    http_method: str
    headers: dict[str, str]


@dataclass
class _RateLimit:
    times: int
    retry_after: int


def _ts_to_micros(ts: str) -> int:
    seconds, _, fraction = ts.partition(".")
    return int(seconds) * 1_000_000 + int((fraction + "000000")[:6])


def _micros_to_ts(micros: int) -> str:
    return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"


def _encode_cursor(offset: int) -> str:
    return base64.b64encode(f"offset:{offset}".encode()).decode()


def _decode_cursor(cursor: str) -> int | None:
    """The offset a cursor stands for; 0 for none; None when it is not one this fake issued."""
    if not cursor:
        return 0
    try:
        kind, _, value = base64.b64decode(cursor, validate=True).decode().partition(":")
        offset = int(value)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return offset if kind == "offset" and offset >= 0 else None


def _maybe_json(key: str, value: str) -> Any:
    if key in _JSON_FIELDS and value[:1] in ("[", "{"):
        with contextlib.suppress(ValueError):
            return json.loads(value)
    return value


def _as_int(value: Any, default: int) -> int:
    if value is None or value == "":
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


class FakeSlack:
    """Slack's Web API and Socket Mode on 127.0.0.1, with a small in-memory workspace.

    ``users`` are the members ``users.info`` knows; ``channels`` maps channel IDs to member IDs for
    ``conversations.members`` and ``conversations.info``. Channels whose ID starts with ``D`` are DMs.
    """

    def __init__(
        self,
        users: list[SlackUser],
        channels: dict[str, list[str]],
        *,
        bot_user_id: str = "U_KURA",
        team_id: str = "T_KURA",
    ) -> None:
        self.users: dict[str, SlackUser] = {user.id: user for user in users}
        self.channels: dict[str, list[str]] = {channel: list(members) for channel, members in channels.items()}
        self.bot_user_id = bot_user_id
        self.team_id = team_id
        self.calls: list[Call] = []
        self.acks: list[JSON] = []

        self._messages: list[JSON] = []
        self._last_ts_micros = _TS_BASE_SECONDS * 1_000_000
        self._rate_limits: dict[str, _RateLimit] = {}
        self._failures: dict[str, deque[str]] = {}
        self._response_urls: set[str] = set()
        self._tickets: set[str] = set()
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
            "conversations.members": self._conversations_members,
            "conversations.info": self._conversations_info,
            "conversations.replies": self._conversations_replies,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.startStream": self._chat_start_stream,
            "chat.appendStream": self._chat_append_stream,
            "chat.stopStream": self._chat_stop_stream,
            "assistant.threads.setStatus": self._assistant_threads_set_status,
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

    def messages(self, channel: str) -> list[JSON]:
        """Messages stored for ``channel``, in post order (copies)."""
        return [copy.deepcopy(message) for message in self._messages if message["channel"] == channel]

    def add_message(self, channel: str, ts: str, user: str, text: str, thread_ts: str | None = None) -> None:
        """Register a message a person wrote, so ``conversations.replies`` can return it."""
        self._messages.append(self._new_message(channel, ts, text=text, user=user, thread_ts=thread_ts))
        self._last_ts_micros = max(self._last_ts_micros, _ts_to_micros(ts))

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

    # ------------------------------------------------------------------ messages

    def _next_ts(self) -> str:
        self._last_ts_micros += _TS_STEP_MICROS
        return _micros_to_ts(self._last_ts_micros)

    def _new_message(
        self,
        channel: str,
        ts: str,
        *,
        text: str,
        user: str,
        thread_ts: str | None,
        bot_id: str | None = None,
        blocks: Any = None,
    ) -> JSON:
        return {
            "channel": channel,
            "ts": ts,
            "thread_ts": thread_ts,
            "text": text,
            "blocks": blocks,
            "user": user,
            "bot_id": bot_id,
            "unfurl_links": None,
            "unfurl_media": None,
            "markdown_text": "",
            "chunks": [],
            "streaming": False,
        }

    def _find(self, channel: str, ts: str) -> JSON | None:
        for message in self._messages:
            if message["channel"] == channel and message["ts"] == ts:
                return message
        return None

    def _has_replies(self, message: JSON) -> bool:
        return any(
            other["channel"] == message["channel"] and other["thread_ts"] == message["ts"] and other is not message
            for other in self._messages
        )

    def _wire(self, message: JSON) -> JSON:
        """A stored message as Slack's APIs return it."""
        wire: JSON = {"type": "message", "user": message["user"], "text": message["text"], "ts": message["ts"]}
        if message["bot_id"] is not None:
            wire.update(bot_id=message["bot_id"], app_id=APP_ID)
        if message["blocks"] is not None:
            wire["blocks"] = message["blocks"]
        thread_ts = message["thread_ts"] or (message["ts"] if self._has_replies(message) else None)
        if thread_ts is not None:
            wire["thread_ts"] = thread_ts
        wire["team"] = self.team_id
        return wire

    def _post(self, params: JSON) -> JSON:
        thread_ts = params.get("thread_ts") or None
        message = self._new_message(
            str(params["channel"]),
            self._next_ts(),
            text=str(params.get("text") or params.get("markdown_text") or ""),
            user=self.bot_user_id,
            thread_ts=None if thread_ts is None else str(thread_ts),
            bot_id=BOT_ID,
            blocks=params.get("blocks"),
        )
        self._messages.append(message)
        return message

    # ------------------------------------------------------------------ Web API methods

    def _auth_test(self, params: JSON) -> JSON:
        return {
            "ok": True,
            "url": "https://kura-test.slack.com/",
            "team": "Kura Test",
            "user": "kura",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _apps_connections_open(self, params: JSON) -> JSON:
        ticket = str(uuid.uuid4())
        self._tickets.add(ticket)
        return {"ok": True, "url": f"ws://127.0.0.1:{self.port}/link/?ticket={ticket}&app_id={APP_ID}"}

    def _users_info(self, params: JSON) -> JSON:
        user = self.users.get(str(params.get("user", "")))
        if user is None:
            return {"ok": False, "error": "user_not_found"}
        name = user.name or user.id.lower()
        profile: JSON = {"display_name": name, "real_name": name}
        if user.email is not None:
            profile["email"] = user.email
        return {
            "ok": True,
            "user": {
                "id": user.id,
                "team_id": user.team_id,
                "name": name,
                "is_bot": user.is_bot,
                "deleted": False,
                "locale": user.locale,
                "profile": profile,
            },
        }

    def _page(self, items: list[Any], params: JSON, default_limit: int) -> tuple[list[Any], str] | None:
        """One page of ``items`` and the next cursor ("" at the end); None for a cursor this fake never issued."""
        offset = _decode_cursor(str(params.get("cursor") or ""))
        if offset is None:
            return None
        limit = _as_int(params.get("limit"), default_limit)
        limit = default_limit if limit <= 0 else limit
        page = items[offset : offset + limit]
        end = offset + len(page)
        return page, _encode_cursor(end) if end < len(items) else ""

    def _conversations_members(self, params: JSON) -> JSON:
        members = self.channels.get(str(params.get("channel", "")))
        if members is None:
            return {"ok": False, "error": "channel_not_found"}
        paged = self._page(members, params, default_limit=100)
        if paged is None:
            return {"ok": False, "error": "invalid_cursor"}
        page, next_cursor = paged
        return {"ok": True, "members": page, "response_metadata": {"next_cursor": next_cursor}}

    def _conversations_info(self, params: JSON) -> JSON:
        channel = str(params.get("channel", ""))
        if channel not in self.channels:
            return {"ok": False, "error": "channel_not_found"}
        is_im = channel.startswith("D")
        return {
            "ok": True,
            "channel": {
                "id": channel,
                "name": channel.lower(),
                "is_im": is_im,
                "is_channel": not is_im,
                "is_ext_shared": False,
            },
        }

    def _conversations_replies(self, params: JSON) -> JSON:
        channel, ts = str(params.get("channel", "")), str(params.get("ts", ""))
        parent = self._find(channel, ts)
        replies = [m for m in self._messages if m["channel"] == channel and m["thread_ts"] == ts and m is not parent]
        if parent is None and not replies:
            return {"ok": False, "error": "thread_not_found"}
        replies.sort(key=lambda m: _ts_to_micros(m["ts"]))
        thread = ([] if parent is None else [parent]) + replies
        paged = self._page(thread, params, default_limit=1000)
        if paged is None:
            return {"ok": False, "error": "invalid_cursor"}
        page, next_cursor = paged
        return {
            "ok": True,
            "messages": [self._wire(m) for m in page],
            "has_more": bool(next_cursor),
            "response_metadata": {"next_cursor": next_cursor},
        }

    def _chat_post_message(self, params: JSON) -> JSON:
        if not params.get("channel"):
            return {"ok": False, "error": "channel_not_found"}
        if not (params.get("text") or params.get("blocks") or params.get("attachments") or params.get("markdown_text")):
            return {"ok": False, "error": "no_text"}
        message = self._post(params)
        message["unfurl_links"] = params.get("unfurl_links")
        message["unfurl_media"] = params.get("unfurl_media")
        return {"ok": True, "channel": message["channel"], "ts": message["ts"], "message": self._wire(message)}

    def _chat_update(self, params: JSON) -> JSON:
        message = self._find(str(params.get("channel", "")), str(params.get("ts", "")))
        if message is None:
            return {"ok": False, "error": "message_not_found"}
        if "text" in params:
            message["text"] = str(params["text"])
        if "blocks" in params:
            message["blocks"] = params["blocks"]
        return {
            "ok": True,
            "channel": message["channel"],
            "ts": message["ts"],
            "text": message["text"],
            "message": self._wire(message),
        }

    def _chat_post_ephemeral(self, params: JSON) -> JSON:
        if not params.get("channel"):
            return {"ok": False, "error": "channel_not_found"}
        return {"ok": True, "message_ts": self._next_ts()}

    def _chat_start_stream(self, params: JSON) -> JSON:
        if not params.get("channel"):
            return {"ok": False, "error": "channel_not_found"}
        message = self._post(params)
        message["text"] = ""
        self._extend_stream(message, params)
        message["streaming"] = True
        return {"ok": True, "channel": message["channel"], "ts": message["ts"]}

    @staticmethod
    def _stream_text(params: JSON) -> str:
        """The markdown a stream call adds: ``markdown_text`` then the text of any ``markdown_text`` chunks.

        (slack_sdk's ``chat_stream`` helper sends its buffer as chunks, never as ``markdown_text``.)
        """
        text = str(params.get("markdown_text") or "")
        chunks = params.get("chunks")
        if isinstance(chunks, list):
            text += "".join(
                str(chunk.get("text", ""))
                for chunk in chunks
                if isinstance(chunk, dict) and chunk.get("type") == "markdown_text"
            )
        return text

    def _extend_stream(self, message: JSON, params: JSON) -> None:
        message["markdown_text"] += self._stream_text(params)
        message["text"] = message["markdown_text"]
        chunks = params.get("chunks")
        if isinstance(chunks, list):
            message["chunks"].extend(chunks)

    def _streaming_message(self, params: JSON) -> JSON | str:
        message = self._find(str(params.get("channel", "")), str(params.get("ts", "")))
        if message is None:
            return "message_not_found"
        if not message["streaming"]:
            return "message_not_in_streaming_state"
        return message

    def _chat_append_stream(self, params: JSON) -> JSON:
        message = self._streaming_message(params)
        if isinstance(message, str):
            return {"ok": False, "error": message}
        self._extend_stream(message, params)
        return {"ok": True, "channel": message["channel"], "ts": message["ts"]}

    def _chat_stop_stream(self, params: JSON) -> JSON:
        message = self._streaming_message(params)
        if isinstance(message, str):
            return {"ok": False, "error": message}
        self._extend_stream(message, params)
        if "blocks" in params:
            message["blocks"] = params["blocks"]
        message["streaming"] = False
        return {"ok": True, "channel": message["channel"], "ts": message["ts"], "message": self._wire(message)}

    def _assistant_threads_set_status(self, params: JSON) -> JSON:
        if not params.get("channel_id") or not params.get("thread_ts"):
            return {"ok": False, "error": "invalid_arguments"}
        return {"ok": True}
