"""FAQ mining: how fast and how well ``bot.faq.mining.frequent`` groups a log of asked questions, and
where to put the serving threshold ``faq.match``.

The log is synthetic (``_faq_log.py``): ~60 helpdesk topics asked in Japanese, English or both,
group sizes from 2 to ~800, a few topics asked many times by one or two people, near-misses (same
words, another question) and ~25% one-off noise, every question labelled. The script

* embeds every question with ``E5Embedder.embed_query_batch`` (queries/s) and groups them with
  ``frequent`` at each ``--thresholds`` value (seconds, and the tracemalloc peak of one call);
* scores the groups against the labels: purity, member recall, group recall, splits, false groups,
  recall by the topic's language and whether the Japanese and English askers of one topic meet in
  one group;
* measures the similarity of paraphrases, near-misses and noise to each topic's canonical phrasing
  (as an approved entry's question would be), and, for serving thresholds, the share of paraphrases
  an entry would answer and of near-misses and noise it would wrongly answer. The score is the one
  ``FaqStore.match`` uses: the best of the entry's question and its paraphrases' centroid.

A benchmark, not a test. Run from the repository root:

    python bench/faq.py [--questions 10000] [--seed 0] [--thresholds 0.86,0.88,...] [--min-askers 3]
                        [--json FILE] [--cache FILE.npz]

``--questions 1000`` is a smoke run (about ten seconds of embedding on 2 cores).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import hashlib
import json
import resource
import time
import tracemalloc
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import _common  # first: sets the warning filter
import numpy as np
import numpy.typing as npt
from _faq_live import live, live_tables
from _faq_log import NEAR_MISSES, PEOPLE, TOPICS, QuestionLog, make_log

from bot.faq.mining import Asked, Group, frequent
from llm.embeddings import E5Embedder

Matrix = npt.NDArray[np.float32]

DEFAULT_THRESHOLDS = "0.86,0.87,0.88,0.89,0.90,0.91,0.92,0.93,0.94,0.95,0.96,0.97"
#: The first groups by askers: what one refresh drafts (``faq.max_drafts`` is 10) and a bit more.
TOP = 20
SERVE_THRESHOLDS = (0.86, 0.87, 0.88, 0.89, 0.90, 0.91, 0.92, 0.93, 0.94, 0.95, 0.96)
#: A serving threshold is suggested when at most these shares are wrongly answered.
NEAR_MISS_BUDGET = 0.05
NOISE_BUDGET = 0.01


@dataclass(frozen=True)
class Embedded:
    """The log's query vectors and how long they took (``seconds`` None: read from ``--cache``)."""

    vectors: Matrix
    canonical: dict[str, Matrix]
    seconds: float | None
    model: str


def _digest(log: QuestionLog) -> str:
    texts = [q.text for q in log.questions] + [t.canonical for t in log.topics.values()]
    return hashlib.sha256("\n".join(texts).encode()).hexdigest()


def cached(log: QuestionLog, cache: Path | None) -> Embedded | None:
    """The vectors of this very log from ``--cache``, if it holds them."""
    if cache is None or not cache.exists():
        return None
    stored = np.load(cache)
    if str(stored["digest"]) != _digest(log):
        return None
    canonical = dict(zip(log.topics, stored["canonical"].astype(np.float32), strict=True))
    return Embedded(stored["vectors"].astype(np.float32), canonical, None, str(stored["model"]))


def save(log: QuestionLog, emb: Embedded, cache: Path) -> None:
    canonical = np.vstack([emb.canonical[k] for k in log.topics])
    np.savez(cache, digest=_digest(log), vectors=emb.vectors, canonical=canonical, model=emb.model)


