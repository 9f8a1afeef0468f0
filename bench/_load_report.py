"""The tables ``conversation_load.py`` prints: machine, setup, per-level figures, Web API calls,
and the database-restart scenario."""

from __future__ import annotations

import argparse
import datetime as dt
from collections.abc import Callable, Sequence

import _common  # first: sets the warning filter
from _load_rounds import Round, merge
from _load_world import ACK_TIMEOUT_S, ASKERS


def _ms(values: Sequence[float], p: float) -> str:
    return "n/a" if not values else f"{1000 * _common.percentile(values, p):.0f}"


def _x(values: Sequence[float], p: float) -> str:
    return "n/a" if not values else f"{_common.percentile(values, p):.3f}"


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
    merged = {c: merge(rs) for c, rs in rounds.items()}
    levels = list(merged)
    cols = [f"C={c}" for c in levels]
    model_s = args.first_token + (args.tokens - 1) * args.token_delay
    command = ["--concurrency", ",".join(map(str, args.concurrency)), "--first-token", str(args.first_token)]
    command += ["--tokens", str(args.tokens), "--token-delay", str(args.token_delay), "--streaming", args.streaming]
    command += ["--update-interval", str(args.update_interval), "--min-samples", str(args.min_samples)]
    command += ["--restart", str(args.restart), "--restart-at", str(args.restart_at), "--down-for", str(args.down_for)]
    command += ["--query-vectors", args.query_vectors, *(["--cold"] if args.cold else [])]
    command += [] if args.knowledge is None else ["--knowledge", str(args.knowledge)]
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
        f"data:    {args.knowledge or 'sample knowledge'}: {counts.get('added', 0)} documents, {chunks} chunks "
        f"(ingested in {ingest_s:.1f} s); query vectors: {vectors};"
        f" mentions by {len(ASKERS)} employees in #general, 3 questions, each numbered"
    )
    print(f"command: {_common.reproduce('conversation_load.py', command)}")  # the script run, not this module
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
