"""Replies as Slack mrkdwn: escaped as Slack requires, links only where the core kept them, and
document titles and paths shown as words, never obeyed as markup, mentions or links."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

from bot.adapters.slack.render import SECTION_LIMIT, answer_messages
from bot.core.types import Citation, Reply
from policies import Decision
from tests.hang import HANG_S

pytestmark = pytest.mark.unit

# A "<" that opens anything but a link to a URL (a mention, a channel, a tag, a broadcast).
_OPENER = re.compile(r"<(?!(?:https?|ftp)://)", re.IGNORECASE)


def _reply(text: str, *citations: Citation) -> Reply:
    return Reply("answered", text, citations, Decision(True, "allowed", "allowed"), "a1", "ja")


def _texts(reply: Reply) -> list[dict[str, Any]]:
    """Every text object in the reply's messages, and each message's fallback text as one too."""
    found: list[dict[str, Any]] = []
    for fallback, blocks in answer_messages(reply):
        found.append({"type": "fallback", "text": fallback})
        for block in blocks:
            if "text" in block:
                found.append(block["text"])
            found.extend(e for e in block.get("elements", []) if e.get("type") == "mrkdwn")
    return found


def _sources_text(reply: Reply) -> str:
    [(_, blocks)] = answer_messages(reply)
    [context] = [b for b in blocks if b["type"] == "context"]
    return str(context["elements"][0]["text"])


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("A & B < C > D", "A &amp; B &lt; C &gt; D"),
        ("&lt;!channel&gt; のまま", "&amp;lt;!channel&amp;gt; のまま"),
        ("a < b <3 ＜!here>", "a &lt; b &lt;3 ＜!here&gt;"),
        (
            "[wiki](https://intranet.example.co.jp/a?x=1&y=2) を参照",
            "<https://intranet.example.co.jp/a?x=1&amp;y=2|wiki> を参照",
        ),
        (
            "<https://intranet.example.co.jp/a|社内 <wiki>> です",
            "<https://intranet.example.co.jp/a|社内 &lt;wiki>&gt; です",
        ),
        ("https://intranet.example.co.jp/a です", "<https://intranet.example.co.jp/a> です"),
        ("![図](https://intranet.example.co.jp/c.png)", "<https://intranet.example.co.jp/c.png|図>"),
        ("> 引用と *太字* はそのまま", "&gt; 引用と *太字* はそのまま"),
    ],
)
def test_answer_text_is_escaped_and_kept_links_are_slack_links(answer: str, expected: str) -> None:
    """``&``, ``<``, ``>`` are escaped; the links the core kept (to allowed hosts) become Slack links,
    since the text is verbatim and Slack links nothing by itself; the answer's own formatting stays."""
    [(fallback, blocks)] = answer_messages(_reply(answer))
    section = blocks[0]["text"]
    assert {"type": "mrkdwn", "text": expected, "verbatim": True} == section
    assert expected == fallback


@pytest.mark.parametrize(
    ("title", "source", "shown"),
    [
        ("<!channel> *URGENT*", "hr/urgent.md", "[1] ＠channel ＊URGENT＊ (`hr/urgent.md`)"),
        ("<https://evil.example/login|給与>", "hr/pay.md", "[1] 給与 (`hr/pay.md`)"),
        ("_社外秘_ ~取消~ `code`", "a`b<!here>.md", "[1] ＿社外秘＿ ～取消～ ｀code｀ (`a｀b＠here.md`)"),
        ("見出し\n> 引用\n<@U123>", "x.md", "[1] 見出し &gt; 引用 ＠U123 (`x.md`)"),
        ("A & B <b>", "docs/A&B.md", "[1] A &amp; B ＜b&gt; (`docs/A&amp;B.md`)"),
        (
            "ポータル evil.example.com/login",
            "handbook/経費精算.md",
            "[1] ポータル evil[.]example[.]com/login (`handbook/経費精算.md`)",
        ),
        ("\x1b[31m赤\x1b[0m\u202e", "p\x07.md", "[1] 赤 (`p.md`)"),
    ],
)
def test_titles_and_paths_are_shown_never_obeyed(title: str, source: str, shown: str) -> None:
    """A hostile document title or path renders inert: no mention, link, bold, italic, strike, code,
    quote, tag or control character comes alive."""
    text = _sources_text(_reply("回答 [1]", Citation(1, source, title)))
    assert f"*出典:* {shown}" == text


def test_no_text_object_opens_anything_but_a_kept_link() -> None:
    """Whatever the answer and titles hold, every text Slack receives is verbatim mrkdwn in which a
    ``<`` only ever opens a link the core kept."""
    hostile = "<!channel> <@U1> <#C1> <!subteam^S1> <at>x</at> <b> &<> [a](https://intranet.example.co.jp/) [1]"
    reply = _reply(hostile * 50, Citation(1, "<!here>.md", "<!channel>"), Citation(2, "<#C1>", "<@U1|x>"))
    for obj in _texts(reply):
        assert not _OPENER.search(obj["text"]), obj["text"][:200]
        assert obj["type"] == "fallback" or obj.get("verbatim") is True


def test_escaping_never_pushes_a_section_over_slacks_limit() -> None:
    """Escaping lengthens text (``&`` is five characters in mrkdwn): sections stay under the limit
    and say exactly the answer."""
    answer = "&<>" * 5000
    texts = [o["text"] for o in _texts(_reply(answer)) if o["type"] == "mrkdwn"]
    assert all(len(t) <= SECTION_LIMIT for t in texts)
    joined = "".join(texts).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    assert answer == joined


def test_many_sources_are_cut_at_a_whole_item() -> None:
    """A long list of sources stays under the limit and never ends in half an item (an open code
    span or a broken entity)."""
    citations = [Citation(i, f"dir/{'&' * 40}{i}.md", f"{'題' * 60}{i}") for i in range(1, 80)]
    text = _sources_text(_reply("回答", *citations))
    assert len(text) <= SECTION_LIMIT
    assert 0 == text.count("`") % 2
    assert text.endswith(".md`)")


def test_odd_text_renders_quickly() -> None:
    """Text built to make a link pattern backtrack does not stall the reply."""
    started = time.perf_counter()
    answer_messages(_reply("[a](https://intranet.example.co.jp/" * 2000))
    assert time.perf_counter() - started < HANG_S


def test_admin_replies_cannot_mention_or_link() -> None:
    """Admin replies echo paths, names and arguments: a path like ``<!channel>`` or ``<https://x|y>``
    reaches Slack escaped, so it neither notifies nor links."""
    from bot.adapters.slack.render import plain

    shown = plain("sources: hr/<!channel>.md, <https://evil.example|給与> & <@U123>")
    assert "<" not in shown
    assert ">" not in shown
    assert "&lt;!channel&gt;" in shown
    assert "&amp;" in shown