async def embed(log: QuestionLog, threads: int, batch: int) -> Embedded:
    """Every question and every canonical phrasing as query vectors; the questions' time measured."""
    texts = [q.text for q in log.questions]
    embedder = E5Embedder(threads=threads)
    await embedder.embed_query_batch(texts[:8])  # load and warm up, not timed
    started = time.perf_counter()
    parts = [await embedder.embed_query_batch(texts[i : i + batch]) for i in range(0, len(texts), batch)]
    seconds = time.perf_counter() - started
    canonical = await embedder.embed_query_batch([t.canonical for t in log.topics.values()])
    return Embedded(
        np.vstack(parts).astype(np.float32), dict(zip(log.topics, canonical, strict=True)), seconds, embedder.name
    )


# -- grouping quality -----------------------------------------------------------------------------


def score_groups(log: QuestionLog, groups: Sequence[Group], min_askers: int) -> dict[str, Any]:
    """Purity, recalls, splits and false groups of ``groups`` against the log's labels.

    A true group qualifies when at least ``min_askers`` distinct people asked it. A found group's
    majority is the label most of its members carry; it is false when fewer than ``min_askers``
    distinct people asked its majority question inside it (it passed the rule thanks to other
    questions). A qualifying true group's primary group is the found group holding most of it among
    those whose majority it is; member recall counts its questions there.
    """
    qs = log.questions
    members_of: dict[str, list[int]] = defaultdict(list)
    for i, q in enumerate(qs):
        members_of[q.label].append(i)
    askers_of = {label: len({qs[i].asker for i in idx}) for label, idx in members_of.items()}
    qualifying = [t for t in log.topics if askers_of.get(t, 0) >= min_askers]

    group_of = np.full(len(qs), -1)
    majority: list[str] = []
    pure = total = false = false_top = noisy = 0
    primary: dict[str, tuple[int, int]] = {}  # label -> (count in group, group index)
    found_for: Counter[str] = Counter()
    for g, group in enumerate(groups):
        group_of[list(group.members)] = g
        label, count = Counter(qs[i].label for i in group.members).most_common(1)[0]
        majority.append(label)
        noisy += sum(qs[i].kind == "noise" for i in group.members) * 2 > len(group.members)
        pure += count
        total += len(group.members)
        if len({qs[i].asker for i in group.members if qs[i].label == label}) < min_askers:
            false += 1
            false_top += g < TOP
            continue
        found_for[label] += 1
        if count > primary.get(label, (0, -1))[0]:
            primary[label] = (count, g)

    def recall(labels: Sequence[str]) -> float:
        size = sum(len(members_of[t]) for t in labels)
        return sum(primary.get(t, (0, -1))[0] for t in labels) / size if size else float("nan")

    by_lang = {lang: [t for t in qualifying if log.topics[t].lang == lang] for lang in ("ja", "en", "both")}
    joined = reachable = 0
    for t in by_lang["both"]:
        where: dict[str, Counter[int]] = {"ja": Counter(), "en": Counter()}
        for i in members_of[t]:
            if group_of[i] >= 0:
                where[qs[i].lang][int(group_of[i])] += 1
        if any(qs[i].lang == "en" for i in members_of[t]) and any(qs[i].lang == "ja" for i in members_of[t]):
            reachable += 1
            if where["ja"] and where["en"] and where["ja"].most_common(1)[0][0] == where["en"].most_common(1)[0][0]:
                joined += 1
    near = [i for i, q in enumerate(qs) if q.kind == "near"]
    absorbed = sum(1 for i in near if group_of[i] >= 0 and majority[int(group_of[i])] == log.topics[qs[i].label].parent)
    noise = [i for i, q in enumerate(qs) if q.kind == "noise"]
    return {
        "found": len(groups),
        "false": false,
        "false_top": false_top,
        "topics_top": len({majority[g] for g in range(min(TOP, len(groups)))} & set(qualifying)),
        "noise_groups": noisy,
        "purity": pure / total if total else float("nan"),
        "member_recall": recall(qualifying),
        "group_recall": sum(1 for t in qualifying if t in primary) / len(qualifying) if qualifying else float("nan"),
        "qualifying": len(qualifying),
        "split": sum(1 for t in qualifying if found_for[t] > 1),
        "recall_ja": recall(by_lang["ja"]),
        "recall_en": recall(by_lang["en"]),
        "recall_both": recall(by_lang["both"]),
        "cross_joined": joined,
        "cross_topics": reachable,
        "near_absorbed": absorbed / len(near) if near else float("nan"),
        "noise_grouped": sum(1 for i in noise if group_of[i] >= 0) / len(noise) if noise else float("nan"),
    }


