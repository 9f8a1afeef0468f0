"""Keywords for the keyword search leg: Japanese bigrams, words, whole codes, safe literals."""

from __future__ import annotations

import pytest

from knowledge.keywords import (
    MAX_POSITIONS,
    MAX_TERMS,
    code_terms,
    query_terms,
    terms,
    to_tsquery,
    to_tsvector,
    tsquery_of,
)

pytestmark = pytest.mark.unit


def test_japanese_runs_become_bigrams_without_hiragana_pairs() -> None:
    """基本給 is 基本 and 本給; pairs of two hiragana (ます, され) are left out."""
    assert ["g3", "の基", "基本", "本給", "給は"] == terms("G3の基本給は？")
    assert ["付与", "与さ"] == terms("付与されます")


def test_a_one_character_run_is_kept_but_a_lone_particle_is_not() -> None:
    """年 between digits is a term of its own; a lone の is not."""
    assert ["2027", "年", "1", "月"] == terms("2027年1月")
    assert ["a1", "b2"] == terms("a1 の b2")


def test_text_is_nfkc_folded_and_lower_cased() -> None:
    """Full-width Ｇ３ and half-width katakana find the same terms as their plain forms."""
    assert terms("Ｇ３") == terms("g3") == ["g3"]
    assert terms("ｶﾀｶﾅ") == terms("カタカナ")


@pytest.mark.parametrize(
    ("code", "parts"),
    [
        ("KH-101", ["kh-101", "kh", "101"]),
        ("KANARI-2024-07", ["kanari-2024-07", "kanari", "2024", "07"]),
        ("v2.3", ["v2.3", "v2", "3"]),
        ("vpn01.sakura.internal", ["vpn01.sakura.internal", "vpn01", "sakura", "internal"]),
        ("carol@example.co.jp", ["carol@example.co.jp", "carol", "example", "co", "jp"]),
    ],
)
def test_codes_are_kept_whole_and_as_their_parts(code: str, parts: list[str]) -> None:
    """A code finds itself exactly, and its parts find it too."""
    assert parts == terms(f"{code}を参照")[: len(parts)]


def test_a_code_and_its_parts_share_one_position() -> None:
    """Parts do not push the following words away (phrase distance stays right for ts_rank_cd)."""
    assert "'kh-101':1 'kh':1 '101':1 'manual':2" == to_tsvector("KH-101 manual")


def test_thousands_separators_give_the_plain_number_too() -> None:
    """500,000 yen is found by 500000 as well."""
    assert ["500,000", "500000", "yen"] == terms("500,000 yen")


def test_english_function_words_are_dropped() -> None:
    """They would match every English chunk in an OR query."""
    assert ["remote", "work", "policy"] == terms("What is the remote work policy?")


def test_repeated_terms_collect_positions() -> None:
    """One lexeme, every position."""
    assert "'vpn':1,3 'token':2" == to_tsvector("VPN token VPN")


def test_quotes_and_backslashes_are_escaped_for_the_literal() -> None:
    """A quote or backslash in a code cannot end the lexeme early or inject another one."""
    # ' and \\ are not word characters, so they only ever appear in a lexeme through a code part;
    # the quoting still doubles them, which tsquery_of shows with a hand-made term.
    assert "'it''s' | 'a\\\\b'" == tsquery_of(["it's", "a\\b"])
    assert "'o':1 'brien':2" == to_tsvector("o'brien")


def test_no_terms_is_an_empty_tsvector_and_no_tsquery() -> None:
    """Empty, not NULL: NULL means "not computed yet" to fill_keywords."""
    assert "" == to_tsvector("。、！？ the of")
    assert to_tsquery("？") is None


def test_query_terms_are_distinct_in_order() -> None:
    """A question's terms once each, first occurrence first."""
    assert ["vpn", "token", "reset"] == query_terms("VPN token? reset the VPN token")
    assert "'vpn' | 'token'" == to_tsquery("VPN token")
    assert "'vpn' & 'token'" == to_tsquery("VPN token", mode="and")


def test_a_huge_chunk_is_capped() -> None:
    """At most MAX_TERMS occurrences and positions within PostgreSQL's limit."""
    literal = to_tsvector(" ".join(f"w{i}" for i in range(MAX_TERMS * 2)))
    positions = [int(p) for item in literal.split(" ") for p in item.rsplit(":", 1)[1].split(",")]
    assert MAX_TERMS == len(positions)
    assert max(positions) <= MAX_POSITIONS


def test_an_unknown_match_mode_is_refused() -> None:
    """Only or/and."""
    with pytest.raises(ValueError, match="or"):
        tsquery_of(["a"], mode="near")


def test_code_terms_are_identifiers_not_plain_words_or_numbers() -> None:
    """Letters with digits or joined parts are codes; 2027 and 基本 are not."""
    found = query_terms("restore-db G3 2027 基本給 KH-101 500,000 vpn01 reset")
    assert ["restore-db", "g3", "kh-101", "500,000", "vpn01"] == code_terms(found)
