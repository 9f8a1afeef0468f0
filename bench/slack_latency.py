"""Slack latency: how soon a mention shows a sign of life and its first words, against the model's own TTFT.

The pieces are started as the adapter tests start them (``tests/adapters/conftest.py``): the embedded
PostgreSQL in a new folder under /tmp, migrated; the sample knowledge ingested; llama.cpp serving
``--model`` on loopback (``LocalModelServer``, 2 threads, context 4096); Kura's runtime on both
(``open_runtime(settings_for(...), with_model=True)``); and ``SlackRunner`` in Socket Mode against
``tests.fakes.slack.FakeSlack`` (the real slack_bolt / slack_sdk clients, the fake on 127.0.0.1),
streaming by ``chat.update`` every ``--update-interval`` seconds.

Alice mentions Kura in #general ``--mentions`` times, one at a time (the next is sent once the
previous answer is final), alternating three questions about the sample knowledge. Measured from the
moment ``fake.send_envelope("events_api", ...)`` is called:

* ack: ``send_envelope`` returns (Bolt acked the envelope over the WebSocket);
* first visible sign: the fake received the placeholder ``chat.postMessage``;
* first token via Slack: the fake received the first ``chat.update`` carrying answer text (not the
  placeholder, no blocks);
* final answer: the fake received the ``chat.update`` with blocks (sources, buttons).

The fake does not timestamp the requests it records, so a task polls ``fake.calls`` every 5 ms and
notes when each new call appears: Slack-side times are late by 0-5 ms plus event-loop delay (the
fake, Bolt and Kura share one event loop here; the model server is a separate process).

The model server's own time to first token is measured with the same prompts Kura sends: the scope
comes from Kura's policy engine for Alice in #general (the Slack directory over the fake, as the
pipeline decides it), passages from ``runtime.retriever.retrieve`` grouped per document as the
pipeline groups them, messages from ``llm.prompts.build_messages``; then one streamed
``chat.completions`` request with ``openai.AsyncOpenAI`` (same model, max_tokens, temperature).
Timed: the first delta with non-empty content, and the whole stream. That the prompts match is
checked afterwards against the chunk ids in Kura's audit records.

Slack mentions and direct requests alternate (S, D, S, D, ...) and the question changes at every
request: llama.cpp reuses the longest token prefix shared with the previous request, so each request,
whichever path, finds only the system prompt and ``Question:`` cached. One untimed warm-up of each
path comes first (with another question); it also fills the Slack directory cache, as in steady
operation.

``--fake-model`` puts ``tests/fakes/openai_server.FakeOpenAI`` (a fixed answer, first piece after
0.2 s, then every 20 ms) where llama.cpp was: the figures then say nothing about the model, but every
step above runs in seconds, which is what ``make bench-smoke`` checks.

A benchmark, not a test. Run from the repository root:

    python bench/slack_latency.py [--mentions 10] [--model qwen2.5-0.5b-instruct-q4_k_m]
                                  [--update-interval 0.2] [--max-tokens N] [--data-dir DIR] [--keep]
                                  [--fake-model] [--knowledge DIR]

``--knowledge bot/sample/knowledge/handbook`` ingests only the folder that answers the three questions.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import math
import signal
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import _common  # first: sets the warning filter
import httpx
import openai
from openai.types.chat import ChatCompletionMessageParam

from bot.adapters.slack.directory import SlackDirectory
from bot.adapters.slack.runner import SlackRunner, slack_client
from bot.settings import HttpSettings, KuraSettings
from bot.wiring import Runtime, open_runtime, sample_knowledge
from knowledge import RetrievedChunk
from llm.catalog import get_local_model
from llm.chat import ChatMessage
from llm.prompts import Passage, build_messages
from llm.runtime import LocalModelServer, ensure_model_file
from policies import Request, Scope, decide

# The fake Slack and the adapter tests' settings live under tests/, which is not an installed package.
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))
from tests.adapters.conftest import CHANNELS, USERS, settings_for, slack_settings
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.slack import FakeSlack

MODELS = ("qwen2.5-0.5b-instruct-q4_k_m", "qwen2.5-1.5b-instruct-q4_k_m")
QUESTIONS = ("経費精算の締め日は？", "What is the remote work policy?", "有給休暇は何日？")
WARM_UP = "オフィスのWi-Fiのパスワードは？"  # untimed; not one of QUESTIONS, so the model's prompt cache moves on
ASKER, CHANNEL, BOT = "U_ALICE", "C_GENERAL", "U_KURA"
POLL_S = 0.005
LLM_THREADS, LLM_CONTEXT = 2, 4096  # as the adapter tests' model server
# --fake-model: the answer in pieces of 4 characters (about a token each), the first piece's delay, the next ones'.
_FAKE_TEXT = "経費精算の締め日は毎月25日です。申請はワークフローから行い、領収書の画像を添付してください。"
FAKE_ANSWER = [_FAKE_TEXT[i : i + 4] for i in range(0, len(_FAKE_TEXT), 4)]
FAKE_FIRST_S, FAKE_DELAY_S = 0.2, 0.02


class CallClock:
    """When each entry of ``fake.calls`` first appeared, found by polling the list every ``POLL_S``."""

    def __init__(self, fake: FakeSlack) -> None:
        self._fake = fake
        self.seen: list[float] = []
        self._task: asyncio.Task[None] | None = None

    def catch_up(self) -> None:
        now = time.perf_counter()
        while len(self.seen) < len(self._fake.calls):
            self.seen.append(now)

    async def _poll(self) -> None:
        while True:
            self.catch_up()
            await asyncio.sleep(POLL_S)

    def start(self) -> None:
        self.catch_up()
        self._task = asyncio.create_task(self._poll())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


@dataclass
class SlackSample:
    question: str
    thread_ts: str
    ack_s: float
    placeholder_s: float
    first_token_s: float
    final_s: float
    streamed: bool  # a chat.update with answer text came before the final one
    updates: int  # chat.update calls for this answer, final included


@dataclass
class DirectSample:
    question: str
    retrieval_s: float
    ttft_s: float | None  # None: the request failed or streamed no text
    total_s: float
    pieces: int  # deltas with content (about one per token on llama.cpp)


def _mention(fake: FakeSlack, question: str) -> dict[str, Any]:
    ts = f"{time.time():.6f}"
    return fake.event_callback(
        {"type": "app_mention", "user": ASKER, "text": f"<@{BOT}> {question}", "channel": CHANNEL, "ts": ts}
    )


async def ask_in_slack(fake: FakeSlack, clock: CallClock, question: str, timeout_s: float) -> SlackSample:
    """One mention, waited for until its final ``chat.update``; times from ``send_envelope``."""
    payload = _mention(fake, question)
    thread_ts = str(payload["event"]["ts"])
    clock.catch_up()
    start = len(fake.calls)
    t0 = time.perf_counter()
    await fake.send_envelope("events_api", payload)
    ack_s = time.perf_counter() - t0
    deadline = t0 + timeout_s
    post: int | None = None
    reply_ts: str | None = None
    while True:
        calls = fake.calls[start:]
        if post is None:
            post = next(
                (
                    i
                    for i, c in enumerate(calls)
                    if c.method == "chat.postMessage" and c.params.get("thread_ts") == thread_ts
                ),
                None,
            )
            if post is not None:
                reply_ts = next(m["ts"] for m in fake.messages(CHANNEL) if m.get("thread_ts") == thread_ts)
        updates = [i for i, c in enumerate(calls) if c.method == "chat.update" and c.params.get("ts") == reply_ts]
        final = next((i for i in updates if "blocks" in calls[i].params), None)
        if post is not None and final is not None:
            break
        if time.perf_counter() > deadline:
            raise TimeoutError(f"no final answer within {timeout_s:.0f}s; calls: {[c.method for c in calls]}")
        await asyncio.sleep(POLL_S)
    clock.catch_up()
    placeholder = str(calls[post].params.get("text", ""))
    streamed = [
        i
        for i in updates
        if i < final and "blocks" not in calls[i].params and str(calls[i].params.get("text", "")) != placeholder
    ]
    first = streamed[0] if streamed else final

    def at(index: int) -> float:
        return clock.seen[start + index] - t0

    return SlackSample(question, thread_ts, ack_s, at(post), at(first), at(final), bool(streamed), len(updates))


async def channel_scope(fake: FakeSlack, runtime: Runtime) -> Scope:
    """The scope Kura's pipeline computes for Alice in #general (Slack directory over the fake)."""
    client = slack_client(slack_settings(fake))
    directory = SlackDirectory(client, runtime.directory, team_id=fake.team_id, ttl_s=300.0)
    user = await directory.user(ASKER)
    members = await directory.channel_members(CHANNEL)
    assert user is not None, "Alice is unknown to the directory"
    assert members is not None, "#general is unknown to the directory"
    decision = decide(runtime.policy.current(), Request("ask", user.member(), CHANNEL, members))
    assert decision.scope is not None, decision.reason
    return decision.scope


