"""Retrieval quality: hit@1, hit@5 and MRR of vector-only, keyword-only and hybrid search, and abstention.

The sample knowledge base (bot/sample/knowledge) is ingested into a fresh database with Kura's
ingest (multilingual-e5-small, keywords from ``knowledge.keywords``). Every question of
``bench/retrieval_quality.yaml`` is asked as its asker: the scope comes from the shipped policy and
directory (``policies.decide(policy, Request("ask", user.member()))``, a DM), so a question about a
document the asker may not read is unanswerable for them.

Scores are per question over the ranked chunks (``--k`` of them, 10 by default): hit@1 when the first
chunk is from an expected document, hit@5 when one of the first five is, MRR the mean of 1/rank of
the first chunk from an expected document (0 when none is in the first k). Unanswerable questions
are left out of these and used for abstention: the best hit's cosine similarity and keyword coverage
(the share of the question's keywords the chunk holds) for unanswerable and answerable questions,
then, for candidate floors, abstention precision (abstained questions that were unanswerable),
recall (unanswerable questions abstained) and the answerable questions kept. Every mode's row also
gives the abstention of Kura's floor (``knowledge.relevance.answers`` with the default
``KURA_RETRIEVAL_MIN_*``, on the first five hits as the pipeline sees them): precision, recall and
the answerable questions it drops.

``--rerank-url URL --rerank-model NAME`` adds a "reranked" row: the hybrid search's first
``--rerank-candidates`` (20) chunks reordered by that ``/rerank`` server (vLLM, Jina/Cohere
protocol); its floor is ``--rerank-floor`` on the best relevance_score when given.

A benchmark, not a test. Run from the repository root:

    python bench/retrieval_quality.py [--k 10] [--threads N] [--smoke] [--data-dir DIR] [--keep]
        [--rerank-url URL --rerank-model NAME [--rerank-candidates 20] [--rerank-floor S]]

``--smoke``: the public/ and handbook/ folders and the questions they can answer (a minute or so).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import itertools
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import _common  # first: sets the warning filter
import numpy as np
import yaml

from bot.identity import FileDirectory
from bot.wiring import default_directory_file, default_policy_file, sample_knowledge
from knowledge.ingest import Ingestor
from knowledge.keywords import query_terms
from knowledge.relevance import RelevanceFloor, answers
from knowledge.rerank import Reranker
from knowledge.store import KnowledgeStore, SearchHit
from llm.embeddings import E5Embedder
from policies import Request, decide
from policies.loader import load_policy

QUESTIONS = Path(__file__).with_name("retrieval_quality.yaml")
SMOKE_FOLDERS = ("public", "handbook")
SMOKE_QUESTIONS = 12
#: name -> (legs, keyword match, share of the question's terms a keyword hit must hold); vector-only
#: uses KnowledgeStore.search (the `vector` mode's path); the first keyword and hybrid rows are Kura's.
MODES: dict[str, tuple[tuple[bool, bool], str, float]] = {
    "vector": ((True, False), "or", 0.5),
    "keyword": ((False, True), "or", 0.5),
    "keyword, any term": ((False, True), "or", 0.0),
    "keyword, all terms": ((False, True), "and", 0.0),
    "hybrid": ((True, True), "or", 0.5),
    "hybrid, any term": ((True, True), "or", 0.0),
    "hybrid, all terms": ((True, True), "and", 0.0),
}
KINDS = ("paraphrase", "code", "cross-language")
#: The chunks the pipeline retrieves (KURA_RETRIEVAL_TOP_K): the floor sees these.
PIPELINE_K = 5
#: The reranked row's floor (set from --rerank-floor; None: the hybrid floors decide).
RERANK_FLOOR = RelevanceFloor()
#: A reader's principal sets and clearance, from the policy.
Scope = tuple[tuple[frozenset[str], ...], int]


@dataclass(frozen=True)
class Question:
    """One question of the set."""

    text: str
    asker: str
    kind: str
    expected: frozenset[str]
    new_format: bool

    @property
    def answerable(self) -> bool:
        """Whether some document the asker may read answers it."""
        return bool(self.expected)


@dataclass(frozen=True)
class Outcome:
    """One question under one mode: the rank of the first expected chunk and the best hit's signals."""

    question: Question
    rank: int | None
    best_similarity: float
    best_coverage: float
    #: Whether the keyword leg returned any of the hits (it needs half the terms, or a code).
    keyword_hit: bool
    #: Whether Kura's floor lets the first five hits answer (knowledge.relevance.answers).
    kept: bool = True


