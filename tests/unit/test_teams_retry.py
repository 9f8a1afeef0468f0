"""Retries for Microsoft's REST APIs (bot/adapters/teams/retry.py): the ``Retry-After`` reader, and
``RetryPolicy`` as a real aiohttp ClientSession middleware against a local aiohttp app that answers
as scripted. Time bounds are hang guards only (tests/hang.py)."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import aiohttp
import pytest
from aiohttp import web

from bot.adapters.teams.retry import RetryPolicy, retry_after_s
from tests.fakes.local_server import LocalServer
from tests.hang import HANG_S

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 27, 12, 0, 0, tzinfo=UTC)


# ---------------------------------------------------------------------------------------- the header


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1", 1.0),
        ("0", 0.0),
        ("120", 120.0),
        ("  7 ", 7.0),
        (format_datetime(NOW + timedelta(seconds=90), usegmt=True), 90.0),
        (format_datetime(NOW - timedelta(hours=3), usegmt=True), 0.0),
        ("Fri, 27 Nov 2026 12:00:30", 30.0),  # no zone: read as UTC
        (None, None),
        ("", None),
        ("   ", None),
        ("soon", None),
        ("1.5", None),
        ("-3", None),
        ("0x10", None),
        ("Fri, 32 Nov 2026 12:00:00 GMT", None),
        # Characters str.isdigit() accepts but float() does not, or that are not RFC 9110 DIGITs.
        ("²", None),
        ("¹²", None),
        ("٣", None),
        ("１２", None),
    ],
)
def test_retry_after_in_seconds(value: str | None, expected: float | None) -> None:
    assert retry_after_s(value, now=NOW) == expected


def test_retry_after_never_raises_on_hostile_values() -> None:
    """The header comes from the network: whatever it holds is a number of seconds or None."""
    for value in ["\x00", "1\r\n2", "9" * 5000, "Mon, 01 Jan 10000 00:00:00 GMT", "❶", "𝟗", "1e3", "nan", "inf"]:
        result = retry_after_s(value, now=NOW)
        assert result is None or result >= 0.0


# ---------------------------------------------------------------------------------------- the middleware


class Scripted(LocalServer):
    """Answers ``GET /`` with the next scripted (status, Retry-After) pair, then 200s; records when
    each request arrived."""

    def __init__(self, script: list[tuple[int, str | None]]) -> None:
        self.script = list(script)
        self.arrivals: list[float] = []

    def _app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/", self._handle)
        return app

    async def _handle(self, request: web.Request) -> web.Response:
        self.arrivals.append(time.monotonic())
        if not self.script:
            return web.json_response({"ok": True})
        status, retry_after = self.script.pop(0)
        headers = {} if retry_after is None else {"Retry-After": retry_after}
        return web.json_response({"status": status}, status=status, headers=headers)


class Tries:
    """An inner middleware counting what actually goes on the wire (each try the policy makes)."""

    def __init__(self) -> None:
        self.count = 0

    async def __call__(
        self, request: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType
    ) -> aiohttp.ClientResponse:
        self.count += 1
        return await handler(request)


@pytest.fixture
async def session_factory() -> AsyncIterator[list[aiohttp.ClientSession]]:
    sessions: list[aiohttp.ClientSession] = []
    yield sessions
    for session in sessions:
        await session.close()


def _session(sessions: list[aiohttp.ClientSession], policy: RetryPolicy, tries: Tries) -> aiohttp.ClientSession:
    session = aiohttp.ClientSession(middlewares=(policy, tries))
    sessions.append(session)
    return session


async def _get(session: aiohttp.ClientSession, url: str) -> tuple[int, str]:
    async def go() -> tuple[int, str]:
        async with session.get(url) as response:
            return response.status, await response.text()

    return await asyncio.wait_for(go(), HANG_S)


async def test_a_429_with_retry_after_is_waited_out_and_retried_once(
    session_factory: list[aiohttp.ClientSession],
) -> None:
    tries = Tries()
    async with Scripted([(429, "1")]) as server:
        status, body = await _get(_session(session_factory, RetryPolicy(base_s=0.01), tries), server.origin)
    assert status == 200
    assert "ok" in body
    assert tries.count == 2
    assert len(server.arrivals) == 2
    assert server.arrivals[1] - server.arrivals[0] >= 0.9  # it waited as told, not its own 10 ms


async def test_retry_after_as_an_http_date_is_honoured(session_factory: list[aiohttp.ClientSession]) -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=2), usegmt=True)
    tries = Tries()
    async with Scripted([(503, when)]) as server:
        status, _ = await _get(_session(session_factory, RetryPolicy(base_s=0.01), tries), server.origin)
    assert status == 200
    assert tries.count == 2
    assert server.arrivals[1] - server.arrivals[0] >= 0.5  # HTTP dates have whole seconds


async def test_5xx_beyond_the_attempts_returns_the_last_answer(session_factory: list[aiohttp.ClientSession]) -> None:
    tries = Tries()
    async with Scripted([(503, None), (502, None), (500, None), (503, None), (503, None)]) as server:
        status, body = await _get(_session(session_factory, RetryPolicy(attempts=3, base_s=0.01), tries), server.origin)
    assert status == 500  # the third answer: the last attempt's, returned, readable
    assert '"status": 500' in body
    assert tries.count == 3
    assert len(server.arrivals) == 3


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 412])
async def test_client_errors_are_not_retried(session_factory: list[aiohttp.ClientSession], status: int) -> None:
    tries = Tries()
    async with Scripted([(status, "1")]) as server:
        got, _ = await _get(_session(session_factory, RetryPolicy(base_s=0.01), tries), server.origin)
    assert got == status
    assert tries.count == 1


async def test_a_retry_after_above_the_cap_is_returned_not_waited(
    session_factory: list[aiohttp.ClientSession],
) -> None:
    """Told to come back in an hour: give the 429 to the caller now (no request sits for an hour)."""
    tries = Tries()
    async with Scripted([(429, "3600")]) as server:
        status, _ = await _get(
            _session(session_factory, RetryPolicy(base_s=0.01, max_wait_s=5.0), tries), server.origin
        )
    assert status == 429
    assert tries.count == 1


async def test_a_far_future_date_is_returned_not_waited(session_factory: list[aiohttp.ClientSession]) -> None:
    tries = Tries()
    async with Scripted([(429, "Fri, 31 Dec 9999 23:59:59 GMT")]) as server:
        status, _ = await _get(_session(session_factory, RetryPolicy(base_s=0.01), tries), server.origin)
    assert status == 429
    assert tries.count == 1


@pytest.mark.parametrize("value", ["soon", "²", "-1", "1.5"])
async def test_an_unreadable_retry_after_falls_back_to_backoff(
    session_factory: list[aiohttp.ClientSession], value: str
) -> None:
    tries = Tries()
    async with Scripted([(429, value)]) as server:
        status, _ = await _get(_session(session_factory, RetryPolicy(base_s=0.01), tries), server.origin)
    assert status == 200
    assert tries.count == 2


async def test_a_refused_connection_is_retried_then_raised(session_factory: list[aiohttp.ClientSession]) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    tries = Tries()
    session = _session(session_factory, RetryPolicy(attempts=3, base_s=0.01), tries)
    with pytest.raises(aiohttp.ClientConnectionError):
        await _get(session, f"http://127.0.0.1:{port}/")
    assert tries.count == 3


class Dropping(LocalServer):
    """Reads each request whole, then drops the connection without answering (the server may have
    acted on it: a posted message)."""

    def __init__(self) -> None:
        self.received: list[str] = []

    def _app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/", self._handle)
        return app

    async def _handle(self, request: web.Request) -> web.Response:
        await request.read()
        self.received.append(request.method)
        transport = request.transport
        if transport is not None:
            transport.close()
        raise ConnectionResetError


@pytest.mark.parametrize(("method", "again"), [("POST", False), ("PUT", True), ("GET", True)])
async def test_a_lost_answer_is_sent_again_only_when_repeating_does_no_harm(
    session_factory: list[aiohttp.ClientSession], method: str, again: bool
) -> None:
    """A POST whose answer was lost may have posted its message: it is not sent twice. (aiohttp may
    itself send an idempotent request once more on a fresh connection: more than one is enough.)"""
    async with Dropping() as server:
        session = _session(session_factory, RetryPolicy(attempts=3, base_s=0.01), Tries())

        async def go() -> None:
            async with session.request(method, server.origin + "/", json={"text": "hi"}) as response:
                await response.read()

        with pytest.raises(aiohttp.ClientError):
            await asyncio.wait_for(go(), HANG_S)
    assert set(server.received) == {method}
    assert (len(server.received) > 1) is again
