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
        [--knowledge DIR] [--data-dir DIR] [--keep]

``--knowledge bot/sample/knowledge/handbook`` ingests only the folder that answers the three questions
(a smaller ingest, for ``make bench-smoke``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import sys
import time
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from sqlalchemy import make_url

from bot.adapters.slack.runner import SlackRunner
from bot.settings import HttpSettings, KuraSettings, SlackSettings
from bot.wiring import Runtime, open_runtime

# The fakes and the adapter tests' workspace live under tests/, which is not an installed package.
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))
from _load_report import report_tables
from _load_rounds import LagMeter, Round, mentions_of_wave, run_round
from _load_world import ASKERS, SECRET, Outside, bench_settings, prepare, run_world

# ---------------------------------------------------------------------------------- Kura


@contextlib.asynccontextmanager
async def kura(slack: SlackSettings, runtime: Runtime) -> Any:
    """Kura's Slack adapter in HTTP mode on a free loopback port; yields its events URL."""
    runner = SlackRunner(slack, HttpSettings(host="127.0.0.1", port=0), runtime)
    await runner.start()
    try:
        yield f"http://127.0.0.1:{runner.port}/slack/events"
    finally:
        await runner.stop()


async def run(args: argparse.Namespace) -> None:
    await run_world(args, Outside, load)


async def load(args: argparse.Namespace, outside: Outside, base: KuraSettings, db: Any, where: str) -> None:
    settings = bench_settings(base, db, outside.model.url)
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
        report, ingest_s = await prepare(runtime, args.query_vectors, args.knowledge)
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
                    result = await run_round(
                        outside, url, mentions_of_wave(wave, concurrency), lag, settle_s, timeout_s
                    )
                    if profiler is not None:
                        profiler.stop()
                        text = profiler.output_text(unicode=True, show_all=False, timeline=False)
                        args.profile.write_text(text, encoding="utf-8")
                    rounds.setdefault(concurrency, []).append(result)
        if args.restart:
            restart, after_restart, outage = await restart_scenario(
                args, outside, slack, runtime, db, lag, wave, settle_s, timeout_s
            )
        await lag.stop()
    report_tables(args, where, report.counts(), report.chunks_written, ingest_s, rounds, restart, after_restart, outage)


async def restart_scenario(
    args: argparse.Namespace,
    outside: Outside,
    slack: SlackSettings,
    runtime: Runtime,
    db: Any,
    lag: LagMeter,
    wave: int,
    settle_s: float,
    timeout_s: float,
) -> tuple[Round | None, Round | None, tuple[float, float, float] | None]:
    """``--restart`` mentions at once with the embedded PostgreSQL stopped and started in the middle,
    then one more mention: (that round, the one after, (stopped, up, after-up) seconds from sending)."""
    server = getattr(db, "_server", None)
    host = make_url(db.engine.url.render_as_string(hide_password=False)).query.get("host")
    if server is None or not isinstance(host, str):
        print("restart scenario skipped: the database is not the embedded one", file=sys.stderr)
        return None, None, None
    async with kura(slack, runtime) as url:
        if not args.cold:
            wave += 1
            await warm_up(outside, url, wave, lag, settle_s, timeout_s)
        wave += 1
        outage_task = asyncio.ensure_future(
            outside.call(outside.restart_database(server, host, args.restart_at, args.down_for))
        )
        sent = time.perf_counter()
        restart = await run_round(outside, url, mentions_of_wave(wave, args.restart), lag, settle_s, timeout_s)
        stopped, up = await outage_task
        outage = (stopped - sent, up - sent, time.perf_counter() - up)
        after = await run_round(outside, url, mentions_of_wave(wave + 1, 1), lag, settle_s, timeout_s)
    return restart, after, outage


async def warm_up(outside: Outside, url: str, wave: int, lag: LagMeter, settle_s: float, timeout_s: float) -> None:
    """One untimed mention by each asker, one after another: Bolt's authorization, the Slack
    directory's caches and the database pool are then as in steady operation."""
    for k in range(len(ASKERS)):
        mention = mentions_of_wave(wave, k + 1)[k]
        await run_round(outside, url, [mention], lag, settle_s=0.0, timeout_s=timeout_s)


def _profiler(args: argparse.Namespace) -> Any:
    if args.profile is None:
        return None
    try:
        from pyinstrument import Profiler
    except ImportError:
        print("--profile: pyinstrument is not importable; no profile", file=sys.stderr)
        return None
    return Profiler(interval=0.005, async_mode="disabled")  # the whole loop, not one task


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
    parser.add_argument(
        "--knowledge", type=Path, default=None, help="ingest this folder, not all of the sample knowledge (smoke)"
    )
    parser.add_argument("--data-dir", type=Path, default=None, help="embedded PostgreSQL folder (default: new in /tmp)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folders")
    args = parser.parse_args()
    try:
        args.concurrency = [int(c) for c in args.concurrency.split(",") if c.strip()]
    except ValueError:
        parser.error("--concurrency takes numbers separated by commas, e.g. 1,32,200")
    if not args.concurrency or min(args.concurrency) < 1 or args.min_samples < 1:
        parser.error("--concurrency levels and --min-samples must be at least 1")
    if args.tokens < 6:  # fewer pieces than the 10 characters by which an answer is recognised: none counts
        parser.error("--tokens must be at least 6")
    if min(args.first_token, args.token_delay, args.update_interval, args.restart_at, args.down_for) < 0:
        parser.error("times must not be negative")
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
