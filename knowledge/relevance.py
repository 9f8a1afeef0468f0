"""Whether the retrieved passages answer a question at all, and how many of them a prompt can carry.

Both are pure functions of the hits, so the pipeline, the benchmarks and the tests share one rule.

The floor (calibrated on ``bench/retrieval_quality.yaml``, 77 answerable and 16 unanswerable
questions, multilingual-e5-small, hybrid search, the first 5 hits): no readable passage answers when
the best hit's cosine similarity is under the question language's floor AND no hit holds at least
``coverage`` of the question's content terms. e5 scores Japanese questions higher than English ones
against the same documents, hence a floor per language. Similarity alone separates badly (an
unanswerable "G3の基本給は？" scores 0.834 against the leave policy, the answerable "会社の設立はいつ？"
0.816 against the company overview), so a hit that holds the question's content terms keeps the
answer. Content terms are the question's keywords (``knowledge.keywords.query_terms``) without
those holding hiragana: "の設" and "立は" are particles glued to a bigram and say nothing of the
topic, while "会社" and "設立" do. (The store's ``keyword_coverage`` counts every term and does
worse on the set: that question holds 2 of its 5.) With a reranker configured and its floor
set, the best ``relevance_score`` decides instead: a cross-encoder reads question and passage
together, which the two legs cannot.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, replace

from knowledge.keywords import query_terms
from knowledge.store import SearchHit

__all__ = ["RelevanceFloor", "answers", "content_coverage", "content_terms", "estimate_tokens", "within_budget"]

_CJK = re.compile("[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uff01-\uff9f]")
_JAPANESE = re.compile("[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uff66-\uff9f]")
_HIRAGANA = re.compile("[\u3040-\u309f]")


@dataclass(frozen=True)
class RelevanceFloor:
    """When the best hit is too loose to answer from (``KURA_RETRIEVAL_MIN_*``); 0 turns a floor off."""

    #: Best cosine similarity a Japanese question needs (unless a keyword match is strong enough).
    similarity_ja: float = 0.84
    #: The same for every other question.
    similarity_en: float = 0.805
    #: Share of the question's content terms one hit must hold to keep an answer the similarity floor rejects.
    coverage: float = 0.4
    #: Best reranker ``relevance_score`` needed; used instead of the two above when reranked.
    rerank: float | None = None


def answers(
    question: str, hits: Sequence[SearchHit], floor: RelevanceFloor, rerank_scores: Sequence[float] | None = None
) -> bool:
    """Whether ``hits`` (best first) can answer ``question``; no hits never can."""
    if not hits:
        return False
    if rerank_scores and floor.rerank is not None:
        return max(rerank_scores) >= floor.rerank
    minimum = floor.similarity_ja if _JAPANESE.search(question) else floor.similarity_en
    if max(h.score for h in hits) >= minimum:
        return True
    return floor.coverage > 0 and max(content_coverage(question, h.text) for h in hits) >= floor.coverage


def content_terms(question: str) -> list[str]:
    """The question's keywords that name its topic: those without hiragana (particles, endings)."""
    return [t for t in query_terms(question) if not _HIRAGANA.search(t)]


def content_coverage(question: str, text: str) -> float:
    """The share of the question's content terms found in ``text`` (0 when it has none)."""
    terms = content_terms(question)
    if not terms:
        return 0.0
    folded = unicodedata.normalize("NFKC", text).lower()
    return sum(t in folded for t in terms) / len(terms)


def estimate_tokens(text: str) -> int:
    """Tokens a chat model's tokenizer makes of ``text``, roughly: one per CJK character, one per
    four other characters (Qwen2.5 and SmolLM2 on the sample knowledge come within ~20%)."""
    cjk = len(_CJK.findall(text))
    return cjk + (len(text) - cjk + 3) // 4


def within_budget(hits: Sequence[SearchHit], budget: int | None) -> list[SearchHit]:
    """The hits whose texts fit ``budget`` estimated tokens together (None: all), in rank order.

    The best hit always goes, cut to the budget if it alone is over, so a small budget never leaves
    the model nothing. Then each other document's best passage, in rank order, before a second
    passage of a document already sent: a question answered by the third document is not crowded
    out by the first document's neighbouring chunks. A hit that does not fit is skipped and a
    smaller later one may still go.
    """
    if budget is None or not hits:
        return list(hits)
    first = hits[0]
    text = _cut(first.text, budget)
    kept = {0: first if text == first.text else replace(first, text=text)}
    used = estimate_tokens(text)
    seen = {first.document_id}
    leading: list[int] = []  # each other document's best passage, in rank order
    for i, hit in enumerate(hits[1:], start=1):
        if hit.document_id not in seen:
            seen.add(hit.document_id)
            leading.append(i)
    firsts = set(leading)
    for i in [*leading, *(i for i in range(1, len(hits)) if i not in firsts)]:
        cost = estimate_tokens(hits[i].text)
        if used + cost <= budget:
            kept[i] = hits[i]
            used += cost
    return [kept[i] for i in sorted(kept)]


def _cut(text: str, budget: int) -> str:
    """The longest start of ``text`` within ``budget`` estimated tokens."""
    if estimate_tokens(text) <= budget:
        return text
    low, high = 0, len(text)
    while low < high:
        middle = (low + high + 1) // 2
        if estimate_tokens(text[:middle]) <= budget:
            low = middle
        else:
            high = middle - 1
    return text[:low] + "…"
