"""Chunking: pieces end at Japanese sentence ends and fit the token budget."""

from __future__ import annotations

import re

import pytest

from knowledge.chunking import make_splitter, split_text
from llm.embeddings import E5Embedder

pytestmark = pytest.mark.unit

SENTENCE_END = ("。", "！", "？")

SENTENCES = [
    "今日は晴れです。",
    "明日は雨が降るでしょう。",
    "週末は出かける予定です！",
    "本当ですか？",
    "はい、本当です。",
    "天気予報をよく確認してください。",
]

PARAGRAPH = (
    "当社の経費精算は月末締めです。領収書は原本を提出してください。"
    "出張の際は事前に申請書を上長に提出する必要があります。宿泊費の上限は地域によって異なります。"
    "東京都内は一泊一万五千円までです。大阪は一泊一万二千円までです。"
    "交通費は最も経済的な経路で計算します。グリーン車の利用は部長以上に限られます。"
    "海外出張は別の規程に従います。不明な点は総務部にお問い合わせください。"
    "タクシーの利用は深夜または荷物が多い場合に限ります。会議費は一人あたり五千円を上限とします。"
    "接待交際費は事前承認が必要です！承認のない支出は精算できますか？いいえ、できません。"
)


def _sentences(text: str) -> list[str]:
    """``text`` cut after every sentence-ending mark."""
    return [s for s in re.split(r"(?<=[。！？])", text) if s]


@pytest.fixture(scope="module")
def e5() -> E5Embedder:
    """The in-process embedding model, loaded once for this module."""
    return E5Embedder(threads=1)


def test_chunks_fit_the_character_budget() -> None:
    """With len as the length function, no chunk is longer than chunk_tokens."""
    chunks = split_text(make_splitter(len, 20, 0), "".join(SENTENCES))
    assert chunks
    assert all(len(c) <= 20 for c in chunks), chunks


def test_every_chunk_ends_at_a_sentence_end() -> None:
    """Sentences shorter than the budget are never split: every chunk ends with 。, ！ or ？."""
    chunks = split_text(make_splitter(len, 20, 0), "".join(SENTENCES))
    assert all(c.endswith(SENTENCE_END) for c in chunks), chunks


def test_chunks_are_whole_sentences() -> None:
    """Each chunk is a run of whole sentences, and together they are the text, in order."""
    chunks = split_text(make_splitter(len, 20, 0), "".join(SENTENCES))
    assert SENTENCES == [s for c in chunks for s in _sentences(c)]


def test_short_sentences_are_merged() -> None:
    """Sentences that fit together share a chunk."""
    chunks = split_text(make_splitter(len, 20, 0), "".join(SENTENCES))
    assert "今日は晴れです。明日は雨が降るでしょう。" == chunks[0]


def test_overlap_keeps_whole_sentences() -> None:
    """With overlap, chunks still start and end on sentence boundaries."""
    chunks = split_text(make_splitter(len, 30, 12), "".join(SENTENCES))
    assert len(chunks) > 1
    for chunk in chunks:
        assert chunk.endswith(SENTENCE_END), chunks
        assert all(s in SENTENCES for s in _sentences(chunk)), chunk


def test_text_that_fits_is_one_chunk() -> None:
    """A text within the budget is returned as one chunk."""
    assert ["今日は晴れです。"] == split_text(make_splitter(len, 20, 0), "今日は晴れです。")


def test_blank_text_gives_no_chunks() -> None:
    """Whitespace alone yields nothing."""
    assert [] == split_text(make_splitter(len, 20, 0), "\n\n  \n")


def test_long_sentence_is_cut_at_a_comma() -> None:
    """A sentence longer than the budget is cut after 、 rather than mid-word."""
    text = "経費精算の締め日は月末ですが、出張旅費は翌月五日まで受け付けます。"
    chunks = split_text(make_splitter(len, 20, 0), text)
    assert ["経費精算の締め日は月末ですが、", "出張旅費は翌月五日まで受け付けます。"] == chunks


def test_e5_chunks_fit_the_token_budget(e5: E5Embedder) -> None:
    """With the real tokenizer, every chunk counts at most chunk_tokens tokens."""
    chunks = split_text(make_splitter(e5.count_tokens, 40, 0), PARAGRAPH)
    assert len(chunks) > 1
    assert all(e5.count_tokens(c) <= 40 for c in chunks), [(e5.count_tokens(c), c) for c in chunks]


def test_e5_chunks_end_at_sentence_ends(e5: E5Embedder) -> None:
    """With the real tokenizer, chunks are whole sentences of the paragraph, in order."""
    chunks = split_text(make_splitter(e5.count_tokens, 40, 0), PARAGRAPH)
    assert all(c.endswith(SENTENCE_END) for c in chunks), chunks
    assert _sentences(PARAGRAPH) == [s for c in chunks for s in _sentences(c)]


def test_e5_chunks_with_overlap_fit_and_end_at_sentence_ends(e5: E5Embedder) -> None:
    """Overlap does not push a chunk over the budget or off a sentence end."""
    chunks = split_text(make_splitter(e5.count_tokens, 40, 10), PARAGRAPH)
    assert all(e5.count_tokens(c) <= 40 for c in chunks)
    assert all(c.endswith(SENTENCE_END) for c in chunks), chunks


def test_e5_sentences_that_fit_together_share_a_chunk(e5: E5Embedder) -> None:
    """Two sentences whose joint token count is within the budget stay in one chunk."""
    text = "今日は晴れです。明日は雨です。"
    budget = e5.count_tokens(text) + 2
    assert [text] == split_text(make_splitter(e5.count_tokens, budget, 0), text)
