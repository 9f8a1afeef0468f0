"""The "not found" floor and the passage budget: pure functions of the hits."""

from __future__ import annotations

import pytest

from knowledge.relevance import (
    RelevanceFloor,
    answers,
    content_coverage,
    content_terms,
    estimate_tokens,
    within_budget,
)
from knowledge.store import SearchHit

pytestmark = pytest.mark.unit

FLOOR = RelevanceFloor(similarity_ja=0.84, similarity_en=0.805, coverage=0.4)
LEAVE = "年次有給休暇は入社6か月後に10日付与されます。夏季休暇は3日です。"
OVERVIEW = "株式会社サクラ商事は1998年に設立されました。従業員数は約300名です。"


def _hit(i: int, similarity: float, text: str = "text", document: int | None = None) -> SearchHit:
    doc = i if document is None else document
    return SearchHit(i, doc, f"doc{doc}.md", f"Doc {doc}", text, ("public",), 0, 1.0 - similarity)


def test_loosely_related_hits_do_not_answer() -> None:
    """Alice's G3 question in make demo: the leave policy at 0.834, none of g3/基本/本給 in it."""
    hits = [_hit(1, 0.834, LEAVE), _hit(2, 0.83, LEAVE)]
    assert not answers("G3の基本給は？", hits, FLOOR)


def test_a_close_hit_answers() -> None:
    assert answers("経費精算の締め日は？", [_hit(1, 0.88, "経費")], FLOOR)


def test_content_terms_leave_out_particles() -> None:
    """ "の設" and "立は" are glue: 会社 and 設立 name the topic."""
    assert ["会社", "設立"] == content_terms("会社の設立はいつ？")
    assert 1.0 == content_coverage("会社の設立はいつ？", OVERVIEW)


def test_a_hit_holding_the_content_terms_answers_below_the_similarity_floor() -> None:
    """'会社の設立はいつ？' scores only 0.816 against the company overview, which answers it."""
    assert answers("会社の設立はいつ？", [_hit(1, 0.816, OVERVIEW)], FLOOR)
    assert answers("Which VLAN is the guest Wi-Fi on?", [_hit(1, 0.79, "Guest Wi-Fi: VLAN 30")], FLOOR)
    assert not answers("Who won the 2025 award?", [_hit(1, 0.79, "Office hours are 9 to 6.")], FLOOR)


def test_each_language_has_its_own_floor() -> None:
    """e5 scores English questions lower: 0.82 answers in English but not in Japanese."""
    hits = [_hit(1, 0.82)]
    assert answers("When is the deadline?", hits, FLOOR)
    assert not answers("締め日はいつ？", hits, FLOOR)


def test_no_hits_never_answer_and_zero_floors_always_do() -> None:
    assert not answers("anything", [], FLOOR)
    off = RelevanceFloor(0.0, 0.0, 0.0)
    assert answers("G3の基本給は？", [_hit(1, 0.1, LEAVE)], off)


def test_the_reranker_score_decides_when_its_floor_is_set() -> None:
    floor = RelevanceFloor(0.84, 0.805, 0.4, rerank=0.5)
    close = [_hit(1, 0.95, "締め日")]
    assert not answers("締め日は？", close, floor, [0.2])
    assert answers("G3の基本給は？", [_hit(1, 0.5, LEAVE)], floor, [0.9])
    # Reranker down (no scores): the hybrid floors decide.
    assert answers("締め日は？", close, floor, None)


def test_estimate_counts_cjk_characters_and_english_words() -> None:
    assert 4 == estimate_tokens("経費精算")
    assert 3 == estimate_tokens("abcdefghij")


def test_budget_keeps_the_best_passages_that_fit() -> None:
    hits = [_hit(1, 0.9, text="あ" * 300), _hit(2, 0.88, text="い" * 300), _hit(3, 0.87, text="う" * 100)]
    kept = within_budget(hits, 450)
    assert [1, 3] == [h.chunk_id for h in kept]
    assert hits == within_budget(hits, None)


def test_budget_sends_each_document_before_a_second_passage_of_one() -> None:
    """make demo: the guest Wi-Fi question ranked two chunks of office-wifi.txt above the network
    PDF that answers it; the second Wi-Fi chunk used the room the PDF needed."""
    hits = [
        _hit(1, 0.84, "あ" * 200, document=7),
        _hit(2, 0.83, "い" * 200, document=7),
        _hit(3, 0.79, "う" * 200, document=8),
        _hit(4, 0.78, "え" * 50, document=7),
    ]
    kept = within_budget(hits, 450)
    assert [1, 3, 4] == [h.chunk_id for h in kept]  # rank order; the second Wi-Fi chunk waits
    assert [1, 2, 3, 4] == [h.chunk_id for h in within_budget(hits, 700)]


def test_budget_always_sends_the_best_passage_cut_to_fit() -> None:
    hits = [_hit(1, 0.9, text="あ" * 1000), _hit(2, 0.88, text="い" * 10)]
    kept = within_budget(hits, 100)
    assert [1] == [h.chunk_id for h in kept]
    assert kept[0].text.startswith("あ" * 90)
    assert estimate_tokens(kept[0].text) <= 101  # the cut mark
