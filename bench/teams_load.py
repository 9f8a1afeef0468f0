"""Teams load: many messages at once through Kura's Teams adapter, against a model of known speed.

Kura runs as ``kura serve`` runs it with Teams: ``TeamsRunner`` with its routes on an ``HttpHost`` on
127.0.0.1 (a free port), on the runtime from ``open_runtime(settings, with_model=True)`` on the
embedded PostgreSQL (a new folder under /tmp, migrated, the sample knowledge ingested once) and the
in-process e5 embedder. The world outside Kura runs on a second event loop in a thread, so that
Kura's loop is Kura's alone (they share the GIL and the machine's cores), built as
``tests/adapters/teams_harness.tenant()`` builds it:

* ``FakeBotConnector`` (the harness's people, conversations and team) answers Kura's Bot Connector
  v3 calls, and notes when each one arrived (:class:`TimedConnector`);
* a ``FakeEntra()`` signs the inbound tokens, as the Bot Framework does (RS256; Kura fetches its
  metadata and keys), and a ``FakeEntra(clients={APP_ID: SECRET}, tls=True)`` issues Kura's own
  tokens to msal over TLS (``trusting_session()``); the connector accepts only tokens it issued;
* ``tests.fakes.openai_server.FakeOpenAI`` is the model: every request is answered with the same
  ``--tokens`` pieces, the first after ``--first-token`` seconds, the next every ``--token-delay``
  seconds (a fixed schedule from the request's arrival);
* the sender POSTs each message to ``/api/messages`` with a valid bearer token (signed beforehand),
  all of a round at once, on separate connections.

For each concurrency C in ``--concurrency`` a fresh TeamsRunner (and HttpHost) starts and, unless
``--cold``, each of the four askers (alice, bob, carol, dave) sends two untimed messages one after
another, a mention in the standard channel General and one in their 1:1 chat (the Bot Connector
rosters, the directory's caches, msal's token and the database pool are then as in steady
operation). Then C messages are sent at once: even ones mention Kura in General (each a new thread:
a placeholder in the thread, then one update with the answer), odd ones are in the asker's 1:1 chat
(Teams streaming: an informative update, the text about every ``--stream-interval`` seconds, the
final message). Several messages of one person in their 1:1 chat at once are separate streams
(keyed by ``streamId``; the fake takes that, real Teams may show them one after another). C=1 is
repeated until ``--min-samples`` messages were measured (the kinds alternate across repeats). The
policy is the shipped one with its rate limits raised out of the way; each message asks one of three
questions with its own number, so no two prompts are alike.

Measured per message (``time.perf_counter`` in one process):

* answered exactly once: the final messages Kura left for it (an ``update`` of the placeholder, a
  stream's ``final``, or any message that is not the placeholder or a streaming update); the answer
  is the fake model's text, "busy" the pipeline's line when ``KURA_PIPELINE_MAX_CONCURRENT`` (32)
  answers are under way, "unavailable" one of Kura's short error lines. A reply for the asker alone
  (a refusal in a channel, "busy" included) goes to their 1:1 chat, which the connector opens, and
  the placeholder is deleted: such messages are counted as withdrawn, with what the private
  messages said;
* ack: the HTTP response time of the POST (Kura answers 202 and works in the background);
* first visible sign: from the POST to the first reply for that message reaching the fake (the
  placeholder in the thread, or the informative update in a 1:1 chat);
* overhead ratio: Kura's time from the POST to the final message reaching the fake, divided by the
  model's own time for that message's request (from its arrival at the fake to the last chunk sent);
* event-loop lag: how late a 5 ms sleep in Kura's loop wakes up (a ticker task, all the time);
* Bot Connector calls per message, and the requests to the token endpoint (msal caches the token).

``--query-vectors precomputed`` answers Kura's query embeddings from vectors of the three questions
computed beforehand (as ``conversation_load.py`` does): what Kura costs when embeddings are served
elsewhere; retrieval finds the same chunks.

A benchmark, not a test. Run from the repository root:

    python bench/teams_load.py [--concurrency 1,32] [--min-samples 10] [--first-token 0.5]
        [--tokens 60] [--token-delay 0.03] [--stream-interval 1.0] [--query-vectors e5|precomputed]
        [--cold] [--data-dir DIR] [--keep]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import math
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import _common  # first: sets the warning filter
import aiohttp
from aiohttp import web
from pydantic import SecretStr

from bot.adapters.teams.render import markdown
from bot.adapters.teams.runner import TeamsRunner
from bot.core.messages import error_message, say
from bot.http import HttpHost
from bot.settings import DatabaseSettings, GraphSettings, HttpSettings, KuraSettings, LLMSettings, PolicySettings
from bot.wiring import Runtime, open_runtime, sample_knowledge

# The fakes and the adapter tests' tenant live under tests/, which is not an installed package.
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))
from _load_report import _ms, _x
from _load_rounds import LagMeter
from _load_world import ANSWER_TEXT, MODEL, QUESTIONS, UNAVAILABLE, OutsideLoop, run_world
from conversation_load import bench_policy, precompute_queries

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
    teams_settings,
    trusting_session,
)
from tests.fakes import teams_activities as activities
from tests.fakes.bot_connector import FakeBotConnector
from tests.fakes.bot_connector_wire import JSON, Call, TeamsUser, stream_info
from tests.fakes.entra import APP_ID, FakeEntra
from tests.fakes.openai_server import Exchange, FakeOpenAI

T = TypeVar("T")
ASKERS: tuple[TeamsUser, ...] = (ALICE, BOB, CAROL, DAVE)
PLACEHOLDERS = {markdown(say("placeholder", lang)) for lang in ("ja", "en")}
FAILURES = {markdown(text) for text in UNAVAILABLE}
#: The pipeline's answer when KURA_PIPELINE_MAX_CONCURRENT answers are being generated already.
BUSY = {markdown(error_message("busy", lang)) for lang in ("ja", "en")}
ACK_TIMEOUT_S = 15.0  # Teams gives a bot about 15 s to answer the POST
REPLY_OPERATIONS = ("reply", "send")

# ---------------------------------------------------------------------------------- the outside world


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


# ---------------------------------------------------------------------------------- one round


@dataclass
class Round:
    """What one round of messages produced."""

    messages: list[Message]
    #: answer / busy / unavailable / other / private / none / twice
    outcomes: Counter[str] = field(default_factory=Counter)
    private: Counter[str] = field(default_factory=Counter)  # what the private replies said
    ack_s: list[float] = field(default_factory=list)
    not_accepted: int = 0  # POSTs not answered 202
    first_sign_s: dict[str, list[float]] = field(default_factory=dict)  # "channel" / "1:1" -> seconds
    final_s: list[float] = field(default_factory=list)
    model_s: list[float] = field(default_factory=list)
    ratio: dict[str, list[float]] = field(default_factory=dict)
    before_model_s: list[float] = field(default_factory=list)  # POST -> the model request arrives
    after_model_s: list[float] = field(default_factory=list)  # last chunk sent -> final message
    calls: Counter[str] = field(default_factory=Counter)
    lag_s: list[float] = field(default_factory=list)
    wall_s: float = 0.0

    def all_of(self, series: dict[str, list[float]]) -> list[float]:
        return [v for values in series.values() for v in values]


def messages_of_wave(wave: int, count: int, *, offset: int = 0) -> list[Message]:
    """``count`` messages: the kinds alternate (channel, 1:1), the askers and questions rotate."""
    out = []
    for k in range(count):
        n = k + offset
        label = f"(#{wave}-{n})"
        question = f"{QUESTIONS[n % len(QUESTIONS)]} {label}"
        out.append(Message(label, ASKERS[(n // 2) % len(ASKERS)], question, personal=n % 2 == 1))
    return out


def _text_outcome(text: str) -> str:
    if text.startswith(ANSWER_TEXT[:10]):
        return "answer"
    if text in BUSY:
        return "busy"
    return "unavailable" if text in FAILURES else "other"


def _outcome(finals: list[Final], withdrawn: bool) -> str:
    if not finals:
        # A reply for the asker alone goes to their 1:1 chat (opened by the connector) and the
        # placeholder is deleted: counted apart, with what those private messages said.
        return "private" if withdrawn else "none"
    return "twice" if len(finals) > 1 else _text_outcome(finals[0].text)


def private_replies(connector: TimedConnector, from_call: int) -> Counter[str]:
    """What the messages Kura sent to chats it opened itself (private replies) said."""
    known = {c.id for c in CONVERSATIONS}
    out: Counter[str] = Counter()
    for call in connector.calls[from_call:]:
        if call.operation == "send" and (call.conversation_id or "") not in known and isinstance(call.body, dict):
            out[_text_outcome(str(call.body.get("text") or ""))] += 1
    return out


def _by_label(exchanges: Sequence[Exchange], messages: Sequence[Message]) -> dict[str, Exchange]:
    found = {}
    for exchange in exchanges:
        last = str((exchange.body.get("messages") or [{}])[-1].get("content", ""))
        for m in messages:
            if m.label in last:
                found[m.label] = exchange
    return found


async def run_round(
    outside: Outside, url: str, messages: list[Message], lag: LagMeter, settle_s: float, timeout_s: float
) -> Round:
    """Send the messages at once, wait for their final messages, and measure."""
    connector, model = outside.connector, outside.model
    await outside.call(outside.prepare(messages))
    from_call, from_exchange = len(connector.calls), len(model.exchanges)
    started = time.perf_counter()
    await outside.call(outside.send(url, messages))
    await outside.call(outside.wait_final(messages, from_call, timeout_s))
    await asyncio.sleep(settle_s)  # a second answer, if any, has time to show
    ended = time.perf_counter()
    return measure(connector, model, messages, from_call, from_exchange, lag.between(started, ended), ended - started)


def measure(
    connector: TimedConnector,
    model: FakeOpenAI,
    messages: list[Message],
    from_call: int,
    from_exchange: int,
    lag: list[float],
    wall_s: float,
) -> Round:
    result = Round(messages, lag_s=lag, wall_s=wall_s, private=private_replies(connector, from_call))
    shown = replies(connector, from_call)
    exchanges = _by_label(model.exchanges[from_exchange:], messages)
    for call in connector.calls[from_call:]:
        kind = reply_kind(call)
        result.calls[f"{call.operation} ({kind})" if kind not in (None, call.operation) else call.operation] += 1
    for m in messages:
        where = "1:1" if m.personal else "channel"
        if m.status != 202:
            result.not_accepted += 1
        else:
            result.ack_s.append(m.acked - m.sent)
        mine = shown.get(m.key, [])
        finals = finals_of(mine)
        outcome = _outcome(finals, withdrawn=any(kind == "delete" for _, kind, _ in mine))
        result.outcomes[outcome] += 1
        if mine:
            result.first_sign_s.setdefault(where, []).append(mine[0][0] - m.sent)
        exchange = exchanges.get(m.label)
        if outcome != "answer" or exchange is None or exchange.seconds is None or exchange.finished is None:
            continue
        final_at = finals[0].at
        result.final_s.append(final_at - m.sent)
        result.model_s.append(exchange.seconds)
        result.ratio.setdefault(where, []).append((final_at - m.sent) / exchange.seconds)
        result.before_model_s.append(exchange.received - m.sent)
        result.after_model_s.append(final_at - exchange.finished)
    return result


def merge(results: list[Round]) -> Round:
    merged = Round([m for r in results for m in r.messages])
    for r in results:
        merged.outcomes.update(r.outcomes)
        merged.private.update(r.private)
        merged.calls.update(r.calls)
        merged.not_accepted += r.not_accepted
        merged.wall_s += r.wall_s
        for name in ("ack_s", "final_s", "model_s", "before_model_s", "after_model_s", "lag_s"):
            getattr(merged, name).extend(getattr(r, name))
        for name in ("first_sign_s", "ratio"):
            for where, values in getattr(r, name).items():
                getattr(merged, name).setdefault(where, []).extend(values)
    return merged


# ---------------------------------------------------------------------------------- Kura


@contextlib.asynccontextmanager
async def kura(outside: Outside, runtime: Runtime, stream_interval_s: float) -> AsyncIterator[str]:
    """Kura's Teams adapter on an HttpHost on a free loopback port; yields its ``/api/messages`` URL."""
    settings = teams_settings(outside.bot_framework, outside.entra, stream_interval_s=stream_interval_s)
    host = HttpHost(HttpSettings(host="127.0.0.1", port=0), runtime.metrics)
    http = trusting_session()
    runner = TeamsRunner(settings, GraphSettings(), runtime, host, http_client=http)
    await runner.start()
    await host.start()
    try:
        yield f"http://127.0.0.1:{host.port}/api/messages"
    finally:
        await host.stop()
        await runner.stop()
        http.close()