def load_questions(folders: Sequence[str] | None) -> list[Question]:
    """The set, limited to questions whose documents are all under ``folders`` (None: all)."""
    raw = yaml.safe_load(QUESTIONS.read_text(encoding="utf-8"))["questions"]
    questions = [
        Question(q["q"], q["asker"], q["kind"], frozenset(q["expected"]), bool(q.get("new_format", False))) for q in raw
    ]
    if folders is None:
        return questions
    kept = [q for q in questions if all(e.split("/", 1)[0] in folders for e in q.expected)]
    answerable = [q for q in kept if q.answerable][: SMOKE_QUESTIONS - 2]
    return answerable + [q for q in kept if not q.answerable][:2]


def corpus(work: Path, folders: Sequence[str] | None) -> Path:
    """The sample knowledge base, or the given top-level folders of it, copied under ``work``."""
    target = work / "knowledge"
    if folders is None:
        shutil.copytree(sample_knowledge(), target)
    else:
        for name in folders:
            shutil.copytree(sample_knowledge() / name, target / name)
    return target


def first_rank(hits: Sequence[SearchHit], expected: frozenset[str]) -> int | None:
    """1-based rank of the first hit from an expected document."""
    return next((i for i, h in enumerate(hits, 1) if h.source in expected), None)


async def run_mode(
    store: KnowledgeStore, name: str, question: Question, vector: np.ndarray, scope: Scope, k: int
) -> Outcome:
    """Ask one question under one mode."""
    principal_sets, clearance = scope
    legs, match, min_share = MODES[name]
    terms = query_terms(question.text)
    if name == "vector":
        hits = await store.search(vector, principal_sets, clearance, k)
    else:
        hits = await store.hybrid_search(
            vector, terms, principal_sets, clearance, k, legs=legs, match=match, min_share=min_share
        )
    return outcome(question, hits)


def outcome(question: Question, hits: Sequence[SearchHit], rerank_scores: Sequence[float] | None = None) -> Outcome:
    """A question's outcome from its ranked hits."""
    floor = RelevanceFloor() if rerank_scores is None else RERANK_FLOOR
    return Outcome(
        question,
        first_rank(hits, question.expected),
        max((h.score for h in hits), default=0.0),
        max((h.keyword_coverage or 0.0 for h in hits), default=0.0),
        any(h.keyword_rank is not None for h in hits),
        answers(question.text, hits[:PIPELINE_K], floor, rerank_scores[:PIPELINE_K] if rerank_scores else None),
    )


async def run_reranked(
    store: KnowledgeStore,
    reranker: Reranker,
    question: Question,
    vector: np.ndarray,
    scope: Scope,
    k: int,
    candidates: int,
) -> Outcome:
    """The hybrid search's first ``candidates`` chunks, reordered by the reranker (its first ``k``)."""
    principal_sets, clearance = scope
    hits = await store.hybrid_search(vector, query_terms(question.text), principal_sets, clearance, candidates)
    ranked = await reranker.rerank(question.text, hits, k)
    if ranked is None:
        raise SystemExit(f"the reranker failed on {question.text!r} (see the log line above)")
    return outcome(question, ranked.hits, ranked.scores)


def abstention(outcomes: Sequence[Outcome]) -> tuple[str, str, str]:
    """Kura's floor on these outcomes: precision, recall, and answerable questions dropped."""
    unanswerable = [o for o in outcomes if not o.question.answerable]
    answerable = [o for o in outcomes if o.question.answerable]
    caught = sum(not o.kept for o in unanswerable)
    dropped = sum(not o.kept for o in answerable)
    precision = f"{caught / (caught + dropped):.3f}" if caught + dropped else "-"
    recall = f"{caught / len(unanswerable):.3f}" if unanswerable else "-"
    return precision, recall, f"{dropped}/{len(answerable)}"


def scores(outcomes: Sequence[Outcome]) -> tuple[str, str, str, int]:
    """hit@1, hit@5, MRR (formatted) and the number of questions."""
    n = len(outcomes)
    if not n:
        return "-", "-", "-", 0
    hit1 = sum(o.rank == 1 for o in outcomes) / n
    hit5 = sum(o.rank is not None and o.rank <= 5 for o in outcomes) / n
    mrr = sum(1 / o.rank for o in outcomes if o.rank) / n
    return f"{hit1:.3f}", f"{hit5:.3f}", f"{mrr:.3f}", n


def spread(values: Sequence[float]) -> str:
    """min / p25 / median / p75 / max."""
    if not values:
        return "-"
    p = [_common.percentile(values, x) for x in (0, 25, 50, 75, 100)]
    return " / ".join(f"{v:.3f}" for v in p)