async def retrieve(runtime: Runtime, scope: Scope, question: str) -> list[RetrievedChunk]:
    assert runtime.retriever is not None
    top_k = runtime.settings.retrieval.top_k
    return await runtime.retriever.retrieve(question, scope.principal_sets, int(scope.clearance), top_k)


def prompt_for(question: str, chunks: Sequence[RetrievedChunk]) -> list[ChatMessage]:
    """The messages Kura's pipeline sends: chunks grouped per document in order, numbered from 1."""
    grouped: dict[str, list[RetrievedChunk]] = {}
    for chunk in chunks:
        grouped.setdefault(chunk.source, []).append(chunk)
    passages = [Passage(cs[0].title, src, "\n…\n".join(c.text for c in cs)) for src, cs in grouped.items()]
    return build_messages(question, passages)


def _wire(messages: Sequence[ChatMessage]) -> list[ChatCompletionMessageParam]:
    out: list[ChatCompletionMessageParam] = []
    for m in messages:
        if m.role == "system":
            out.append({"role": "system", "content": m.content})
        elif m.role == "assistant":
            out.append({"role": "assistant", "content": m.content})
        else:
            out.append({"role": "user", "content": m.content})
    return out


async def ask_model(client: openai.AsyncOpenAI, runtime: Runtime, scope: Scope, question: str) -> DirectSample:
    """Retrieve and build the prompt as Kura does, then time one streamed request to the model server."""
    llm = runtime.settings.llm
    t0 = time.perf_counter()
    chunks = await retrieve(runtime, scope, question)
    retrieval_s = time.perf_counter() - t0
    messages = _wire(prompt_for(question, chunks))
    ttft: float | None = None
    pieces = 0
    t1 = time.perf_counter()
    try:
        stream = await client.chat.completions.create(
            model=llm.model, messages=messages, max_tokens=llm.max_tokens, temperature=llm.temperature, stream=True
        )
        async for chunk in stream:
            for choice in chunk.choices:
                if choice.delta.content:
                    if ttft is None:
                        ttft = time.perf_counter() - t1
                    pieces += 1
    except openai.OpenAIError as exc:  # counted as a failure (Kura would answer "unavailable")
        print(f"direct request failed for {question!r}: {type(exc).__name__}", file=sys.stderr)
        ttft = None
    total_s = time.perf_counter() - t1
    return DirectSample(question, retrieval_s, ttft, total_s, pieces)