async def warm_up(outside: Outside, url: str, wave: int, lag: LagMeter, timeout_s: float) -> None:
    """Two untimed messages by each asker, one after another (a mention in General, then one in the
    1:1 chat): rosters, the directory's caches, msal's token and the database pool are then warm."""
    for k in range(2 * len(ASKERS)):
        message = messages_of_wave(wave, 1, offset=k)
        await run_round(outside, url, message, lag, settle_s=0.0, timeout_s=timeout_s)


async def run(args: argparse.Namespace) -> None:
    await run_world(args, Outside, load)


async def load(args: argparse.Namespace, outside: Outside, base: KuraSettings, db: Any, where: str) -> None:
    db_url = db.engine.url.render_as_string(hide_password=False)
    settings = KuraSettings(
        data_dir=base.data_dir,
        database=DatabaseSettings(url=SecretStr(db_url)),
        llm=LLMSettings(base_url=outside.model.url, model=MODEL, timeout_s=60),
        policy=PolicySettings(file=bench_policy(base.data_dir)),
    )
    timeout_s = args.first_token + args.tokens * args.token_delay + 120
    settle_s = max(1.0, 2 * args.stream_interval)
    rounds: dict[int, list[Round]] = {}
    tokens: dict[int, int] = {}
    lag = LagMeter()
    async with open_runtime(settings, with_model=True) as runtime:
        started = time.perf_counter()
        report = await runtime.ingestor.ingest(sample_knowledge())
        ingest_s = time.perf_counter() - started
        if args.query_vectors == "precomputed":
            await precompute_queries(runtime)
        lag.start()
        wave = 0
        for concurrency in args.concurrency:
            repeats = max(1, math.ceil(args.min_samples / concurrency))
            before = await outside.call(_count(outside.token_requests))
            async with kura(outside, runtime, args.stream_interval) as url:
                if not args.cold:
                    wave += 1
                    await warm_up(outside, url, wave, lag, timeout_s)
                for repeat in range(repeats):
                    wave += 1
                    # At C=1 the kinds alternate across repeats; at C>1 within each round.
                    messages = messages_of_wave(wave, concurrency, offset=repeat if concurrency == 1 else 0)
                    result = await run_round(outside, url, messages, lag, settle_s, timeout_s)
                    rounds.setdefault(concurrency, []).append(result)
            tokens[concurrency] = await outside.call(_count(outside.token_requests)) - before
        await lag.stop()
    report_tables(args, where, report.counts(), report.chunks_written, ingest_s, rounds, tokens)