def mining_rows(
    log: QuestionLog, vectors: Matrix, thresholds: Sequence[float], min_askers: int
) -> list[dict[str, Any]]:
    """``frequent`` at each threshold, timed, and scored."""
    asked = [Asked(str(i), q.asker, q.text) for i, q in enumerate(log.questions)]
    rows = []
    for threshold in thresholds:
        started = time.perf_counter()
        groups = frequent(asked, vectors, threshold, min_askers)
        seconds = time.perf_counter() - started
        rows.append({"threshold": threshold, "seconds": seconds, **score_groups(log, groups, min_askers)})
    return rows


def traced_peak(log: QuestionLog, vectors: Matrix, threshold: float, min_askers: int) -> int:
    """Bytes tracemalloc saw at peak during one ``frequent`` call (numpy buffers included)."""
    asked = [Asked(str(i), q.asker, q.text) for i, q in enumerate(log.questions)]
    tracemalloc.start()
    try:
        frequent(asked, vectors, threshold, min_askers)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


# -- serving threshold ----------------------------------------------------------------------------


def _unit(x: Matrix) -> Matrix:
    out: Matrix = (x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)).astype(np.float32)
    return out


def serving(log: QuestionLog, emb: Embedded, thresholds: Sequence[float]) -> dict[str, Any]:
    """Similarity distributions and, per serving threshold, what an approved entry per topic answers.

    Every main topic has an approved entry: its canonical phrasing (Japanese unless the topic is
    asked in English only) and the centroid of its paraphrases in that language (a mined group
    never mixes languages: see the grouping table's ja=en column). Near-miss questions have no
    entry, so any answer to one is wrong. A question's score against an entry is the larger of the
    two similarities, as ``FaqStore.match`` computes it; a paraphrase in its topic's centroid is
    scored against the centroid of the others.
    """
    qs = log.questions
    vectors = _unit(emb.vectors)
    keys = [t.key for t in TOPICS]
    index = {k: j for j, k in enumerate(keys)}
    canon = _unit(np.vstack([emb.canonical[k] for k in keys]))

    def canonical_lang(key: str) -> str:
        return "en" if log.topics[key].lang == "en" else "ja"

    inside = np.array([q.kind == "paraphrase" and q.lang == canonical_lang(q.label) for q in qs])
    sums = np.zeros_like(canon)
    counts = np.zeros(len(keys))
    for i in map(int, np.flatnonzero(inside)):
        sums[index[qs[i].label]] += vectors[i]
        counts[index[qs[i].label]] += 1
    centroid = _unit(sums)
    to_canon = vectors @ canon.T
    to_centroid = vectors @ centroid.T
    for i in map(int, np.flatnonzero(inside)):  # leave the question out of its own topic's centroid
        j = index[qs[i].label]
        if counts[j] > 1:
            rest = sums[j] - vectors[i]
            to_centroid[i, j] = float(vectors[i] @ rest / max(float(np.linalg.norm(rest)), 1e-12))
        else:
            to_centroid[i, j] = -1.0
    served = np.maximum(to_canon, to_centroid)

    dist: dict[str, list[float]] = defaultdict(list)
    for i, q in enumerate(qs):
        if q.kind == "paraphrase":
            same = q.lang == canonical_lang(q.label)
            dist["paraphrase, same language" if same else "paraphrase, other language"].append(
                float(to_canon[i, index[q.label]])
            )
        elif q.kind == "near":
            parent = log.topics[q.label].parent
            assert parent is not None
            dist["near-miss vs its parent"].append(float(to_canon[i, index[parent]]))
        else:
            dist["noise vs nearest"].append(float(to_canon[i].max()))
    distribution: list[dict[str, Any]] = [
        {
            "pair": name,
            "n": len(values),
            "p5": _common.percentile(values, 5),
            "p50": _common.percentile(values, 50),
            "p95": _common.percentile(values, 95),
        }
        for name, values in dist.items()
    ]
    distribution.sort(key=lambda r: -float(r["p50"]))

    para = np.array([q.kind == "paraphrase" for q in qs])
    own = np.array([index[q.label] if q.kind == "paraphrase" else -1 for q in qs])
    lang = np.array([q.lang for q in qs])
    topic_lang = np.array([log.topics[q.label].lang if q.kind == "paraphrase" else "" for q in qs])
    near = np.array([q.kind == "near" for q in qs])
    noise = np.array([q.kind == "noise" for q in qs])
    rows = []
    for t in thresholds:

        def right(scores: Matrix, where: npt.NDArray[np.bool_], t: float = t) -> float:
            best = scores.argmax(axis=1)
            ok = (best == own) & (scores.max(axis=1) >= t) & where
            return float(ok.sum() / max(int(where.sum()), 1))

        best = served.argmax(axis=1)
        top = served.max(axis=1)
        top_canonical = to_canon.max(axis=1)
        rows.append(
            {
                "threshold": t,
                "served_canonical": right(to_canon, para),
                "served": right(served, para),
                "served_ja": right(served, para & (lang == "ja")),
                "served_en": right(served, para & (lang == "en") & (topic_lang == "en")),
                "served_en_by_ja": right(served, para & (lang == "en") & (topic_lang == "both")),
                "wrong_topic": float(((best != own) & (top >= t) & para).sum() / max(int(para.sum()), 1)),
                "near_served_canonical": float(((top_canonical >= t) & near).sum() / max(int(near.sum()), 1)),
                "near_served": float(((top >= t) & near).sum() / max(int(near.sum()), 1)),
                "noise_served_canonical": float(((top_canonical >= t) & noise).sum() / max(int(noise.sum()), 1)),
                "noise_served": float(((top >= t) & noise).sum() / max(int(noise.sum()), 1)),
            }
        )
    fitting = [r for r in rows if r["near_served"] <= NEAR_MISS_BUDGET and r["noise_served"] <= NOISE_BUDGET]
    suggested = min(fitting, key=lambda r: r["threshold"]) if fitting else None
    return {"distribution": distribution, "rows": rows, "suggested": suggested}