async def prompt_tokens(base_url: str, model: str, messages: Sequence[ChatMessage]) -> int | None:
    """Tokens of the messages' text by the server's tokenizer (llama-cpp-python ``/extras/tokenize``;
    the chat template adds a few more). None when the server has no such endpoint."""
    root = base_url.removesuffix("/v1")
    text = "\n".join(m.content for m in messages)
    try:
        async with httpx.AsyncClient(timeout=30.0) as client:
            response = await client.post(f"{root}/extras/tokenize", json={"input": text, "model": model})
            response.raise_for_status()
            return len(response.json()["tokens"])
    except (httpx.HTTPError, KeyError, ValueError):
        return None


def _ms(values: Sequence[float]) -> list[str]:
    if not values:
        return ["n/a", "n/a", "n/a"]
    ms = [1000 * v for v in values]
    return [f"{_common.percentile(ms, 50):.0f}", f"{_common.percentile(ms, 95):.0f}", f"{max(ms):.0f}"]


async def run(args: argparse.Namespace) -> None:
    main_task = asyncio.current_task()
    if main_task is not None:  # SIGTERM (kill, timeout) unwinds like Ctrl-C: the model server and database stop
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main_task.cancel)
    async with _common.database(args.data_dir, keep=args.keep) as (base, db, where):
        db_url = db.engine.url.render_as_string(hide_password=False)
        entry = get_local_model(args.model)
        async with contextlib.AsyncExitStack() as stack:
            if args.fake_model:
                fake_model = FakeOpenAI(FAKE_ANSWER, first_token_s=FAKE_FIRST_S, token_delay_s=FAKE_DELAY_S)
                base_url = (await stack.enter_async_context(fake_model)).url
            else:
                model_file = await asyncio.to_thread(ensure_model_file, entry, base.model_cache_dir)
                log_file = base.data_dir / "llm.log"
                server = LocalModelServer(
                    model_file, entry.id, threads=LLM_THREADS, context=LLM_CONTEXT, log_file=log_file
                )
                base_url = (await stack.enter_async_context(server)).base_url
            settings = settings_for(base.data_dir, db_url, base_url)
            updates: dict[str, object] = {"model": entry.id}
            if args.max_tokens is not None:
                updates["max_tokens"] = args.max_tokens
            settings.llm = settings.llm.model_copy(update=updates)
            async with open_runtime(settings, with_model=True) as runtime:
                started = time.perf_counter()
                report = await runtime.ingestor.ingest(args.knowledge or sample_knowledge())
                ingest_s = time.perf_counter() - started
                async with FakeSlack(USERS, CHANNELS) as fake:
                    await measure(
                        args, settings, runtime, fake, where, report.counts(), report.chunks_written, ingest_s
                    )