async def _count(counter: Callable[[], int]) -> int:
    """Read a fake's counter on its own loop."""
    return counter()


# ---------------------------------------------------------------------------------- report


def report_tables(
    args: argparse.Namespace,
    where: str,
    counts: dict[str, int],
    chunks: int,
    ingest_s: float,
    rounds: dict[int, list[Round]],
    tokens: dict[int, int],
) -> None:
    merged = {c: merge(rs) for c, rs in rounds.items()}
    levels = list(merged)
    cols = [f"C={c}" for c in levels]
    model_s = args.first_token + (args.tokens - 1) * args.token_delay
    command = ["--concurrency", ",".join(map(str, args.concurrency)), "--min-samples", str(args.min_samples)]
    command += ["--first-token", str(args.first_token), "--tokens", str(args.tokens)]
    command += ["--token-delay", str(args.token_delay), "--stream-interval", str(args.stream_interval)]
    command += ["--query-vectors", args.query_vectors, *(["--cold"] if args.cold else [])]
    vectors = "e5 in process, per message" if args.query_vectors == "e5" else "precomputed (e5 not run per message)"

    print(f"Kura Teams load  ({dt.datetime.now().astimezone():%Y-%m-%d %H:%M %Z})")
    print("\n".join(_common.machine_lines()))
    print(
        f"model:   FakeOpenAI on 127.0.0.1 (own thread and loop): {args.tokens} pieces, first after "
        f"{args.first_token} s, then every {args.token_delay * 1000:.0f} ms = {model_s:.2f} s per answer; usage counted"
    )
    print(
        "teams:   TeamsRunner on an HttpHost (POST /api/messages, RS256 bearer tokens from a fake Bot Framework); "
        "FakeBotConnector v3 and Kura's tokens from a fake Entra (msal over TLS) on 127.0.0.1, own thread and loop; "
        f"stream_interval_s {args.stream_interval}"
    )
    warm = "none (--cold)" if args.cold else f"two untimed messages per asker ({len(ASKERS)}): General, then 1:1"
    print(f"warm-up: {warm}; a fresh TeamsRunner and HttpHost per level")
    print(f"db:      {where}")
    print(
        f"data:    sample knowledge: {counts.get('added', 0)} documents, {chunks} chunks "
        f"(ingested in {ingest_s:.1f} s); query vectors: {vectors}; messages by "
        f"{len(ASKERS)} employees, alternately @mentions in General (placeholder, one update) and in their "
        "1:1 chat (streaming), 3 questions, each numbered"
    )
    print(f"command: {_common.reproduce(__file__, command)}")
    print()

    def row(name: str, fn: Callable[[Round], object], goal: str = "") -> list[object]:
        return [name, *(fn(merged[c]) for c in levels), goal]

    def _private(r: Round) -> str:
        p = r.private
        return f"{p['answer']} / {p['busy']} / {p['unavailable'] + p['other']}"

    def kinds(r: Round) -> str:
        personal = sum(1 for m in r.messages if m.personal)
        return f"{len(r.messages) - personal} / {personal}"

    rows: list[list[object]] = [
        ["messages (rounds x at once)", *(f"{len(rounds[c])}x{c}" for c in levels), ""],
        row("  in General / in 1:1 chats", kinds),
        row("answered exactly once", lambda r: f"{r.outcomes['answer']}/{len(r.messages)}", "all"),
        row("lost (no final message)", lambda r: r.outcomes["none"], "0"),
        row("two or more final messages", lambda r: r.outcomes["twice"], "0"),
        row("unavailable / other reply", lambda r: f"{r.outcomes['unavailable']} / {r.outcomes['other']}", "0 / 0"),
        row("busy (KURA_PIPELINE_MAX_CONCURRENT reached)", lambda r: r.outcomes["busy"], "0 at C<=32"),
        row("withdrawn from General, reply in 1:1 chat", lambda r: r.outcomes["private"], "0 at C<=32"),
        row("  private replies: answer / busy / other", _private, ""),
        row("POST not answered 202", lambda r: r.not_accepted, "0"),
        row("ack p50 ms", lambda r: _ms(r.ack_s, 50)),
        row("ack p95 ms", lambda r: _ms(r.ack_s, 95), "< 15000"),
        row("first visible sign p50 ms", lambda r: _ms(r.all_of(r.first_sign_s), 50)),
        row("first visible sign p95 ms", lambda r: _ms(r.all_of(r.first_sign_s), 95), "<= 500"),
        row("  placeholder in General p95 ms", lambda r: _ms(r.first_sign_s.get("channel", []), 95)),
        row("  informative update in 1:1 p95 ms", lambda r: _ms(r.first_sign_s.get("1:1", []), 95)),
        row("final message p50 ms (from POST)", lambda r: _ms(r.final_s, 50)),
        row("final message p95 ms", lambda r: _ms(r.final_s, 95)),
        row("model's own time p50 ms", lambda r: _ms(r.model_s, 50)),
        row("overhead ratio p50", lambda r: _x(r.all_of(r.ratio), 50), "<= 1.05 at C=32"),
        row("overhead ratio p95", lambda r: _x(r.all_of(r.ratio), 95)),
        row(
            "  General p50 / p95",
            lambda r: f"{_x(r.ratio.get('channel', []), 50)} / {_x(r.ratio.get('channel', []), 95)}",
        ),
        row("  1:1 p50 / p95", lambda r: f"{_x(r.ratio.get('1:1', []), 50)} / {_x(r.ratio.get('1:1', []), 95)}"),
        row("  POST -> model request p50 ms", lambda r: _ms(r.before_model_s, 50)),
        row("  POST -> model request p95 ms", lambda r: _ms(r.before_model_s, 95)),
        row("  last chunk -> final message p50 ms", lambda r: _ms(r.after_model_s, 50)),
        row("  last chunk -> final message p95 ms", lambda r: _ms(r.after_model_s, 95)),
        row("event-loop lag p95 / max ms", lambda r: f"{_ms(r.lag_s, 95)} / {_ms(r.lag_s, 100)}"),
        row("wall time of the rounds s", lambda r: f"{r.wall_s:.1f}"),
        ["token endpoint requests (level, warm-up included)", *(tokens.get(c, 0) for c in levels), "1"],
    ]
    print(_common.table(["", *cols, "goal"], rows))
    print()
    total = {c: len(merged[c].messages) for c in levels}
    names = sorted({m for c in levels for m in merged[c].calls})
    call_rows = [[m, *(f"{merged[c].calls[m] / total[c]:.2f}" for c in levels)] for m in names]
    call_rows.append(["all", *(f"{sum(merged[c].calls.values()) / total[c]:.2f}" for c in levels)])
    caches = "cold: a fresh TeamsRunner at each C" if args.cold else "after the warm-up messages"
    print(f"Bot Connector calls per message, General and 1:1 together ({caches})")
    print(_common.table(["operation (what it shows)", *cols], call_rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--concurrency", default="1,32", help="messages sent at once, per round (default 1,32)")
    parser.add_argument("--min-samples", type=int, default=10, help="repeat a level's round until this many messages")
    parser.add_argument("--first-token", type=float, default=0.5, help="model: seconds to the first piece")
    parser.add_argument("--tokens", type=int, default=60, help="model: pieces per answer")
    parser.add_argument("--token-delay", type=float, default=0.03, help="model: seconds between pieces")
    parser.add_argument(
        "--stream-interval", type=float, default=1.0, help="1:1 streaming redraw interval, s (Kura's default)"
    )
    parser.add_argument(
        "--query-vectors", choices=("e5", "precomputed"), default="e5", help="embed each question, or not (see above)"
    )
    parser.add_argument("--cold", action="store_true", help="no warm-up messages before each level (see above)")
    parser.add_argument("--data-dir", type=Path, default=None, help="embedded PostgreSQL folder (default: new in /tmp)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folders")
    args = parser.parse_args()
    try:
        args.concurrency = [int(c) for c in args.concurrency.split(",") if c.strip()]
    except ValueError:
        parser.error("--concurrency takes numbers separated by commas, e.g. 1,32")
    if not args.concurrency or min(args.concurrency) < 1 or args.tokens < 1 or args.min_samples < 1:
        parser.error("--concurrency levels, --tokens and --min-samples must be at least 1")
    if min(args.first_token, args.token_delay, args.stream_interval) < 0:
        parser.error("times must not be negative")
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
