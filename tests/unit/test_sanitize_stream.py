"""Streaming: what a transport shows is always the start of the final, clean answer, whatever the
pieces; and hostile output is cleaned without backtracking."""

from __future__ import annotations

import random
import re
import time

import pytest

from bot.core.sanitize import CleanStream, sanitize_answer
from bot.core.types import Destination
from tests.fakes.kura import kura
from tests.hang import HANG_S
from tests.hostile import ALLOW, FRAGMENTS, LIVE_MENTION, shown_pieces

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("seed", range(400))
def test_streamed_text_is_always_clean_and_the_start_of_the_final_answer(seed: int) -> None:
    """Random answers made of links, images, URLs split anywhere, Japanese and invisible characters,
    cut into random pieces: every text shown so far is clean (sanitising it again changes nothing),
    is the start of the final answer, and all pieces together are exactly the final answer, which is
    the answer sanitised whole."""
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not secrets
    answer = "".join(rng.choice(FRAGMENTS) for _ in range(rng.randint(1, 30)))
    cuts = [rng.randint(0, len(answer)) for _ in range(rng.randint(0, 12))]
    pieces, final = shown_pieces(answer, cuts)
    assert sanitize_answer(answer, ALLOW).strip() == final
    shown = ""
    for piece in pieces:
        shown += piece
        assert final.startswith(shown)
        assert sanitize_answer(shown, ALLOW) == shown
    assert final == shown


def test_japanese_streams_without_waiting_for_spaces() -> None:
    """Text without spaces is released as it comes (between non-ASCII characters)."""
    stream = CleanStream()
    assert "締め日は毎月25日で" == stream.feed("締め日は毎月25日です")
    assert "す。" == stream.feed("。次")


def test_a_link_split_across_pieces_is_never_shown() -> None:
    """`[手順](https://evil…)` arriving in pieces: the link text appears only once the link is whole,
    and its target never."""
    stream = CleanStream()
    shown = "".join(stream.feed(p) for p in ["手順は", "[こち", "ら](https://ev", "il.example/x)", "を見て"])
    tail, final = stream.finish()
    assert "手順はこちらを見て" == final
    assert final == shown + tail
    assert "evil" not in shown + tail


def test_a_mention_or_escape_split_across_pieces_is_never_shown_half() -> None:
    """``<!chan`` + ``nel>`` and ``\\x1b[3`` + ``1m`` arrive in pieces: nothing of them shows."""
    stream = CleanStream()
    shown = "".join(stream.feed(p) for p in ["皆さん", "<!chan", "nel> ", "\x1b[3", "1m赤", "です "])
    tail, final = stream.finish()
    assert "皆さん＠channel 赤です" == final
    assert final == shown + tail
    for half in ("<!", "\x1b", "[3"):
        assert half not in shown


def test_a_host_split_across_pieces_is_shown_only_defanged() -> None:
    """``evil`` + ``．ｃｏ`` + ``ｍへ``: the dot is never shown undefanged, not even between
    full-width letters (which Japanese streaming would otherwise release)."""
    stream = CleanStream()
    pieces = ["詳細は", "ｅｖｉｌ", "．ｃｏ", "ｍへ", "どうぞ"]
    shown = [stream.feed(p) for p in pieces]
    tail, final = stream.finish()
    assert "詳細はｅｖｉｌ[.]ｃｏｍへどうぞ" == final
    assert final == "".join(shown) + tail
    assert not any("．" in s for s in shown)


def test_the_fuzzed_answers_leave_no_live_mention() -> None:
    """Whatever the fragments make, no mention survives in the final text."""
    for seed in range(300):
        rng = random.Random(seed)  # noqa: S311 - reproducible test data, not secrets
        answer = "".join(rng.choice(FRAGMENTS) for _ in range(rng.randint(1, 30)))
        final = sanitize_answer(answer, ALLOW)
        assert not LIVE_MENTION.search(re.sub(r"\w@", "", final)), answer


async def test_posts_from_jobs_get_the_same_rules() -> None:
    """A job's text through the outbox: no mention, no live host, no link."""
    async with kura() as k:
        result = await k.outbox.post(
            Destination("memory", "C-GENERAL"),
            "<!channel> 新ポータル evil.example.com/login へ @here [こちら](https://evil.example/x)",
            owner="bob@example.co.jp",
            actor="schedule:weekly",
        )
    assert result.posted
    [message] = k.transport.visible("C-GENERAL")
    assert "＠channel 新ポータル evil[.]example[.]com/login へ ＠here こちら" == message.text
    assert [message.text] == [e.answer for e in k.audit.entries]


@pytest.mark.parametrize("hostile", ["[a](", "![a](", "](", "<a:", "a.", "<!a", "[a](x "])
def test_output_built_to_make_the_rules_backtrack_is_cleaned_quickly(hostile: str) -> None:
    """Model output cannot stall the pipeline (and with it the audit record): 40,000 characters of
    near-links finish (``[a](`` x 10,000 took minutes before). Speeds: bench/hostile_text.py."""
    started = time.perf_counter()
    sanitize_answer(hostile * (40_000 // len(hostile)), ALLOW)
    assert time.perf_counter() - started < HANG_S


def test_a_long_line_in_many_pieces_streams_in_linear_time() -> None:
    """Thousands of pieces of one long line: each piece is looked at once, not the line again."""
    stream = CleanStream(ALLOW)
    started = time.perf_counter()
    shown = "".join(stream.feed(piece) for piece in ["締め日は毎月25日です、", "see handbook.md ", "evil.com "] * 2000)
    tail, final = stream.finish()
    assert time.perf_counter() - started < HANG_S
    assert final == shown + tail
    assert final.endswith("evil[.]com")