async def measure(
    args: argparse.Namespace,
    settings: KuraSettings,
    runtime: Runtime,
    fake: FakeSlack,
    where: str,
    counts: dict[str, int],
    chunks_written: int,
    ingest_s: float,
) -> None:
    slack = slack_settings(fake).model_copy(update={"update_interval_s": args.update_interval})
    runner = SlackRunner(slack, HttpSettings(port=0), runtime)
    llm = settings.llm
    base_url = llm.base_url or ""
    client = openai.AsyncOpenAI(base_url=base_url, api_key="not-needed", timeout=llm.timeout_s, max_retries=0)
    clock = CallClock(fake)
    timeout_s = llm.timeout_s + 60
    await runner.start()
    try:
        await fake.wait_connected()
        clock.start()
        scope = await channel_scope(fake, runtime)
        await ask_in_slack(fake, clock, WARM_UP, timeout_s)  # untimed warm-up of each path
        await ask_model(client, runtime, scope, WARM_UP)
        via_slack: list[SlackSample] = []
        direct: list[DirectSample] = []
        for k in range(2 * args.mentions):  # S, D, S, D, ...; the question changes at every request
            question = QUESTIONS[k % len(QUESTIONS)]
            if k % 2 == 0:
                via_slack.append(await ask_in_slack(fake, clock, question, timeout_s))
            else:
                direct.append(await ask_model(client, runtime, scope, question))
        await clock.stop()
        # Untimed checks: Kura's audit records (status, its own first-token time, the chunks it used).
        records = {r.thread_id: r for r in await runtime.audit.recent(4 * args.mentions + 10)}
        chunk_ids = {q: [c.chunk_id for c in await retrieve(runtime, scope, q)] for q in QUESTIONS}
        tokens = {
            q: await prompt_tokens(base_url, llm.model, prompt_for(q, await retrieve(runtime, scope, q)))
            for q in QUESTIONS
        }
    finally:
        await clock.stop()
        await client.close()
        await runner.stop()

    audited = [records.get(s.thread_ts) for s in via_slack]
    ok = [s for s, r in zip(via_slack, audited, strict=True) if r is not None and r.status == "answered"]
    ok_direct = [d for d in direct if d.ttft_s is not None]
    same_prompt = sum(
        1
        for s, r in zip(via_slack, audited, strict=True)
        if r is not None and [c["chunk_id"] for c in r.retrieved] == chunk_ids[s.question]
    )
    pipeline_ft = [r.first_token_ms / 1000 for r in audited if r is not None and r.first_token_ms is not None]
    outside = [  # per mention: before the pipeline starts, plus getting the first text to Slack
        s.first_token_s - r.first_token_ms / 1000
        for s, r in zip(via_slack, audited, strict=True)
        if r is not None and r.status == "answered" and r.first_token_ms is not None
    ]
    streamed = sum(1 for s in ok if s.streamed)
    n, n_ok, n_direct = len(via_slack), len(ok), len(ok_direct)

    rows = [
        ["ack (Bolt acks the envelope)", "send_envelope", n, *_ms([s.ack_s for s in via_slack])],
        [
            "first visible sign (placeholder chat.postMessage)",
            "send_envelope",
            n,
            *_ms([s.placeholder_s for s in via_slack]),
        ],
        [
            "first token via Slack (first chat.update with text)",
            "send_envelope",
            n_ok,
            *_ms([s.first_token_s for s in ok]),
        ],
        ["model TTFT, direct (first non-empty delta)", "request", n_direct, *_ms([d.ttft_s or 0.0 for d in ok_direct])],
        ["final answer (chat.update with blocks)", "send_envelope", n_ok, *_ms([s.final_s for s in ok])],
        ["model whole stream, direct", "request", n_direct, *_ms([d.total_s for d in ok_direct])],
        ["  context: retrieval, direct (embed + search)", "call", len(direct), *_ms([d.retrieval_s for d in direct])],
        ["  context: Kura pipeline first_token_ms (audit)", "pipeline start", len(pipeline_ft), *_ms(pipeline_ft)],
        ["  context: first token via Slack - first_token_ms", "same mention", len(outside), *_ms(outside)],
    ]

    def median_ms(values: Sequence[float]) -> float:
        return 1000 * statistics.median(values) if values else float("nan")

    ttft_by_question = {q: [d.ttft_s for d in ok_direct if d.question == q and d.ttft_s is not None] for q in QUESTIONS}
    overhead = median_ms([s.first_token_s for s in ok]) - median_ms([d.ttft_s or 0.0 for d in ok_direct])
    paired = [
        s.first_token_s - statistics.median(ttft_by_question[s.question]) for s in ok if ttft_by_question[s.question]
    ]
    per_question = []
    for i, q in enumerate(QUESTIONS, 1):
        slack_ms = median_ms([s.first_token_s for s in ok if s.question == q])
        direct_ms = median_ms(ttft_by_question[q])
        per_question.append(
            [
                f"q{i}",
                tokens[q] if tokens[q] is not None else "n/a",
                sum(1 for s in ok if s.question == q),
                _num(slack_ms),
                len(ttft_by_question[q]),
                _num(direct_ms),
                _num(slack_ms - direct_ms),
            ]
        )
    known = [t for t in tokens.values() if t is not None]
    prompt = f"{min(known)}-{max(known)} tokens of text per prompt" if known else "prompt size n/a"
    n_docs = counts["added"]
    scope_text = f"{len(scope.principal_sets)} reader sets, clearance {scope.clearance.label}"
    command_args = ["--mentions", str(args.mentions), "--model", args.model]
    command_args += ["--update-interval", str(args.update_interval), "--max-tokens", str(llm.max_tokens)]
    command_args += ["--fake-model"] if args.fake_model else []
    command_args += [] if args.knowledge is None else ["--knowledge", str(args.knowledge)]
    served = f"on llama.cpp (LocalModelServer, {LLM_THREADS} threads, context {LLM_CONTEXT})"
    if args.fake_model:
        served = f"answered by FakeOpenAI (first piece after {FAKE_FIRST_S} s, then every {FAKE_DELAY_S * 1000:.0f} ms)"

    print(f"Kura Slack latency  ({dt.datetime.now().astimezone():%Y-%m-%d %H:%M %Z})")
    print("\n".join(_common.machine_lines()))
    print(f"model:   {llm.model} {served}, max_tokens {llm.max_tokens}, temperature {llm.temperature}, streamed")
    print(
        f"slack:   FakeSlack on 127.0.0.1, Socket Mode, streaming=update, update_interval_s {args.update_interval}; "
        f"calls timed by polling fake.calls every {POLL_S * 1000:.0f} ms"
    )
    print(f"db:      {where}")
    print(
        f"data:    {args.knowledge or 'sample knowledge'}: {n_docs} documents, {chunks_written} chunks "
        f"(ingested in {ingest_s:.1f} s); "
        f"top_k {settings.retrieval.top_k}; {prompt}"
    )
    print(
        f"asks:    {args.mentions} mentions by alice in #general ({CHANNEL}: {scope_text}) and "
        f"{args.mentions} direct requests, alternating, after one untimed warm-up of each"
    )
    print(f"asked:   {'; '.join(f'q{i} {q}' for i, q in enumerate(QUESTIONS, 1))} (in turn, one per request)")
    print(f"command: {_common.reproduce(__file__, command_args)}")
    print()
    print(_common.table(["step", "measured from", "n", "p50 ms", "p95 ms", "max ms"], rows))
    print()
    print(
        "Slack overhead on first token: median(first token via Slack) - median(model TTFT direct) = "
        f"{_num(overhead, ' ms')}"
    )
    print(
        "  same question: median over mentions of (first token via Slack - median direct TTFT for its question) = "
        f"{_num(median_ms(paired), ' ms')}"
    )
    print()
    headers = [
        "question",
        "prompt tokens",
        "mentions",
        "first token via Slack p50 ms",
        "direct requests",
        "model TTFT p50 ms",
        "difference ms",
    ]
    print(_common.table(headers, per_question))
    print()
    print(
        f"checks:  answered {n_ok}/{n} (audit status; the first token and final rows count answered mentions only); "
        f"direct requests that streamed text {n_direct}/{len(direct)};"
    )
    print(
        f"         same retrieved chunks in Kura's audit record as in the direct prompt {same_prompt}/{n}; "
        f"a streamed chat.update before the final one {streamed}/{n_ok};"
    )
    print(
        f"         chat.update calls per answer p50 {statistics.median(s.updates for s in via_slack):.0f}; "
        f"model deltas per direct answer p50 {statistics.median(d.pieces for d in direct):.0f}"
    )


def _num(value: float, unit: str = "") -> str:
    return "n/a" if math.isnan(value) else f"{value:.0f}{unit}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--mentions", type=int, default=10, help="timed mentions, and as many direct requests")
    parser.add_argument("--model", choices=MODELS, default=MODELS[0], help=f"catalog id (default {MODELS[0]})")
    parser.add_argument("--update-interval", type=float, default=0.2, help="chat.update interval, s (default 0.2)")
    parser.add_argument("--max-tokens", type=int, default=None, help="answer cap (default: the adapter tests' 48)")
    parser.add_argument("--data-dir", type=Path, default=None, help="embedded PostgreSQL folder (default: new in /tmp)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folders")
    parser.add_argument("--fake-model", action="store_true", help="a fake model instead of llama.cpp (smoke)")
    parser.add_argument(
        "--knowledge", type=Path, default=None, help="ingest this folder, not all of the sample knowledge (smoke)"
    )
    args = parser.parse_args()
    if args.mentions < 1 or args.update_interval < 0 or (args.max_tokens is not None and args.max_tokens < 1):
        parser.error("--mentions and --max-tokens must be at least 1, --update-interval not negative")
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
