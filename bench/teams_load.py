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
        [--cold] [--knowledge DIR] [--data-dir DIR] [--keep]

``--knowledge bot/sample/knowledge/handbook`` ingests only the folder that answers the three questions
(a smaller ingest, for ``make bench-smoke``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from bot.adapters.teams.runner import TeamsRunner
from bot.http import HttpHost
from bot.settings import GraphSettings, HttpSettings, KuraSettings
from bot.wiring import Runtime, open_runtime

# The fakes and the adapter tests' tenant live under tests/, which is not an installed package.
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))
from _load_rounds import LagMeter
from _load_world import bench_settings, prepare, run_world
from _teams_report import report_tables
from _teams_rounds import Round, messages_of_wave, run_round
from _teams_world import ASKERS, Outside

from tests.adapters.teams_harness import (
    teams_settings,
    trusting_session,
)


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
    settings = bench_settings(base, db, outside.model.url)
    timeout_s = args.first_token + args.tokens * args.token_delay + 120
    settle_s = max(1.0, 2 * args.stream_interval)
    rounds: dict[int, list[Round]] = {}
    tokens: dict[int, int] = {}
    lag = LagMeter()
    async with open_runtime(settings, with_model=True) as runtime:
        report, ingest_s = await prepare(runtime, args.query_vectors, args.knowledge)
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
    parser.add_argument(
        "--knowledge", type=Path, default=None, help="ingest this folder, not all of the sample knowledge (smoke)"
    )
    parser.add_argument("--data-dir", type=Path, default=None, help="embedded PostgreSQL folder (default: new in /tmp)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folders")
    args = parser.parse_args()
    try:
        args.concurrency = [int(c) for c in args.concurrency.split(",") if c.strip()]
    except ValueError:
        parser.error("--concurrency takes numbers separated by commas, e.g. 1,32")
    if not args.concurrency or min(args.concurrency) < 1 or args.min_samples < 1:
        parser.error("--concurrency levels and --min-samples must be at least 1")
    if args.tokens < 6:  # fewer pieces than the 10 characters by which an answer is recognised: none counts
        parser.error("--tokens must be at least 6")
    if min(args.first_token, args.token_delay, args.stream_interval) < 0:
        parser.error("times must not be negative")
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