def floor_rows(outcomes: Sequence[Outcome]) -> list[list[object]]:
    """Abstention precision/recall and answerable kept for candidate floors on the hybrid signals.

    Rule: abstain when the best similarity is below ``s`` AND the best keyword coverage is below
    ``c`` (a strong signal of either kind keeps the answer); ``c = 0`` is a similarity-only floor,
    ``c = kw`` means "the keyword leg returned none of the hits".
    """
    unanswerable = [o for o in outcomes if not o.question.answerable]
    answerable = [o for o in outcomes if o.question.answerable]
    rows: list[tuple[float, list[object]]] = []
    floors = (0.80, 0.82, 0.84, 0.85, 0.86, 0.87, 0.88, 0.90, 1.01)
    for s, c in itertools.product(floors, (0.0, -1.0, 0.3, 0.5, 0.6, 0.7, 0.8)):

        def abstains(o: Outcome, s: float = s, c: float = c) -> bool:
            if c < 0:
                return o.best_similarity < s and not o.keyword_hit
            return o.best_similarity < s and (c == 0.0 or o.best_coverage < c)

        true_abstain = sum(abstains(o) for o in unanswerable)
        false_abstain = sum(abstains(o) for o in answerable)
        kept_hits = sum(not abstains(o) and o.rank is not None and o.rank <= 5 for o in answerable)
        abstained = true_abstain + false_abstain
        precision = true_abstain / abstained if abstained else float("nan")
        recall = true_abstain / len(unanswerable) if unanswerable else float("nan")
        kept = 1 - false_abstain / len(answerable) if answerable else float("nan")
        hit5_kept = kept_hits / len(answerable) if answerable else float("nan")
        rows.append(
            (
                recall + kept,
                [
                    f"{s:.2f}",
                    "-" if c == 0.0 else "kw" if c < 0 else f"{c:.1f}",
                    f"{precision:.3f}",
                    f"{recall:.3f}",
                    f"{kept:.3f}",
                    f"{hit5_kept:.3f}",
                ],
            )
        )
    similarity_only = [r for _, r in rows if r[1] == "-" and r[0] != "1.01"]
    best = [r for _, r in sorted(rows, key=lambda x: -x[0]) if r[1] != "-"][:8]
    return similarity_only + best


