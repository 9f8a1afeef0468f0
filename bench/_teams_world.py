"""The world outside Kura for bench/teams_load.py: the timed fake Bot Connector, fake identity providers
and model on their own loop, the messages sent and how Kura's replies are read back."""

from __future__ import annotations

import asyncio
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
from aiohttp import web

from bot.adapters.teams.render import markdown
from bot.core.messages import error_message, say

# The fakes and the adapter tests' tenant live under tests/, which is not an installed package.
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))
from _load_world import UNAVAILABLE, OutsideLoop

from tests.adapters.teams_harness import (
    ALICE,
    BOB,
    CAROL,
    CHATS,
    CONVERSATIONS,
    DAVE,
    GENERAL,
    SECRET,
    TEAMS,
    USERS,
)
from tests.fakes import teams_activities as activities
from tests.fakes.bot_connector import FakeBotConnector
from tests.fakes.bot_connector_wire import JSON, Call, TeamsUser, stream_info
from tests.fakes.entra import APP_ID, FakeEntra

T = TypeVar("T")
ASKERS: tuple[TeamsUser, ...] = (ALICE, BOB, CAROL, DAVE)
PLACEHOLDERS = {markdown(say("placeholder", lang)) for lang in ("ja", "en")}
FAILURES = {markdown(text) for text in UNAVAILABLE}
#: The pipeline's answer when KURA_PIPELINE_MAX_CONCURRENT answers are being generated already.
BUSY = {markdown(error_message("busy", lang)) for lang in ("ja", "en")}
ACK_TIMEOUT_S = 15.0  # Teams gives a bot about 15 s to answer the POST
REPLY_OPERATIONS = ("reply", "send")


class TimedConnector(FakeBotConnector):
    """FakeBotConnector that also notes when each call arrived (``times[i]`` for ``calls[i]``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.times: list[float] = []

    async def _handle(self, operation: str, request: web.Request) -> web.StreamResponse:
        arrived = time.perf_counter()
        response = await super()._handle(operation, request)
        # The parent appends the call and answers without awaiting in between, so this append runs
        # in the same step as its calls.append: the two lists stay aligned.
        self.times.append(arrived)
        return response


@dataclass
class Message:
    """One message sent to Kura and what the sender saw."""

    label: str  # "(#wave-k)", unique: found again in the model's request
    user: TeamsUser
    question: str
    personal: bool
    activity: JSON = field(default_factory=dict)
    token: str = ""
    sent: float = math.nan
    acked: float = math.nan
    status: int = 0

    @property
    def key(self) -> tuple[str, str]:
        """What Kura's replies to it carry: a channel thread's id, or the 1:1 chat and the message id."""
        conversation = str(self.activity["conversation"]["id"])
        return (conversation, "") if not self.personal else (conversation, str(self.activity["id"]))


@dataclass
class Final:
    """A message Kura left as the last word for a message."""

    at: float
    kind: str
    text: str


def reply_kind(call: Call) -> str | None:
    """What a call shows in Teams: placeholder / informative / streaming / final / message /
    update / delete, or None for a call that shows nothing (rosters, opening a chat)."""
    body = call.body if isinstance(call.body, dict) else {}
    if call.operation == "update":
        return "update"
    if call.operation == "delete":
        return "delete"
    if call.operation not in REPLY_OPERATIONS:
        return None
    info = stream_info(body)
    if info is not None:
        return str(info.get("streamType") or "stream?")
    if body.get("type") == "typing":
        return "typing"
    return "placeholder" if str(body.get("text") or "") in PLACEHOLDERS else "message"


def _key_of(call: Call, personal: set[str]) -> tuple[str, str]:
    conversation = call.conversation_id or ""
    return (conversation, call.activity_id or "") if conversation in personal else (conversation, "")


def _personal_ids() -> set[str]:
    return {c.id for c in CONVERSATIONS if c.kind == "personal"}


def replies(connector: TimedConnector, from_call: int) -> dict[tuple[str, str], list[tuple[float, str, Call]]]:
    """Message key -> (arrival, kind, call) of every call that shows something, since ``from_call``."""
    personal = _personal_ids()
    out: dict[tuple[str, str], list[tuple[float, str, Call]]] = {}
    calls, times = connector.calls[from_call:], connector.times[from_call:]
    for call, at in zip(calls, times, strict=False):
        kind = reply_kind(call)
        if kind is not None:
            out.setdefault(_key_of(call, personal), []).append((at, kind, call))
    return out


def finals_of(shown: list[tuple[float, str, Call]]) -> list[Final]:
    out = []
    for at, kind, call in shown:
        if kind in ("update", "final", "message"):
            body = call.body if isinstance(call.body, dict) else {}
            out.append(Final(at, kind, str(body.get("text") or "")))
    return out


class Outside(OutsideLoop):
    """Fake Bot Connector, fake identity providers, fake model and the sender on their own loop."""

    connector: TimedConnector
    bot_framework: FakeEntra
    entra: FakeEntra

    def _make(self) -> None:
        self.connector = TimedConnector(USERS, CONVERSATIONS, teams=TEAMS)
        self.bot_framework = FakeEntra()
        self.entra = FakeEntra(clients={APP_ID: SECRET}, tls=True)
        self.connector.token_check = self.entra.issued_token_check
        self.servers = [self.bot_framework, self.entra, self.connector, self.model]

    def token_requests(self) -> int:
        """Requests that reached the token endpoint of Kura's Entra (msal's, every kind)."""
        return sum(1 for method, path in self.entra.requests if method == "POST" and path.endswith("/token"))

    async def prepare(self, messages: Sequence[Message]) -> None:
        """Build each message's activity and sign its token before the clock starts."""
        url = self.connector.service_url
        for m in messages:
            where = CHATS[m.user.id] if m.personal else GENERAL
            m.activity = activities.message(where, m.user, m.question, url)
            m.token = self.bot_framework.token(service_url=url)

    async def send(self, url: str, messages: Sequence[Message]) -> None:
        """POST every message at once, each on its own connection."""
        timeout = aiohttp.ClientTimeout(total=ACK_TIMEOUT_S)

        async def one(m: Message) -> None:
            headers = {"Authorization": f"Bearer {m.token}"}
            m.sent = time.perf_counter()
            try:
                async with self._session.post(url, json=m.activity, headers=headers, timeout=timeout) as r:
                    await r.read()
                    m.status, m.acked = r.status, time.perf_counter()
            except (TimeoutError, aiohttp.ClientError):
                m.status = 0

        await asyncio.gather(*(one(m) for m in messages))

    async def wait_final(self, messages: Sequence[Message], from_call: int, timeout_s: float) -> bool:
        """Wait until every message has a final message or was withdrawn to the asker's 1:1 chat
        (True), or ``timeout_s`` passed."""
        deadline = time.perf_counter() + timeout_s
        keys = {m.key for m in messages if m.status == 202}

        def settled(shown: list[tuple[float, str, Call]]) -> bool:
            return bool(finals_of(shown)) or any(kind == "delete" for _, kind, _ in shown)

        while time.perf_counter() < deadline:
            shown = replies(self.connector, from_call)
            if all(settled(shown.get(k, [])) for k in keys):
                return True
            await asyncio.sleep(0.05)
        return False
