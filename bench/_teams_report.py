"""The tables bench/teams_load.py prints."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Callable
from pathlib import Path

import _common  # first: sets the warning filter

# The fakes and the adapter tests' tenant live under tests/, which is not an installed package.
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))
from _load_report import _ms, _x
from _teams_rounds import Round, merge
from _teams_world import (
    ASKERS,
)


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
    command += [] if args.knowledge is None else ["--knowledge", str(args.knowledge)]
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
        f"data:    {args.knowledge or 'sample knowledge'}: {counts.get('added', 0)} documents, {chunks} chunks "
        f"(ingested in {ingest_s:.1f} s); query vectors: {vectors}; messages by "
        f"{len(ASKERS)} employees, alternately @mentions in General (placeholder, one update) and in their "
        "1:1 chat (streaming), 3 questions, each numbered"
    )
    print(f"command: {_common.reproduce('teams_load.py', command)}")  # the script run, not this module
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
