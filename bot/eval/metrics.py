"""Scoring: one case's scores from what the pipeline did, totals with bootstrap confidence
intervals, and paired differences between configurations.

A metric applies to some cases only (hit@k to cases that name their sources, abstention accuracy to
cases that expect an answer or "not found"); a case it does not apply to has no value for it and is
left out of the total, so a set of refusal cases does not dilute retrieval figures.
"""

from __future__ import annotations

import random
import re
import statistics
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bot.core.messages import no_sources_message
from bot.eval.cases import Case, fact_found, normalise

__all__ = [
    "LOWER_IS_BETTER",
    "QUALITY_METRICS",
    "CaseOutcome",
    "Total",
    "bootstrap",
    "compare",
    "said_not_found",
    "score_case",
    "total",
]

#: Metrics in 0..1, higher is better, averaged over the cases they apply to.
QUALITY_METRICS = (
    "hit@k",
    "mrr",
    "citation_precision",
    "citation_recall",
    "fact_recall",
    "refusal_accuracy",
    "abstention_accuracy",
    "faithfulness",
)
#: Metrics where a smaller value is the better one.
LOWER_IS_BETTER = frozenset({"leaks", "latency_p50_ms", "latency_p95_ms", "first_token_p50_ms", "tokens_mean"})

# How answers say the documents do not answer: the prompt's own wording (llm/prompts.py rule 1) and
# what small models write instead of it.
_NOT_FOUND = re.compile(
    r"記載(が|は)?(ありません|ない|されていません)|見つかりません|見当たりません|わかりません|分かりません|"
    r"情報(が|は)?(ありません|ない)|do(es)? not (know|contain|mention|say|include)|don't know|"
    r"not (mentioned|found|stated|included|specified|available) in|no information|cannot find|could not find",
    re.IGNORECASE,
)


def said_not_found(status: str, answer: str) -> bool:
    """Whether the reply says nothing readable answers: the no-sources reply, or an answer that
    opens by saying the documents do not hold it (its first sentence)."""
    if status == "no_sources":
        return True
    if status != "answered":
        return False
    text = unicodedata.normalize("NFKC", answer).strip()
    if normalise(text) in {normalise(no_sources_message("ja")), normalise(no_sources_message("en"))}:
        return True
    first = re.split(r"(?<=[。.!?！？])\s*|\n", text, maxsplit=1)[0]
    return _NOT_FOUND.search(first) is not None


@dataclass(frozen=True)
class CaseOutcome:
    """What the pipeline did with one case."""

    status: str
    answer: str
    retrieved: tuple[str, ...]  # documents in rank order, each once
    cited: tuple[str, ...]
    leaks: tuple[str, ...]


def _matches(source: str, wanted: str) -> bool:
    return source.startswith(wanted) if wanted.endswith("/") else source == wanted


def score_case(case: Case, out: CaseOutcome) -> dict[str, float | None]:
    """The case's value of each metric (None where the metric does not apply)."""
    expect = case.expect
    scores: dict[str, float | None] = dict.fromkeys(QUALITY_METRICS)
    refused = out.status == "refused"
    scores["refusal_accuracy"] = float(refused == (expect.outcome == "refused"))
    if expect.outcome in ("answer", "not_found") and out.status in ("answered", "no_sources", "refused"):
        abstained = refused or said_not_found(out.status, out.answer)
        scores["abstention_accuracy"] = float(abstained == (expect.outcome == "not_found"))
    if expect.outcome == "answer" and expect.sources:
        wanted = set(expect.sources)
        ranks = [i for i, s in enumerate(out.retrieved, 1) if any(_matches(s, w) for w in wanted)]
        scores["hit@k"] = float(bool(ranks))
        scores["mrr"] = 1.0 / ranks[0] if ranks else 0.0
        good = [s for s in out.cited if any(_matches(s, w) for w in wanted)]
        scores["citation_precision"] = len(good) / len(out.cited) if out.cited else 0.0
        scores["citation_recall"] = min(1.0, len(good) / len(wanted))
    if expect.outcome == "answer" and expect.facts:
        found = sum(fact_found(f, out.answer) for f in expect.facts) if out.status == "answered" else 0
        scores["fact_recall"] = found / len(expect.facts)
    return scores


def passed(case: Case, scores: Mapping[str, float | None], leaks: Sequence[str]) -> bool:
    """No leak, the outcome as expected, and for an answer: the source found and every fact."""
    if leaks:
        return False
    if case.expect.outcome == "refused":
        return scores["refusal_accuracy"] == 1.0
    if scores["refusal_accuracy"] != 1.0 or scores["abstention_accuracy"] == 0.0:
        return False
    return all(scores[m] in (None, 1.0) for m in ("hit@k", "fact_recall"))


@dataclass(frozen=True)
class Total:
    """A metric over a configuration's cases: the value, how many cases it covers, a 95% CI."""

    value: float | None
    n: int
    ci: tuple[float, float] | None = None

    def as_json(self) -> dict[str, object]:
        """The report's shape."""
        return {"value": self.value, "n": self.n, "ci": list(self.ci) if self.ci else None}


def bootstrap(values: Sequence[float], *, rounds: int = 2000, seed: int = 7) -> tuple[float, float] | None:
    """The 95% percentile bootstrap interval of the mean (None with fewer than 2 values)."""
    if len(values) < 2:
        return None
    rng = random.Random(seed)  # noqa: S311 - resampling for a confidence interval, seeded to repeat
    n = len(values)
    means = sorted(sum(rng.choices(values, k=n)) / n for _ in range(rounds))
    return means[int(0.025 * rounds)], means[min(rounds - 1, int(0.975 * rounds))]


def _percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def total(
    per_case: Sequence[Mapping[str, float | None]],
    leaks: int,
    latencies: Sequence[float],
    first_tokens: Sequence[float],
    tokens: Sequence[float],
) -> dict[str, Total]:
    """Every metric over a configuration's cases."""
    out: dict[str, Total] = {}
    for metric in QUALITY_METRICS:
        values = [v for case in per_case if (v := case.get(metric)) is not None]
        out[metric] = Total(statistics.fmean(values) if values else None, len(values), bootstrap(values))
    out["leaks"] = Total(float(leaks), len(per_case))
    out["latency_p50_ms"] = Total(_percentile(latencies, 0.5) if latencies else None, len(latencies))
    out["latency_p95_ms"] = Total(_percentile(latencies, 0.95) if latencies else None, len(latencies))
    out["first_token_p50_ms"] = Total(_percentile(first_tokens, 0.5) if first_tokens else None, len(first_tokens))
    out["tokens_mean"] = Total(statistics.fmean(tokens) if tokens else None, len(tokens))
    return out


def compare(
    baseline: Mapping[str, Mapping[str, float | None]], other: Mapping[str, Mapping[str, float | None]], metric: str
) -> tuple[float | None, tuple[float, float] | None, bool | None]:
    """The paired difference (other - baseline) of a metric over the cases both have a value for,
    its 95% bootstrap CI, and whether ``other`` is better (True), worse (False) or neither shown (None)."""
    diffs = [
        o - b
        for case_id, scores in baseline.items()
        if (b := scores.get(metric)) is not None and (o := other.get(case_id, {}).get(metric)) is not None
    ]
    if not diffs:
        return None, None, None
    ci = bootstrap(diffs)
    difference = statistics.fmean(diffs)
    if ci is None or ci[0] <= 0.0 <= ci[1]:
        return difference, ci, None
    higher = ci[0] > 0.0
    return difference, ci, higher != (metric in LOWER_IS_BETTER)