async def measure(args: argparse.Namespace) -> None:
    folders = SMOKE_FOLDERS if args.smoke else None
    questions = load_questions(folders)
    directory = FileDirectory.load(default_directory_file())
    policy = load_policy(default_policy_file())
    scopes: dict[str, Scope] = {}
    for email in sorted({q.asker for q in questions}):
        user = await directory.user(email)
        assert user is not None, f"{email} is not in the sample directory"
        decision = decide(policy, Request("ask", user.member()))
        assert decision.allowed, decision.reason
        assert decision.scope is not None
        scopes[email] = (decision.scope.principal_sets, int(decision.scope.clearance))

    work = Path(tempfile.mkdtemp(prefix="kura-bench-quality-"))
    try:
        root = await asyncio.to_thread(corpus, work, folders)
        async with _common.database(args.data_dir, keep=args.keep) as (settings, db, where):
            r = settings.retrieval
            embedder = E5Embedder(threads=args.threads, batch_size=settings.embedding.batch_size)
            store = KnowledgeStore(db.sessions, embedder.name, embedder.dim)
            ingestor = Ingestor(store, embedder, chunk_tokens=r.chunk_tokens, overlap_tokens=r.chunk_overlap_tokens)
            started = time.perf_counter()
            report = await ingestor.ingest(root)
            ingest_s = time.perf_counter() - started
            stats = await store.stats()
            vectors = {q.text: await embedder.embed_query(q.text) for q in questions}
            results: dict[str, list[Outcome]] = {name: [] for name in MODES}
            timings: dict[str, list[float]] = {name: [] for name in MODES}
            for name in MODES:
                for q in questions:
                    started = time.perf_counter()
                    results[name].append(await run_mode(store, name, q, vectors[q.text], scopes[q.asker], args.k))
                    timings[name].append(time.perf_counter() - started)
            if args.rerank_url:
                reranker = Reranker(args.rerank_url, args.rerank_model)
                results["reranked"], timings["reranked"] = [], []
                try:
                    for q in questions:
                        started = time.perf_counter()
                        results["reranked"].append(
                            await run_reranked(
                                store, reranker, q, vectors[q.text], scopes[q.asker], args.k, args.rerank_candidates
                            )
                        )
                        timings["reranked"].append(time.perf_counter() - started)
                finally:
                    await reranker.close()
    finally:
        if args.keep:
            print(f"kept the corpus: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    answerable = [q for q in questions if q.answerable]
    command = _common.reproduce(
        __file__,
        [
            "--k",
            str(args.k),
            "--threads",
            str(args.threads),
            *(["--smoke"] if args.smoke else []),
            *(["--rerank-url", args.rerank_url, "--rerank-model", args.rerank_model] if args.rerank_url else []),
        ],
    )
    print(f"Kura retrieval quality  ({dt.datetime.now().astimezone():%Y-%m-%d %H:%M %Z})")
    print("\n".join(_common.machine_lines()))
    print(f"model:   {embedder.name} (dim {embedder.dim}), {args.threads} threads")
    print(f"db:      {where}")
    print(
        f"data:    {'public/ + handbook/ of ' if args.smoke else ''}the sample knowledge base: "
        f"{stats.documents} documents, {stats.chunks} chunks (ingested in {ingest_s:.1f} s, refused "
        f"{len(report.refused)}); {len(questions)} questions ({len(answerable)} answerable, "
        f"{len(questions) - len(answerable)} unanswerable), each asked as its asker in a DM; {args.k} chunks per search"
    )
    print(f"command: {command}")
    print()
    rows: list[list[object]] = []
    for name in results:
        by_id = [o for o in results[name] if o.question.answerable]
        hit1, hit5, mrr, n = scores(by_id)
        cells: list[object] = [name, n, hit1, hit5, mrr]
        for kind in KINDS:
            cells.append(scores([o for o in by_id if o.question.kind == kind])[1])
        cells.append(scores([o for o in by_id if o.question.new_format])[1])
        cells.extend(abstention(results[name]))
        cells.append(f"{1000 * statistics.median(timings[name]):.1f}")
        rows.append(cells)
    headers = ["mode", "questions", "hit@1", "hit@5", "MRR", *(f"hit@5 {k}" for k in KINDS), "hit@5 new formats"]
    print(_common.table([*headers, "abstain P", "abstain R", "dropped", "p50 ms"], rows))
    floor = RelevanceFloor()
    print(
        f"abstain: Kura's floor (knowledge.relevance) on the first {PIPELINE_K} hits: similarity < "
        f"{floor.similarity_ja} (ja) / {floor.similarity_en} (en) and keyword coverage < {floor.coverage}"
        + (f"; reranked: best relevance_score < {RERANK_FLOOR.rerank}" if RERANK_FLOOR.rerank is not None else "")
        + "; P = abstained that were unanswerable, R = unanswerable abstained, dropped = answerable abstained"
    )
    print()
    print("best hit of each question (hybrid): cosine similarity and keyword coverage, min / p25 / median / p75 / max")
    hybrid = results["hybrid"]
    dist_rows = [
        [label, len(group), spread([o.best_similarity for o in group]), spread([o.best_coverage for o in group])]
        for label, group in (
            ("unanswerable", [o for o in hybrid if not o.question.answerable]),
            ("answerable", [o for o in hybrid if o.question.answerable]),
        )
    ]
    print(_common.table(["questions", "n", "similarity", "keyword coverage"], dist_rows))
    print()
    print(
        "abstention floors (hybrid): abstain when similarity < s and coverage < c; precision = "
        "abstained that were unanswerable, recall = unanswerable abstained, kept = answerable not "
        "abstained, hit@5 kept = answerable kept with a hit in the first five"
    )
    print(
        _common.table(
            ["s", "c", "precision", "recall", "kept", "hit@5 kept"],
            floor_rows(hybrid),
        )
    )
    misses = [o for o in hybrid if o.question.answerable and (o.rank is None or o.rank > 5)]
    if misses:
        print()
        print(
            "hybrid misses at 5: " + "; ".join(f"{o.question.text} ({o.question.asker.split('@')[0]})" for o in misses)
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--k", type=int, default=10, help="chunks per search (default 10; MRR counts ranks up to k)")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 2, help="e5 threads (default: all cores)")
    parser.add_argument("--smoke", action="store_true", help="public/ and handbook/ only, a dozen questions")
    parser.add_argument("--data-dir", type=Path, default=None, help="embedded PostgreSQL folder (default: new in /tmp)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folders")
    parser.add_argument("--rerank-url", default=None, help="a /rerank server's base URL: adds a 'reranked' row")
    parser.add_argument("--rerank-model", default="reranker", help="the served reranker's name")
    parser.add_argument("--rerank-candidates", type=int, default=20, help="hybrid chunks reranked (default 20)")
    parser.add_argument("--rerank-floor", type=float, default=None, help="best relevance_score to answer")
    args = parser.parse_args()
    if args.rerank_floor is not None:
        global RERANK_FLOOR
        RERANK_FLOOR = RelevanceFloor(rerank=args.rerank_floor)
    if args.k < 5 or args.threads < 1:
        parser.error("--k must be at least 5 and --threads at least 1")
    asyncio.run(measure(args))


if __name__ == "__main__":
    main()