# -- report ---------------------------------------------------------------------------------------


def _pct(x: float) -> str:
    return "-" if x != x else f"{100 * x:.1f}%"  # NaN: no such questions


def mining_table(rows: Sequence[dict[str, Any]], min_askers: int) -> str:
    body = [
        [
            f"{r['threshold']:.2f}",
            f"{r['seconds']:.2f}",
            r["found"],
            r["false"],
            r["false_top"],
            r["topics_top"],
            r["noise_groups"],
            f"{r['purity']:.3f}",
            f"{r['member_recall']:.3f}",
            f"{r['group_recall']:.3f}",
            r["split"],
            f"{r['recall_ja']:.3f}",
            f"{r['recall_en']:.3f}",
            f"{r['recall_both']:.3f}",
            f"{r['cross_joined']}/{r['cross_topics']}",
            _pct(r["near_absorbed"]),
            _pct(r["noise_grouped"]),
        ]
        for r in rows
    ]
    headers = [
        "threshold", "group s", "found", "false", f"false top {TOP}", f"topics top {TOP}", "noise", "purity",
        "member rec", "group rec", "split", "rec ja", "rec en", "rec ja+en", "ja=en", "near in parent",
        "noise grouped",
    ]  # fmt: skip
    return _common.table(headers, body) + (
        f"\n\nqualifying true groups: {rows[0]['qualifying'] if rows else 0} (asked by >= {min_askers} distinct "
        "people). purity: share of found groups' members from their majority question (weighted by size).\n"
        "member rec: share of the qualifying groups' questions in their primary found group (the one holding most "
        "of them); group rec: share of qualifying groups found.\nsplit: qualifying groups found as more than one "
        f"group. false: found groups with < {min_askers} distinct askers of their majority question; false top {TOP}: "
        f"among the\n{TOP} groups with most askers (what refreshes draft first); topics top {TOP}: distinct qualifying "
        "questions these are mostly about;\nnoise: found groups mostly of noise.\n"
        "rec ja / en / ja+en: member recall of topics asked in Japanese only, English only, both. ja=en: "
        "bilingual topics whose Japanese and English questions\nland mostly in the same group. near in parent: "
        "near-miss questions inside a group whose majority is the topic they borrow words from.\n"
        "noise grouped: one-off questions inside any found group."
    )


