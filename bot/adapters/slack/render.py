"""Kura's replies as Slack messages: text split under Slack's limits, sources, feedback buttons.

The text arrives sanitised by the core (no mentions, no links but to allowed hosts, host names
defanged); here it becomes mrkdwn: ``&``, ``<`` and ``>`` escaped as Slack requires, the links the
core kept written as Slack links, and every text object ``verbatim`` so that Slack adds no link,
mention or channel link of its own (it would make a link of ``handbook.md``: .md is a domain).
Document titles and paths are people's words, not markup: their mrkdwn characters are shown, not
obeyed.
"""

from __future__ import annotations

import re
from typing import Any

from bot.core.messages import say
from bot.core.sanitize import sanitize_label
from bot.core.types import Reply
from bot.errors import Language

__all__ = [
    "FEEDBACK_DOWN",
    "FEEDBACK_UP",
    "answer_messages",
    "mrkdwn",
    "placeholder",
    "plain",
    "sources_block",
    "split_text",
]

FEEDBACK_UP = "kura_feedback_up"
FEEDBACK_DOWN = "kura_feedback_down"
#: A section block's text limit is 3,000 characters; a message's fallback text is kept short too.
SECTION_LIMIT = 2900
#: Sections per message: under the 50-block limit and, at 2,900 characters each, under 40,000 characters.
BLOCKS_PER_MESSAGE = 12
FALLBACK_LIMIT = 3000

Block = dict[str, Any]

# The links the core left in an answer, all to allowed hosts: a Slack link, a Markdown link or
# image, a bare URL. Possessive and bounded, as the core's rules are: no backtracking on odd text.
_KEPT_LINK = re.compile(
    r"<((?:https?|ftp)://[^|>\s]{1,2048}+)(?:\|([^>\n]{0,1000}+))?>"
    r"|!?\[([^\]\n]{0,1000}+)\]\(((?:https?|ftp)://[^)\s]{1,2048}+)[^)\n]{0,1000}+\)"
    r"|((?:https?|ftp)://[^\s<>()\[\]|]++)",
    re.IGNORECASE,
)
# mrkdwn has no escape character: its formatting characters in a title are shown as their
# full-width forms, which read the same and format nothing.
_SHOWN = str.maketrans({"*": "＊", "_": "＿", "~": "～", "`": "｀"})


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def plain(text: str) -> str:
    """Kura's own words carrying people's data (admin replies: paths, names, arguments echoed):
    ``&``, ``<`` and ``>`` escaped, so nothing in them becomes a link, a mention or a broadcast."""
    return _escape(text)


def mrkdwn(text: str) -> str:
    """Sanitised answer text as mrkdwn: ``&``, ``<``, ``>`` escaped, the kept links as Slack links."""
    out: list[str] = []
    last = 0
    for m in _KEPT_LINK.finditer(text):
        out.append(_escape(text[last : m.start()]))
        url = m.group(1) or m.group(4) or m.group(5)
        label = m.group(2) if m.group(1) else m.group(3)
        out.append(f"<{_escape(url)}|{_escape(label)}>" if label else f"<{_escape(url)}>")
        last = m.end()
    out.append(_escape(text[last:]))
    return "".join(out)


def _text(text: str) -> Block:
    return {"type": "mrkdwn", "text": text, "verbatim": True}


def _plain_words(label: str) -> str:
    """A title for mrkdwn: one clean line whose mrkdwn characters show as themselves."""
    return _escape(sanitize_label(label)).translate(_SHOWN)


def _code_words(label: str) -> str:
    """A path for a mrkdwn code span (inside which only a backtick would mean anything)."""
    return _escape(sanitize_label(label)).replace("`", "｀")


def placeholder(language: Language) -> str:
    """The first visible sign that Kura is working."""
    return say("placeholder", language)


def split_text(text: str, limit: int = SECTION_LIMIT) -> list[str]:
    """Pieces of at most ``limit`` characters, cut at paragraph, line or sentence ends when possible."""
    pieces: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        window = rest[:limit]
        cut = max(window.rfind("\n\n"), window.rfind("\n"), window.rfind("。"), window.rfind(". "))
        cut = cut + 1 if cut > limit // 2 else limit
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        pieces.append(rest)
    return pieces


def sources_block(reply: Reply) -> Block | None:
    """A context block listing the cited documents."""
    if not reply.citations:
        return None
    text = f"*{say('sources', reply.language)}:*"
    for i, c in enumerate(reply.citations):
        path = _code_words(c.source)
        item = f"{' ·' if i else ''} [{c.number}] {_plain_words(c.title)}" + (f" (`{path}`)" if path else "")
        if len(text) + len(item) > SECTION_LIMIT:
            break  # whole items only: a cut could leave half an entity or an open code span
        text += item
    return {"type": "context", "elements": [_text(text)]}


def _sections(text: str, limit: int = SECTION_LIMIT) -> list[str]:
    """The answer as mrkdwn pieces of at most ``SECTION_LIMIT`` characters (escaping lengthens it)."""
    pieces: list[str] = []
    for piece in split_text(text, limit):
        shown = mrkdwn(piece)
        if len(shown) <= SECTION_LIMIT or len(piece) < 2:
            pieces.append(shown)
        else:
            pieces.extend(_sections(piece, max(1, len(piece) * SECTION_LIMIT // len(shown) - 1)))
    return pieces


def _feedback_block(audit_id: str, language: Language) -> Block:
    helpful, not_helpful = say("helpful", language), say("not_helpful", language)
    return {
        "type": "actions",
        "block_id": "kura_feedback",
        "elements": [
            {
                "type": "button",
                "action_id": FEEDBACK_UP,
                "value": audit_id,
                "text": {"type": "plain_text", "text": f"👍 {helpful}"},
            },
            {
                "type": "button",
                "action_id": FEEDBACK_DOWN,
                "value": audit_id,
                "text": {"type": "plain_text", "text": f"👎 {not_helpful}"},
            },
        ],
    }


def answer_messages(reply: Reply) -> list[tuple[str, list[Block]]]:
    """The reply as one or more (fallback text, blocks) messages; sources and buttons on the last."""
    sections: list[Block] = [{"type": "section", "text": _text(piece)} for piece in _sections(reply.text)] or [
        {"type": "section", "text": _text(" ")}
    ]
    tail: list[Block] = []
    block = sources_block(reply)
    if block is not None:
        tail.append(block)
    if reply.audit_id and reply.status == "answered":
        tail.append(_feedback_block(reply.audit_id, reply.language))
    messages: list[tuple[str, list[Block]]] = []
    for start in range(0, len(sections), BLOCKS_PER_MESSAGE):
        chunk = sections[start : start + BLOCKS_PER_MESSAGE]
        fallback = "\n".join(b["text"]["text"] for b in chunk)[:FALLBACK_LIMIT].strip() or "…"
        messages.append((fallback, chunk))
    last_text, last_blocks = messages[-1]
    messages[-1] = (last_text, last_blocks + tail)
    return messages
