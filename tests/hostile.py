"""Hostile model output for the sanitiser's tests: fragments the streaming fuzz tests join at
random, how a stream shows an answer cut into pieces, and what a live Slack/Teams mention looks
like."""

from __future__ import annotations

import re

from bot.core.sanitize import CleanStream

ALLOW = ("intranet.example.co.jp",)

#: A mention, broadcast or channel link that would still notify or link (a bare ``@word`` too).
LIVE_MENTION = re.compile(r"<[!@#]|<at\b|(?<![0-9A-Za-z_])@(?=[0-9A-Za-z_])", re.IGNORECASE)

FRAGMENTS = [
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
    # mentions, host names without a scheme, control characters (issue 12)
    "<!channel>",
    "<!here|here>",
    "<!subteam^S1|@team>",
    "<@U123>",
    "<#C1|general>",
    "<!date^1^{date}^https://evil.example|d>",
    "<at>Taro</at>",
    "<a href=",
    "@here",
    "@channel",
    "bob@example.co.jp",
    "user@",
    "＠",
    "<!",
    "chan",
    "nel>",
    "evil.com",
    "www.",
    ".com",
    "com",
    "md",
    "handbook.md",
    "docs/",
    "就業規則.pdf",
    "setup.py",
    "ｅｖｉｌ",
    "．",
    "ｃｏｍ",
    "。",
    "．ｃｏｍ",
    "𝐞𝐯𝐢𝐥",
    "?q",
    "#x",
    ":8080",
    "\\",
    "\x1b",
    "\x1b[31m",
    "\x1b]8;;https://evil.example\x1b\\",
    "\x9b",
    "\r",
    "\x0b",
    "\x1f",
    "\x85",
    "\x00",
    "&lt;",
    "&",
    "lt;",
    "&#x3c;!here>",
    "vpn01.sakura.internal",
    "intranet.example.co.jp",
    "evil.example.com/login",
    "[x]: ",
    "javascript:alert(1)",
    "  [ref]:",
]


def shown_pieces(answer: str, cuts: list[int]) -> tuple[list[str], str]:
    """What a transport shows when ``answer`` arrives cut at ``cuts``, and the final clean text."""
    stream = CleanStream(ALLOW)
    pieces, last = [], 0
    for cut in [*sorted(cuts), len(answer)]:
        pieces.append(stream.feed(answer[last:cut]))
        last = cut
    tail, final = stream.finish()
    pieces.append(tail)
    return pieces, final