def serving_tables(result: dict[str, Any]) -> str:
    dist = _common.table(
        ["similarity to the canonical phrasing", "n", "p5", "p50", "p95"],
        [[d["pair"], d["n"], f"{d['p5']:.3f}", f"{d['p50']:.3f}", f"{d['p95']:.3f}"] for d in result["distribution"]],
    )
    rows = _common.table(
        [
            "faq.match", "served", "served ja", "en by en", "en by ja", "wrong entry", "near-miss served",
            "noise served", "question only: served", "near-miss", "noise",
        ],
        [
            [
                f"{r['threshold']:.2f}", _pct(r["served"]), _pct(r["served_ja"]), _pct(r["served_en"]),
                _pct(r["served_en_by_ja"]), _pct(r["wrong_topic"]), _pct(r["near_served"]), _pct(r["noise_served"]),
                _pct(r["served_canonical"]), _pct(r["near_served_canonical"]), _pct(r["noise_served_canonical"]),
            ]
            for r in result["rows"]
        ],
    )  # fmt: skip
    s = result["suggested"]
    suggestion = (
        f"suggested faq.match: {s['threshold']:.2f} (lowest with near-misses served <= {NEAR_MISS_BUDGET:.0%} "
        f"and noise <= {NOISE_BUDGET:.0%}): {_pct(s['served'])} of paraphrases served, "
        f"{_pct(s['near_served'])} of near-misses and {_pct(s['noise_served'])} of noise wrongly served"
        if s
        else f"no threshold keeps near-misses <= {NEAR_MISS_BUDGET:.0%} and noise <= {NOISE_BUDGET:.0%}"
    )
    return (
        f"{dist}\n\nnoise vs nearest: the highest similarity to any topic's canonical phrasing.\n\n{rows}\n\n"
        "served: share of paraphrases whose best entry is their own topic's, at or above the threshold; score = "
        "max(entry question, centroid of\nthe topic's other paraphrases in the entry's language) as FaqStore.match. "
        "en by en: English questions of English-only topics;\nen by ja: English questions of bilingual topics, whose "
        "entry is Japanese. 'question only': the entry's question alone, no centroid.\nwrong entry: paraphrases whose "
        "best entry, above the threshold, is another topic's. near-miss / noise served: share with any entry at or\n"
        f"above the threshold (they have none of their own).\n{suggestion}"
    )


def header(log: QuestionLog, emb: Embedded, args: argparse.Namespace, command: str) -> list[str]:
    qs = log.questions
    kinds = Counter(q.kind for q in qs)
    langs = Counter(q.lang for q in qs)
    askers = len({q.asker for q in qs})
    distinct = len({q.text for q in qs})
    top = sorted((log.sizes[t.key] for t in TOPICS), reverse=True)
    return [
        f"Kura FAQ mining  ({dt.datetime.now().astimezone():%Y-%m-%d %H:%M %Z})",
        *_common.machine_lines(),
        f"model:   {emb.model} (dim {emb.vectors.shape[1]}), {args.threads} threads, batches of {args.batch}",
        f"data:    {len(qs)} questions ({distinct} distinct texts; ja {langs['ja']}, en {langs['en']}) from "
        f"{askers} of {PEOPLE} people: {kinds['paraphrase']} paraphrases of {len(TOPICS)} topics (sizes "
        f"{top[0]} ... {top[-1]}), {kinds['near']} near-misses of {len(NEAR_MISSES)} kinds, {kinds['noise']} noise",
        f"command: {command}",
    ]


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Each section of the report, in order; a later section (FAQ hit latency) adds its own key."""
    log = make_log(args.questions, args.seed)
    emb = cached(log, args.cache)
    if emb is None:
        emb = asyncio.run(embed(log, args.threads, args.batch))
        if args.cache is not None:
            save(log, emb, args.cache)
    command = _common.reproduce(
        __file__,
        [
            "--questions", str(args.questions), "--seed", str(args.seed),
            "--thresholds", ",".join(f"{t:g}" for t in args.thresholds), "--min-askers", str(args.min_askers),
        ],
    )  # fmt: skip
    rows = mining_rows(log, emb.vectors, args.thresholds, args.min_askers)
    middle = args.thresholds[len(args.thresholds) // 2]
    peak = traced_peak(log, emb.vectors, middle, args.min_askers)
    serve = serving(log, emb, SERVE_THRESHOLDS)
    n = len(log.questions)
    embed_line = (
        f"embed:   {n} questions in {emb.seconds:.1f} s ({n / emb.seconds:.0f} queries/s)"
        if emb.seconds
        else "embed:   vectors read from --cache (not timed)"
    )
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print("\n".join(header(log, emb, args, command)))
    print(embed_line)
    print(
        f"memory:  frequent() peak {peak / 2**20:.1f} MiB (tracemalloc, threshold {middle:g}); "
        f"process max RSS {maxrss:.0f} MiB (model included)"
    )
    print()
    print(f"Grouping: frequent(threshold, min_askers={args.min_askers})")
    print(mining_table(rows, args.min_askers))
    print()
    print("Serving: one approved entry per topic, none for near-misses")
    print(serving_tables(serve))
    live_result = None
    if args.live:
        live_result = asyncio.run(live(log, emb.vectors, answers=args.answers))
        print()
        print("Live: the log as audit records, mining through the audit log, an FAQ hit against a full answer")
        print(live_tables(live_result))
    return {
        "command": command,
        "questions": n,
        "seed": args.seed,
        "model": emb.model,
        "embed_seconds": emb.seconds,
        "tracemalloc_peak_bytes": peak,
        "max_rss_mib": maxrss,
        "mining": rows,
        "serving": serve,
        "live": live_result,
    }


def _no_nan(value: Any) -> Any:
    """NaN (a share of nothing) as null: JSON has no NaN."""
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, dict):
        return {k: _no_nan(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_no_nan(v) for v in value]
    return value


def _thresholds(value: str) -> list[float]:
    out = [float(x) for x in value.split(",") if x.strip()]
    if not out or any(not 0 < t <= 1 for t in out):
        raise argparse.ArgumentTypeError("comma-separated similarities in (0, 1]")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--questions", type=int, default=10_000, help="log size (default 10000, at least 200)")
    parser.add_argument("--seed", type=int, default=0, help="generator seed (default 0)")
    parser.add_argument("--thresholds", type=_thresholds, default=_thresholds(DEFAULT_THRESHOLDS))
    parser.add_argument("--min-askers", type=int, default=3, help="distinct askers for a group (default 3)")
    parser.add_argument("--threads", type=int, default=2, help="e5 threads (default 2)")
    parser.add_argument("--batch", type=int, default=64, help="questions per embed_query_batch call (default 64)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this file")
    parser.add_argument("--cache", type=Path, default=None, help="npz of the vectors: reused when the log matches")
    parser.add_argument(
        "--live",
        action="store_true",
        help="also run the log through a live runtime (embedded database, default local model): mining "
        "through the audit log, FAQ hit vs full answer latency",
    )
    parser.add_argument("--answers", type=int, default=3, help="full answers timed with --live (default 3)")
    args = parser.parse_args()
    if args.questions < 200 or args.min_askers < 2:
        parser.error("--questions must be at least 200, --min-askers at least 2")
    report = run(args)
    if args.json is not None:
        args.json.write_text(json.dumps(_no_nan(report), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
